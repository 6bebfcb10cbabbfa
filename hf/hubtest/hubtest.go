// Package hubtest is the conformance suite for [hf.Hub] backends, in the
// manner of testing/fstest: [Run] exercises create, upload, model info,
// revision pinning, download into the cache layout, size limits, unsafe
// names and visibility against any backend. It also has helpers that build
// test models. Tests only.
package hubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
)

// File is a test file: a repo path and its content.
type File struct {
	Path string
	Data []byte
}

// UploadFiles turns test files into upload descriptors.
func UploadFiles(files []File) []hf.UploadFile {
	out := make([]hf.UploadFile, len(files))
	for i, f := range files {
		out[i] = hf.UploadFile{Path: f.Path, Size: int64(len(f.Data)), Content: bytes.NewReader(f.Data)}
	}
	return out
}

// RandomBytes returns n deterministic pseudo-random bytes for seed.
func RandomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Model returns a small multi-file model: config.json, a tokenizer file, a
// binary weights file of weightBytes bytes and a nested file.
func Model(seed uint64, weightBytes int) []File {
	return []File{
		{Path: "config.json", Data: []byte(fmt.Sprintf(`{"model_type": "llama", "hidden_size": 64, "seed": %d}`+"\n", seed))},
		{Path: "tokenizer.json", Data: []byte(`{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}}}` + "\n")},
		{Path: "model.safetensors", Data: RandomBytes(seed, weightBytes)},
		{Path: "extra/notes.txt", Data: []byte("nested file\n")},
		{Path: "empty.txt", Data: []byte{}},
	}
}

// CheckSnapshot compares the files under dir with want, byte for byte, and
// fails if dir holds anything else (for example a partial file).
func CheckSnapshot(t testing.TB, dir string, want []File) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("walk snapshot %q: %v", dir, err)
	}
	for _, f := range want {
		b, ok := got[f.Path]
		if !ok {
			t.Errorf("snapshot lacks %q", f.Path)
			continue
		}
		if !bytes.Equal(b, f.Data) {
			t.Errorf("snapshot file %q differs (%d bytes, want %d)", f.Path, len(b), len(f.Data))
		}
		delete(got, f.Path)
	}
	for p := range got {
		t.Errorf("snapshot has unexpected file %q", p)
	}
}

// CheckCacheLinks checks that every file of a snapshot folder of the
// Hugging Face cache is a relative symlink into the repo's blobs/ folder,
// named by the file's etag (checked by content).
func CheckCacheLinks(t testing.TB, snap string) {
	t.Helper()
	blobs := filepath.Join(filepath.Dir(filepath.Dir(snap)), "blobs")
	err := filepath.WalkDir(snap, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("snapshot entry %s is not a symlink: %v", p, err)
			return nil
		}
		abs := filepath.Join(filepath.Dir(p), target)
		if filepath.IsAbs(target) || filepath.Dir(abs) != blobs {
			t.Errorf("snapshot entry %s links to %s, not a relative path into %s", p, target, blobs)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk snapshot %q: %v", snap, err)
	}
}

// Backend is a fresh hub for one subtest.
type Backend struct {
	Hub hf.Hub
	// Namespace is where the suite may create repos.
	Namespace string
}

// Run runs the conformance suite. newBackend must return an empty hub each
// time it is called.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	ctx := context.Background()
	repoIn := func(t *testing.T, b Backend, name string) hf.RepoID {
		id, err := hf.ParseRepoID(b.Namespace + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Run("CreateUploadInfoDownload", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "tiny")
		if err := b.Hub.CreateRepo(ctx, repo, true); err != nil {
			t.Fatalf("CreateRepo: %v", err)
		}
		if err := b.Hub.CreateRepo(ctx, repo, true); !errors.Is(err, hf.ErrRepoExists) {
			t.Fatalf("CreateRepo twice: got %v, want ErrRepoExists", err)
		}
		files := Model(1, 3<<20+17)
		sha, err := b.Hub.Upload(ctx, repo, UploadFiles(files), "upload tiny", hf.UploadOptions{})
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		if !hf.IsCommitSHA(sha) {
			t.Fatalf("Upload returned %q, not a commit sha", sha)
		}
		info, err := b.Hub.ModelInfo(ctx, repo, "")
		if err != nil {
			t.Fatalf("ModelInfo(main): %v", err)
		}
		if info.SHA != sha || info.ID != repo || !info.Private {
			t.Fatalf("ModelInfo(main) = sha %q id %v private %v; want %q %v true", info.SHA, info.ID, info.Private, sha, repo)
		}
		var want int64
		for _, f := range files {
			fi, ok := info.File(f.Path)
			if !ok {
				t.Fatalf("ModelInfo lacks %q", f.Path)
			}
			if fi.Size != int64(len(f.Data)) {
				t.Errorf("ModelInfo size of %q = %d, want %d", f.Path, fi.Size, len(f.Data))
			}
			want += fi.Size
		}
		if big, _ := info.File("model.safetensors"); big.LFS == nil {
			t.Errorf("model.safetensors is not stored with LFS")
		}
		if cfg, _ := info.File("config.json"); cfg.LFS != nil {
			t.Errorf("config.json is stored with LFS")
		}
		if info.TotalSize() < want {
			t.Errorf("TotalSize %d < %d", info.TotalSize(), want)
		}
		byCommit, err := b.Hub.ModelInfo(ctx, repo, sha)
		if err != nil || byCommit.SHA != sha {
			t.Fatalf("ModelInfo(commit) = %v, %v", byCommit, err)
		}

		cache := t.TempDir()
		names := []string{"config.json", "model.safetensors", "tokenizer.json", "extra/notes.txt", "empty.txt"}
		snap, err := b.Hub.Download(ctx, repo, sha, names, cache, hf.DownloadOptions{})
		if err != nil {
			t.Fatalf("Download: %v", err)
		}
		if wantDir := filepath.Join(cache, "models--"+repo.Namespace+"--"+repo.Name, "snapshots", sha); snap != wantDir {
			t.Fatalf("Download dir = %q, want %q", snap, wantDir)
		}
		CheckSnapshot(t, snap, files)
		CheckCacheLinks(t, snap)
		// Downloading again is a no-op that keeps the files.
		if _, err := b.Hub.Download(ctx, repo, sha, names, cache, hf.DownloadOptions{}); err != nil {
			t.Fatalf("Download again: %v", err)
		}
		CheckSnapshot(t, snap, files)
	})

	t.Run("CommitsAreImmutable", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "immut")
		if err := b.Hub.CreateRepo(ctx, repo, false); err != nil {
			t.Fatal(err)
		}
		v1 := Model(2, 4096)
		sha1, err := b.Hub.Upload(ctx, repo, UploadFiles(v1), "v1", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v2 := Model(3, 4096)
		sha2, err := b.Hub.Upload(ctx, repo, UploadFiles(v2[:3]), "v2", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sha1 == sha2 {
			t.Fatalf("two different uploads gave the same commit %q", sha1)
		}
		if _, err := b.Hub.Upload(ctx, repo, UploadFiles(v2[:1]), "stale", hf.UploadOptions{ParentCommit: sha1}); !errors.Is(err, hf.ErrConflict) {
			t.Fatalf("Upload with stale parent: got %v, want ErrConflict", err)
		}
		info, err := b.Hub.ModelInfo(ctx, repo, hf.DefaultRevision)
		if err != nil || info.SHA != sha2 {
			t.Fatalf("main = %v, %v; want %q", info, err, sha2)
		}
		cache := t.TempDir()
		names := []string{"config.json", "tokenizer.json", "model.safetensors"}
		snap1, err := b.Hub.Download(ctx, repo, sha1, names, cache, hf.DownloadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		CheckSnapshot(t, snap1, v1[:3])
		snap2, err := b.Hub.Download(ctx, repo, sha2, names, cache, hf.DownloadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		CheckSnapshot(t, snap2, v2[:3])
		// Files not in the second upload are kept from the first.
		info2, _ := b.Hub.ModelInfo(ctx, repo, sha2)
		if _, ok := info2.File("extra/notes.txt"); !ok {
			t.Errorf("file of the parent commit lost in the child")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "missing")
		if _, err := b.Hub.ModelInfo(ctx, repo, ""); !errors.Is(err, hf.ErrRepoNotFound) {
			t.Errorf("ModelInfo(missing repo): got %v, want ErrRepoNotFound", err)
		}
		if err := b.Hub.SetVisibility(ctx, repo, true); !errors.Is(err, hf.ErrRepoNotFound) {
			t.Errorf("SetVisibility(missing repo): got %v, want ErrRepoNotFound", err)
		}
		if err := b.Hub.CreateRepo(ctx, repo, false); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Hub.ModelInfo(ctx, repo, strings.Repeat("ab", 20)); !errors.Is(err, hf.ErrRevisionNotFound) {
			t.Errorf("ModelInfo(unknown commit): got %v, want ErrRevisionNotFound", err)
		}
		sha, err := b.Hub.Upload(ctx, repo, UploadFiles(Model(4, 100)), "m", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cache := t.TempDir()
		if _, err := b.Hub.Download(ctx, repo, sha, []string{"nope.bin"}, cache, hf.DownloadOptions{}); !errors.Is(err, hf.ErrEntryNotFound) {
			t.Errorf("Download(missing file): got %v, want ErrEntryNotFound", err)
		}
		snap, err := b.Hub.Download(ctx, repo, sha, []string{"config.json", "nope.bin"}, cache, hf.DownloadOptions{SkipMissing: true})
		if err != nil {
			t.Fatalf("Download(SkipMissing): %v", err)
		}
		CheckSnapshot(t, snap, Model(4, 100)[:1])
	})

	t.Run("SizeLimit", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "big")
		if err := b.Hub.CreateRepo(ctx, repo, false); err != nil {
			t.Fatal(err)
		}
		files := Model(5, 200_000)
		sha, err := b.Hub.Upload(ctx, repo, UploadFiles(files), "m", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cache := t.TempDir()
		_, err = b.Hub.Download(ctx, repo, sha, nil, cache, hf.DownloadOptions{MaxTotalSize: 100_000})
		if !errors.Is(err, hf.ErrTooLarge) {
			t.Fatalf("Download over the limit: got %v, want ErrTooLarge", err)
		}
		if entries, _ := os.ReadDir(cache); len(entries) != 0 {
			t.Fatalf("refused download wrote %d entries into the cache", len(entries))
		}
		if _, err := b.Hub.Download(ctx, repo, sha, nil, cache, hf.DownloadOptions{MaxTotalSize: 10 << 20}); err != nil {
			t.Fatalf("Download under the limit: %v", err)
		}
	})

	t.Run("UnsafeUploadNames", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "unsafe")
		if err := b.Hub.CreateRepo(ctx, repo, false); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"../x", "/etc/passwd", "a/../../b", "a//b", ".git/config", "a\\b"} {
			_, err := b.Hub.Upload(ctx, repo, UploadFiles([]File{{Path: name, Data: []byte("x")}}), "bad", hf.UploadOptions{})
			if !errors.Is(err, hf.ErrUnsafePath) {
				t.Errorf("Upload(%q): got %v, want ErrUnsafePath", name, err)
			}
		}
	})

	t.Run("Visibility", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "vis")
		if err := b.Hub.CreateRepo(ctx, repo, true); err != nil {
			t.Fatal(err)
		}
		for _, private := range []bool{false, true, false} {
			if err := b.Hub.SetVisibility(ctx, repo, private); err != nil {
				t.Fatalf("SetVisibility(%v): %v", private, err)
			}
			info, err := b.Hub.ModelInfo(ctx, repo, "")
			if err != nil {
				t.Fatal(err)
			}
			if info.Private != private {
				t.Fatalf("after SetVisibility(%v): Private = %v", private, info.Private)
			}
		}
	})

	t.Run("ManyFilesAndProgress", func(t *testing.T) {
		b := newBackend(t)
		repo := repoIn(t, b, "many")
		if err := b.Hub.CreateRepo(ctx, repo, false); err != nil {
			t.Fatal(err)
		}
		var files []File
		for i := 0; i < 40; i++ {
			files = append(files, File{Path: fmt.Sprintf("shard-%02d.bin", i), Data: RandomBytes(uint64(100+i), 1000+i)})
		}
		sha, err := b.Hub.Upload(ctx, repo, UploadFiles(files), "many", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done := map[string]bool{}
		var mu = make(chan struct{}, 1)
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = f.Path
		}
		snap, err := b.Hub.Download(ctx, repo, sha, names, t.TempDir(), hf.DownloadOptions{Progress: func(p hf.Progress) {
			mu <- struct{}{}
			if p.Done == p.Total {
				done[p.Path] = true
			}
			<-mu
		}})
		if err != nil {
			t.Fatal(err)
		}
		CheckSnapshot(t, snap, files)
		var got []string
		for p := range done {
			got = append(got, p)
		}
		sort.Strings(got)
		if len(got) != len(files) {
			t.Errorf("progress reported %d completed files, want %d", len(got), len(files))
		}
	})
	t.Run("DatasetRepo", func(t *testing.T) { runDataset(t, newBackend(t)) })
}

// Dataset returns a small dataset repo laid out like fineweb-edu: parquet-named
// shards in dump folders and a README.
func Dataset(seed uint64) []File {
	return []File{
		{Path: "README.md", Data: []byte("# test dataset\n")},
		{Path: "data/CC-MAIN-2024-10/000_00000.parquet", Data: RandomBytes(seed, 70_000)},
		{Path: "data/CC-MAIN-2024-10/001_00000.parquet", Data: RandomBytes(seed+1, 5_000)},
		{Path: "data/CC-MAIN-2024-18/000_00000.parquet", Data: RandomBytes(seed+2, 3_000)},
	}
}

// runDataset checks that a dataset repo is its own repo, apart from a model
// repo of the same namespace and name, and downloads into datasets--ns--name.
func runDataset(t *testing.T, b Backend) {
	ctx := context.Background()
	ds, err := hf.ParseRepo("datasets/" + b.Namespace + "/corpus")
	if err != nil {
		t.Fatal(err)
	}
	model := hf.RepoID{Namespace: ds.Namespace, Name: ds.Name}
	if err := b.Hub.CreateRepo(ctx, ds, false); err != nil {
		t.Fatalf("CreateRepo(dataset): %v", err)
	}
	if _, err := b.Hub.ModelInfo(ctx, model, ""); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Fatalf("model of the dataset's name before it was created: got %v, want ErrRepoNotFound", err)
	}
	if err := b.Hub.CreateRepo(ctx, model, false); err != nil {
		t.Fatalf("CreateRepo(model of the same name): %v", err)
	}
	if err := b.Hub.CreateRepo(ctx, ds, false); !errors.Is(err, hf.ErrRepoExists) {
		t.Fatalf("CreateRepo(dataset) twice: got %v, want ErrRepoExists", err)
	}
	files := Dataset(7)
	sha, err := b.Hub.Upload(ctx, ds, UploadFiles(files), "add shards", hf.UploadOptions{})
	if err != nil {
		t.Fatalf("Upload(dataset): %v", err)
	}
	mfiles := Model(8, 1000)
	msha, err := b.Hub.Upload(ctx, model, UploadFiles(mfiles), "add model", hf.UploadOptions{})
	if err != nil {
		t.Fatalf("Upload(model): %v", err)
	}
	info, err := b.Hub.ModelInfo(ctx, ds, "")
	if err != nil {
		t.Fatalf("ModelInfo(dataset): %v", err)
	}
	if info.SHA != sha || info.ID != ds || len(info.Files) < len(files) {
		t.Fatalf("ModelInfo(dataset) = sha %q id %+v %d files; want %q %+v %d", info.SHA, info.ID, len(info.Files), sha, ds, len(files))
	}
	for _, f := range files {
		if fi, ok := info.File(f.Path); !ok || fi.Size != int64(len(f.Data)) {
			t.Errorf("dataset file %q: %+v, %v", f.Path, fi, ok)
		}
	}
	if _, ok := info.File("config.json"); ok {
		t.Errorf("dataset lists the model's config.json")
	}
	minfo, err := b.Hub.ModelInfo(ctx, model, "")
	if err != nil || minfo.SHA != msha {
		t.Fatalf("ModelInfo(model of the same name) = %+v, %v; want commit %q", minfo, err, msha)
	}
	if _, ok := minfo.File(files[1].Path); ok {
		t.Errorf("model lists the dataset's shard")
	}
	cache := t.TempDir()
	names := []string{files[1].Path, files[3].Path}
	snap, err := b.Hub.Download(ctx, ds, sha, names, cache, hf.DownloadOptions{})
	if err != nil {
		t.Fatalf("Download(dataset): %v", err)
	}
	if want := filepath.Join(cache, "datasets--"+ds.Namespace+"--"+ds.Name, "snapshots", sha); snap != want {
		t.Fatalf("Download(dataset) dir = %q, want %q", snap, want)
	}
	CheckSnapshot(t, snap, []File{files[1], files[3]})
	CheckCacheLinks(t, snap)
	if err := b.Hub.SetVisibility(ctx, ds, true); err != nil {
		t.Fatalf("SetVisibility(dataset): %v", err)
	}
	if info, err := b.Hub.ModelInfo(ctx, ds, sha); err != nil || !info.Private {
		t.Fatalf("dataset after SetVisibility(true) = %+v, %v", info, err)
	}
	if minfo, err := b.Hub.ModelInfo(ctx, model, ""); err != nil || minfo.Private {
		t.Fatalf("SetVisibility on the dataset changed the model: %+v, %v", minfo, err)
	}
}
