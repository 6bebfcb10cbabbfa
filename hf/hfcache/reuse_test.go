package hfcache

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/hf"
)

func isLinkTo(t *testing.T, entry, target string) {
	t.Helper()
	st, err := os.Lstat(entry)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("%s is not a symlink (%v)", entry, err)
	}
	if got, _ := os.Readlink(entry); got != target {
		t.Fatalf("%s -> %s, want %s", entry, got, target)
	}
}

func TestPlaceReusesTheCache(t *testing.T) {
	ctx := context.Background()
	files := testFiles()
	big := files[1]
	for _, tc := range []struct {
		name      string
		prepare   func(t *testing.T, r *Repo)
		wantCalls int
	}{
		{name: "empty cache", prepare: func(*testing.T, *Repo) {}, wantCalls: 1},
		{name: "linked already", prepare: func(t *testing.T, r *Repo) { placeAll(t, r, commitA, files[1:2]) }, wantCalls: 0},
		{name: "blob of another commit", prepare: func(t *testing.T, r *Repo) { placeAll(t, r, commitB, files[1:2]) }, wantCalls: 0},
		{name: "corrupt blob", prepare: func(t *testing.T, r *Repo) {
			placeAll(t, r, commitB, files[1:2])
			os.WriteFile(r.BlobPath(big.f.ETag), bytes.Repeat([]byte{9}, len(big.data)), 0o644)
		}, wantCalls: 1},
		{name: "dangling link", prepare: func(t *testing.T, r *Repo) {
			placeAll(t, r, commitA, files[1:2])
			os.Remove(r.BlobPath(big.f.ETag))
		}, wantCalls: 1},
		{name: "link to another blob", prepare: func(t *testing.T, r *Repo) {
			placeAll(t, r, commitA, files[0:1])
			os.MkdirAll(r.SnapshotDir(commitA), 0o755)
			os.Symlink(LinkTarget("config.json", files[0].f.ETag), r.entryPath(commitA, big.f.Path))
		}, wantCalls: 1},
		{name: "plain file of an older coldint", prepare: func(t *testing.T, r *Repo) {
			os.MkdirAll(r.SnapshotDir(commitA), 0o755)
			os.WriteFile(r.entryPath(commitA, big.f.Path), big.data, 0o600)
		}, wantCalls: 0},
		{name: "wrong plain file", prepare: func(t *testing.T, r *Repo) {
			os.MkdirAll(r.SnapshotDir(commitA), 0o755)
			os.WriteFile(r.entryPath(commitA, big.f.Path), []byte("stale"), 0o600)
		}, wantCalls: 1},
		{name: "complete .incomplete left by a cut run", prepare: func(t *testing.T, r *Repo) {
			os.MkdirAll(filepath.Dir(r.BlobPath(big.f.ETag)), 0o755)
			os.WriteFile(r.IncompletePath(big.f.ETag), big.data, 0o644)
		}, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withUmask(t, 0o022)
			r := OpenModel(t.TempDir(), testRepo)
			tc.prepare(t, r)
			fe := &fetcher{data: map[string][]byte{big.f.ETag: big.data}}
			fetched, err := r.Place(ctx, commitA, big.f, fe.fetch(big.f.ETag))
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if fe.calls != tc.wantCalls || fetched != (tc.wantCalls > 0) {
				t.Errorf("fetch ran %d times (fetched %v), want %d", fe.calls, fetched, tc.wantCalls)
			}
			entry := r.entryPath(commitA, big.f.Path)
			isLinkTo(t, entry, "../../blobs/"+big.f.ETag)
			if b, err := os.ReadFile(entry); err != nil || !bytes.Equal(b, big.data) {
				t.Errorf("entry content wrong (%v)", err)
			}
			st, _ := os.Stat(r.BlobPath(big.f.ETag))
			if st.Mode().Perm() != 0o644 {
				t.Errorf("blob mode %04o, want 0644", st.Mode().Perm())
			}
			if _, err := os.Lstat(r.IncompletePath(big.f.ETag)); err == nil {
				t.Errorf(".incomplete left behind")
			}
		})
	}
}

func TestPlaceRefusesWrongBytes(t *testing.T) {
	big := testFiles()[1]
	for _, bad := range []int{1, 2} {
		r := OpenModel(t.TempDir(), testRepo)
		fe := &fetcher{data: map[string][]byte{big.f.ETag: big.data}, bad: bad}
		_, err := r.Place(context.Background(), commitA, big.f, fe.fetch(big.f.ETag))
		if fe.calls != 2 {
			t.Errorf("bad=%d: fetch ran %d times, want 2 (one retry from scratch)", bad, fe.calls)
		}
		if bad == 1 && err != nil {
			t.Errorf("bad=%d: Place: %v", bad, err)
		}
		if bad == 2 {
			if !errors.Is(err, hf.ErrIntegrity) {
				t.Errorf("bad=%d: Place error %v, want ErrIntegrity", bad, err)
			}
			if _, err := os.Lstat(r.BlobPath(big.f.ETag)); err == nil {
				t.Errorf("a wrong blob entered blobs/")
			}
			if _, err := os.Lstat(r.entryPath(commitA, big.f.Path)); err == nil {
				t.Errorf("a snapshot entry was made for a wrong blob")
			}
		}
	}
}

func TestPlaceRefusesBadNames(t *testing.T) {
	r := OpenModel(t.TempDir(), testRepo)
	fe := &fetcher{data: map[string][]byte{}}
	good := testFiles()[0].f
	for _, tc := range []struct {
		commit string
		f      File
	}{
		{"main", good},
		{commitA, File{Path: "../escape", ETag: good.ETag, Size: 1}},
		{commitA, File{Path: "ok.txt", ETag: "../../x", Size: 1}},
		{commitA, File{Path: "ok.txt", ETag: "", Size: 1}},
	} {
		if _, err := r.Place(context.Background(), tc.commit, tc.f, fe.fetch(tc.f.ETag)); err == nil {
			t.Errorf("Place(%q, %+v) succeeded", tc.commit, tc.f)
		}
	}
	if fe.calls != 0 {
		t.Errorf("fetch ran for a refused name")
	}
	if _, err := os.Stat(r.Dir()); err == nil {
		t.Errorf("refused names created %s", r.Dir())
	}
}

// TestPlaceWithoutSymlinks: where the file system refuses links, entries
// are full copies, checked and kept on the next download.
func TestPlaceWithoutSymlinks(t *testing.T) {
	defer func(old func(string, string) error) { symlink = old }(symlink)
	symlink = func(string, string) error { return &os.LinkError{Op: "symlink", Err: fs.ErrPermission} }
	r := OpenModel(t.TempDir(), testRepo)
	big := testFiles()[1]
	fe := &fetcher{data: map[string][]byte{big.f.ETag: big.data}}
	for round, wantCalls := range []int{1, 1} { // the second round fetches nothing more
		if _, err := r.Place(context.Background(), commitA, big.f, fe.fetch(big.f.ETag)); err != nil {
			t.Fatalf("round %d: Place: %v", round, err)
		}
		entry := r.entryPath(commitA, big.f.Path)
		st, err := os.Lstat(entry)
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("round %d: entry is not a plain file: %v", round, err)
		}
		if err := big.f.Verify(entry); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if fe.calls != wantCalls {
			t.Errorf("round %d: fetch ran %d times in all, want %d", round, fe.calls, wantCalls)
		}
	}
	if err := big.f.Verify(r.BlobPath(big.f.ETag)); err != nil {
		t.Errorf("the blob is not kept for other commits: %v", err)
	}
}
