package data

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

const hubTestToken = "hf_stream_test_token_42"

// publishDataset starts `coldint hub serve`'s server on 127.0.0.1 and
// uploads shards laid out like FineWeb-edu (data/CC-MAIN-*/NNN_00000.parquet)
// plus files the glob must leave out. It returns a client, the repo, the
// documents in stream order and the largest shard's size.
func publishDataset(t *testing.T) (*hub.Client, hf.RepoID, []string, int64) {
	t.Helper()
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HOME", t.TempDir())
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{hubTestToken}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	client, err := hub.New(hub.WithEndpoint(ts.URL), hub.WithToken(hubTestToken), hub.WithBackoff(time.Millisecond, 5*time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A dataset repo, as HuggingFaceFW/fineweb-edu is on the Hub.
	repo := hf.RepoID{Namespace: "tester", Name: "fineweb-mini", Type: hf.DatasetRepo}
	if err := client.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	var files []hubtest.File
	var all []string
	var largest int64
	for i, dump := range []string{"CC-MAIN-2024-10", "CC-MAIN-2024-10", "CC-MAIN-2024-18", "CC-MAIN-2024-18", "CC-MAIN-2024-22", "CC-MAIN-2024-33"} {
		var docs []string
		for j := 0; j < 20+i*4; j++ {
			// Random bytes keep zstd from shrinking the shards below the budget.
			docs = append(docs, fmt.Sprintf("%s #%d.%d ", dump, i, j)+base64.StdEncoding.EncodeToString(hubtest.RandomBytes(uint64(i*1000+j), 3000+j*50)))
		}
		p := filepath.Join(src, fmt.Sprint(i))
		writeGoShard(t, p, docs, int64(6+i))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, int64(len(b)))
		files = append(files, hubtest.File{Path: fmt.Sprintf("data/%s/%03d_00000.parquet", dump, i%2), Data: b})
		all = append(all, docs...)
	}
	files = append(files,
		hubtest.File{Path: "README.md", Data: []byte("# mini fineweb\n")},
		hubtest.File{Path: "sample/10BT/000_00000.parquet", Data: files[0].Data})
	if _, err := client.Upload(ctx, repo, hubtest.UploadFiles(files), "add shards", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	return client, repo, all, largest
}

// diskUse sums the sizes of the files under dir, each inode once (a file
// renamed from one folder to another while the walk runs is seen twice).
func diskUse(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					if seen[st.Ino] {
						return nil
					}
					seen[st.Ino] = true
				}
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// watchDisk samples the disk use of dir until stop is called and returns
// the largest value seen.
func watchDisk(dir string) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			peak.Store(max(peak.Load(), diskUse(dir)))
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() int64 { close(done); wg.Wait(); return peak.Load() }
}

func TestStreamFromHubServeWithinDiskBudget(t *testing.T) {
	client, repo, want, largest := publishDataset(t)
	ctx := context.Background()
	const glob = "data/CC-MAIN-*/*.parquet"
	// The shards are in a dataset repo: no model repo has that name.
	ms, err := OpenShardStore(ctx, "models/"+repo.Bare(), client, glob)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ms.List(ctx); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Fatalf("listing the model repo %q: error %v, want ErrRepoNotFound", repo.Bare(), err)
	}
	for _, budget := range []int64{largest + ShardOverhead, 2*largest + 2*ShardOverhead + 1} {
		t.Run(fmt.Sprintf("budget %d", budget), func(t *testing.T) {
			store, err := OpenShardStore(ctx, "datasets/tester/fineweb-mini", client, glob)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			var switches []int
			var atSwitch []int64
			opts := StreamOptions{TempDir: tmp, DiskBudget: budget}
			var cur *Stream
			opts.onShard = func(i int) {
				// Let the shard fetched ahead land first: the disk then holds
				// all it will hold until the next switch.
				if cur.ahead != nil {
					<-cur.ahead.done
				}
				switches = append(switches, i)
				atSwitch = append(atSwitch, diskUse(tmp))
			}
			s, err := OpenStream(ctx, store, opts)
			if err != nil {
				t.Fatal(err)
			}
			cur = s
			var total int64
			for _, sh := range s.Shards() {
				total += sh.Size
			}
			if len(s.Shards()) != 6 || total <= budget {
				t.Fatalf("%d shards of %d bytes in all: the test needs 6 and more than the budget %d", len(s.Shards()), total, budget)
			}
			stop := watchDisk(tmp)
			half := readN(t, s, len(want)/2+3)
			cp := roundTrip(t, s.Checkpoint())
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := diskUse(tmp); n != 0 {
				t.Fatalf("%d bytes left in the temp folder after Close", n)
			}
			// Resume at the commit the checkpoint names, as a trainer restarted later would.
			// The bare form names the same dataset repo.
			store2, err := OpenShardStore(ctx, "tester/fineweb-mini@"+cp.Commit, client, glob)
			if err != nil {
				t.Fatal(err)
			}
			opts.Resume = cp
			s2, err := OpenStream(ctx, store2, opts)
			if err != nil {
				t.Fatal(err)
			}
			cur = s2
			defer s2.Close()
			rest := readN(t, s2, -1)
			peak := stop()
			fitsTwo := budget >= 2*largest+2*ShardOverhead
			if ahead := s.prefetched + s2.prefetched; fitsTwo != (ahead > 0) {
				t.Errorf("%d shards fetched ahead; budget fits two shards: %v", ahead, fitsTwo)
			}
			equalStrings(t, "streamed from the hub", append(texts(half), texts(rest)...), want)
			if len(switches) < 7 {
				t.Fatalf("shard switches %v: want every shard opened (and the resumed one again)", switches)
			}
			for i, n := range atSwitch {
				if n > budget {
					t.Errorf("at switch to shard %d: %d bytes on disk, budget %d", switches[i], n, budget)
				}
			}
			if peak > budget {
				t.Errorf("disk use peaked at %d bytes, budget %d", peak, budget)
			}
			t.Logf("shards %v, disk at switches %v, peak %d of budget %d (total %d)", switches, atSwitch, peak, budget, total)
		})
	}
}

func TestStreamFromHubRefusesMovedBranchAndBigShards(t *testing.T) {
	client, repo, _, largest := publishDataset(t)
	ctx := context.Background()
	store := &HubShards{Hub: client, Repo: repo}
	if _, err := OpenStream(ctx, store, StreamOptions{DiskBudget: largest}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk budget")) {
		t.Fatalf("a budget below the largest shard: error %v", err)
	}
	s, err := OpenStream(ctx, store, StreamOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Shards()); n != 7 {
		t.Fatalf("default glob selected %d shards, want every .parquet file (7)", n)
	}
	readN(t, s, 5)
	cp := s.Checkpoint()
	s.Close()
	if _, err := client.Upload(ctx, repo, hubtest.UploadFiles([]hubtest.File{{Path: "README.md", Data: []byte("moved")}}), "move main", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStream(ctx, store, StreamOptions{Resume: &cp}); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("resume on a moved branch: error %v, want ErrCheckpoint", err)
	}
	pinned := &HubShards{Hub: client, Repo: repo, Revision: cp.Commit}
	s2, err := OpenStream(ctx, pinned, StreamOptions{Resume: &cp, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if d, err := s2.Next(ctx); err != nil || d.Pos.Compare(Position{Shard: 0, RowGroup: 0, Row: 5}) != 0 {
		t.Fatalf("resumed at %v (%v), want shard 0 row 5", d.Pos, err)
	}
	if _, err := OpenStream(ctx, &HubShards{Hub: client, Repo: repo, Glob: "nothing/*.parquet"}, StreamOptions{}); err == nil {
		t.Fatal("a glob matching nothing was accepted")
	}
}
