package eval

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hfcache"
)

// TestCleanupInSharedCache runs the disk cleanup on a model folder that is
// a Hugging Face cache shared with other tools: only the snapshots the
// validator downloaded (or plain-file ones of older coldint versions) go,
// and a blob goes only when no remaining snapshot links it.
func TestCleanupInSharedCache(t *testing.T) {
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ann := hf.RepoID{Namespace: "ann", Name: "m"}
	other := hf.RepoID{Namespace: "other", Name: "tool"}
	upload := func(repo hf.RepoID, files map[string]string) string {
		var up []hf.UploadFile
		for p, s := range files {
			up = append(up, hf.UploadFile{Path: p, Size: int64(len(s)), Content: bytes.NewReader([]byte(s))})
		}
		sha, err := dh.Upload(ctx, repo, up, "x", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	for _, r := range []hf.RepoID{ann, other} {
		if err := dh.CreateRepo(ctx, r, false); err != nil {
			t.Fatal(err)
		}
	}
	shared := "shared by both commits"
	v1 := upload(ann, map[string]string{"shared.txt": shared, "model.safetensors": "weights one"})
	v2 := upload(ann, map[string]string{"shared.txt": shared, "model.safetensors": "weights two, longer"})
	o1 := upload(other, map[string]string{"model.safetensors": "someone else's model"})

	cache := t.TempDir()
	download := func(repo hf.RepoID, sha string, byValidator bool) string {
		if byValidator {
			if err := markDownload(cache, repo, sha); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := dh.Download(ctx, repo, sha, nil, cache, hf.DownloadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	snapV1 := download(ann, v1, true)    // the validator's, stale
	snapV2 := download(ann, v2, false)   // another tool's, same repo
	snapO1 := download(other, o1, false) // another tool's
	legacy := SnapshotDir(cache, hf.RepoID{Namespace: "old", Name: "gone"}, v1)
	os.MkdirAll(legacy, 0o755)
	os.WriteFile(filepath.Join(legacy, "model.safetensors"), make([]byte, 1000), 0o600)

	v := &Validator{
		opts: Options{ModelDir: cache, StoreSizeGB: 1e-9,
			FreeDisk: func(string) (int64, error) { return 1 << 40, nil },
			Now:      func() time.Time { return time.Now().Add(time.Hour) }},
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		state: &ValidatorState{},
	}
	v.cleanModels()

	for _, tc := range []struct {
		dir  string
		want bool
	}{{snapV1, false}, {legacy, false}, {snapV2, true}, {snapO1, true}} {
		if _, err := os.Stat(tc.dir); (err == nil) != tc.want {
			t.Errorf("%s present %v, want %v", tc.dir, err == nil, tc.want)
		}
	}
	info1, _ := dh.ModelInfo(ctx, ann, v1)
	rc := hfcache.OpenModel(cache, ann)
	for _, f := range info1.Files {
		_, err := os.Stat(rc.BlobPath(f.ETag()))
		if onlyV1 := f.Path == "model.safetensors"; (err == nil) == onlyV1 {
			t.Errorf("blob of v1's %q present %v, want %v", f.Path, err == nil, !onlyV1)
		}
	}
	for _, p := range []string{"shared.txt", "model.safetensors"} {
		if b, err := os.ReadFile(filepath.Join(snapV2, p)); err != nil || len(b) == 0 {
			t.Errorf("another tool's snapshot lost %q: %v", p, err)
		}
	}
	if _, err := os.Stat(downloadMark(cache, ann, v1)); err == nil {
		t.Errorf("the download mark of the deleted snapshot is still there")
	}
}
