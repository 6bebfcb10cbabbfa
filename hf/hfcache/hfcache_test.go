package hfcache

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testRepo = hf.RepoID{Namespace: "tester", Name: "tiny"}

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// lfsFile and gitFile describe content the way the Hub would: the sha256 for
// LFS files, the git blob sha1 for regular ones.
func lfsFile(p string, data []byte) File {
	s := sha256.Sum256(data)
	return File{Path: p, ETag: hex.EncodeToString(s[:]), Size: int64(len(data))}
}

func gitFile(p string, data []byte) File {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return File{Path: p, ETag: hex.EncodeToString(h.Sum(nil)), Size: int64(len(data))}
}

// fetcher serves contents by etag and counts the calls.
type fetcher struct {
	data  map[string][]byte
	calls int
	bad   int // the first bad calls write wrong bytes
}

func (f *fetcher) fetch(etag string) Fetch {
	return func(_ context.Context, partial string) error {
		f.calls++
		b := f.data[etag]
		if f.bad > 0 {
			f.bad--
			b = append([]byte("X"), b[1:]...)
		}
		return os.WriteFile(partial, b, 0o666)
	}
}

type testFile struct {
	f    File
	data []byte
}

func testFiles() []testFile {
	cfg := []byte(`{"model_type": "llama"}` + "\n")
	weights := bytes.Repeat([]byte{1, 2, 3, 4}, 1000)
	notes := []byte("nested file\n")
	return []testFile{
		{gitFile("config.json", cfg), cfg},
		{lfsFile("model.safetensors", weights), weights},
		{gitFile("extra/deep/notes.txt", notes), notes},
	}
}

func placeAll(t *testing.T, r *Repo, commit string, files []testFile) *fetcher {
	t.Helper()
	fe := &fetcher{data: map[string][]byte{}}
	for _, tf := range files {
		fe.data[tf.f.ETag] = tf.data
	}
	for _, tf := range files {
		if _, err := r.Place(context.Background(), commit, tf.f, fe.fetch(tf.f.ETag)); err != nil {
			t.Fatalf("Place %q: %v", tf.f.Path, err)
		}
	}
	return fe
}

// listTree writes one line per entry under root: kind, mode, path, and the
// link target or size.
func listTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			lines = append(lines, fmt.Sprintf("l %s -> %s", filepath.ToSlash(rel), target))
		case st.IsDir():
			lines = append(lines, fmt.Sprintf("d %04o %s/", st.Mode().Perm(), filepath.ToSlash(rel)))
		default:
			lines = append(lines, fmt.Sprintf("f %04o %s (%d bytes)", st.Mode().Perm(), filepath.ToSlash(rel), st.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestLayoutGolden documents the layout that huggingface_hub describes in
// its cache guide: blobs named by etag, relative symlinks from snapshots/,
// a ref without newline, a .no_exist marker and the .locks folder, with
// the modes of umask 022.
func TestLayoutGolden(t *testing.T) {
	withUmask(t, 0o022)
	cache := t.TempDir()
	r := OpenModel(cache, testRepo)
	placeAll(t, r, commitA, testFiles())
	info := &hf.ModelInfo{ID: testRepo, SHA: commitA}
	for _, tf := range testFiles() {
		info.Files = append(info.Files, hf.FileInfo{Path: tf.f.Path, Size: tf.f.Size})
	}
	if err := r.RecordDownload(info, []string{"config.json", "tokenizer.model", "extra"}, "main"); err != nil {
		t.Fatal(err)
	}
	got := listTree(t, cache)
	ref, _ := os.ReadFile(filepath.Join(r.Dir(), "refs", "main"))
	got += "refs/main content: " + fmt.Sprintf("%q", ref) + "\n"
	golden := filepath.Join("testdata", "layout.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("cache tree differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
	}
	// Every entry reads back as its content.
	for _, tf := range testFiles() {
		b, err := os.ReadFile(filepath.Join(r.SnapshotDir(commitA), tf.f.Path))
		if err != nil || !bytes.Equal(b, tf.data) {
			t.Errorf("read %q through the link: %v", tf.f.Path, err)
		}
	}
}
