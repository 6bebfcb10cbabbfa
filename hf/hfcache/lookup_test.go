package hfcache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	r := OpenModel(t.TempDir(), testRepo)
	files := testFiles()
	placeAll(t, r, commitA, files)
	if err := r.WriteRef("main", commitA); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteRef("refs/pr/1", commitA); err != nil {
		t.Fatal(err)
	}
	if err := r.MarkMissing(commitA, "tokenizer.model"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(r.Dir(), "refs"), 0o755)
	os.WriteFile(filepath.Join(r.Dir(), "refs", "broken"), []byte("not a sha"), 0o644)
	os.WriteFile(filepath.Join(r.Dir(), "refs", "handmade"), []byte(commitA+"\n"), 0o644)
	for _, tc := range []struct {
		rev, path  string
		want       Status
		wantCommit string
		wantErr    bool
	}{
		{rev: commitA, path: "config.json", want: Cached, wantCommit: commitA},
		{rev: "main", path: "config.json", want: Cached, wantCommit: commitA},
		{rev: "", path: "extra/deep/notes.txt", want: Cached, wantCommit: commitA},
		{rev: "refs/pr/1", path: "model.safetensors", want: Cached, wantCommit: commitA},
		{rev: "handmade", path: "config.json", want: Cached, wantCommit: commitA},
		{rev: "main", path: "tokenizer.model", want: Missing, wantCommit: commitA},
		{rev: "main", path: "README.md", want: NotCached, wantCommit: commitA},
		{rev: "main", path: "extra", want: NotCached, wantCommit: commitA},
		{rev: "dev", path: "config.json", want: NotCached},
		{rev: commitB, path: "config.json", want: NotCached, wantCommit: commitB},
		{rev: "broken", path: "config.json", want: NotCached, wantErr: true},
		{rev: "main", path: "../refs/main", want: NotCached, wantErr: true},
		{rev: "../../x", path: "config.json", want: NotCached, wantErr: true},
	} {
		st, commit, p, err := r.Lookup(tc.rev, tc.path)
		if st != tc.want || commit != tc.wantCommit || (err != nil) != tc.wantErr {
			t.Errorf("Lookup(%q, %q) = %v, %q, err %v; want %v, %q, err %v", tc.rev, tc.path, st, commit, err, tc.want, tc.wantCommit, tc.wantErr)
		}
		if st == Cached && p != filepath.Join(r.SnapshotDir(commit), filepath.FromSlash(tc.path)) {
			t.Errorf("Lookup(%q, %q) path %q", tc.rev, tc.path, p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(r.Dir(), "refs", "refs", "pr", "1")); string(b) != commitA {
		t.Errorf("refs/refs/pr/1 holds %q", b)
	}
}

func TestWriteRef(t *testing.T) {
	r := OpenModel(t.TempDir(), testRepo)
	for _, tc := range []struct {
		rev, commit string
		wantFile    bool
		wantErr     bool
	}{
		{rev: "main", commit: commitA, wantFile: true},
		{rev: commitA, commit: commitA},
		{rev: "", commit: commitA},
		{rev: "../up", commit: commitA, wantErr: true},
		{rev: "v1", commit: "short", wantErr: true},
	} {
		err := r.WriteRef(tc.rev, tc.commit)
		if (err != nil) != tc.wantErr {
			t.Errorf("WriteRef(%q, %q) = %v", tc.rev, tc.commit, err)
		}
		_, serr := os.Stat(filepath.Join(r.Dir(), "refs", tc.rev))
		if tc.rev != "" && !strings.Contains(tc.rev, "..") && (serr == nil) != tc.wantFile {
			t.Errorf("WriteRef(%q): file exists %v, want %v", tc.rev, serr == nil, tc.wantFile)
		}
	}
	// Moving a branch rewrites its ref.
	if err := r.WriteRef("main", commitB); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.ReadRef("main"); c != commitB {
		t.Errorf("main = %q after moving it, want %q", c, commitB)
	}
}

func TestRemoveSnapshotKeepsSharedBlobs(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	r := OpenModel(cache, testRepo)
	files := testFiles()
	placeAll(t, r, commitA, files)     // config, weights, notes
	placeAll(t, r, commitB, files[:2]) // shares config and weights
	r.WriteRef("main", commitA)
	r.WriteRef("dev", commitB)
	r.MarkMissing(commitA, "tokenizer.model")
	usage, err := r.Usage(commitA)
	if want := files[0].f.Size + files[1].f.Size + files[2].f.Size; err != nil || usage != want {
		t.Fatalf("Usage(A) = %d, %v; want %d", usage, err, want)
	}
	freed, err := r.RemoveSnapshot(ctx, commitA)
	if err != nil {
		t.Fatal(err)
	}
	if freed != files[2].f.Size {
		t.Errorf("freed %d bytes, want %d (only the blob no other snapshot links)", freed, files[2].f.Size)
	}
	for i, tf := range files {
		_, err := os.Stat(r.BlobPath(tf.f.ETag))
		if shared := i < 2; shared != (err == nil) {
			t.Errorf("blob of %q present %v, want %v", tf.f.Path, err == nil, shared)
		}
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "refs", "main")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refs/main (pointing at the removed commit) is still there")
	}
	if c, _ := r.ReadRef("dev"); c != commitB {
		t.Errorf("refs/dev lost")
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), ".no_exist", commitA)); err == nil {
		t.Errorf(".no_exist of the removed commit is still there")
	}
	CheckB := func() {
		for _, tf := range files[:2] {
			if err := tf.f.Verify(filepath.Join(r.SnapshotDir(commitB), tf.f.Path)); err != nil {
				t.Errorf("snapshot B broken: %v", err)
			}
		}
	}
	CheckB()
	freed, err = r.RemoveSnapshot(ctx, commitB)
	if err != nil || freed != files[0].f.Size+files[1].f.Size {
		t.Errorf("removing the last snapshot freed %d, %v", freed, err)
	}
	rr, c, err := SnapshotOf(r.SnapshotDir(commitA))
	if err != nil || c != commitA || rr.Dir() != r.Dir() {
		t.Errorf("SnapshotOf = %v, %q, %v", rr, c, err)
	}
	if _, _, err := SnapshotOf(filepath.Join(cache, "vali-state", "snapshots", commitA)); !errors.Is(err, ErrBadName) {
		t.Errorf("SnapshotOf accepted a folder outside a repo: %v", err)
	}
}

func TestParseFolderName(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		id   string
		ok   bool
	}{
		{"models--tester--tiny", Model, "tester/tiny", true},
		{"datasets--org--set-1", Dataset, "datasets/org/set-1", true},
		{"spaces--a.b--c_d", Space, "a.b/c_d", true},
		{"models--tester", "", "", false},
		{"vali-state", "", "", false},
		{"model--tester--tiny", "", "", false},
		{"models--te/ster--tiny", "", "", false},
		{"models--a--b--c", "", "", false},
	} {
		typ, id, err := ParseFolderName(tc.name)
		if (err == nil) != tc.ok || typ != tc.typ || (tc.ok && id.String() != tc.id) {
			t.Errorf("ParseFolderName(%q) = %q, %v, %v", tc.name, typ, id, err)
		}
		if tc.ok && FolderName(typ, id) != tc.name {
			t.Errorf("FolderName round trip of %q = %q", tc.name, FolderName(typ, id))
		}
	}
	if _, err := ParseRef([]byte(strings.Repeat("a", 40) + "\n\n")); err == nil {
		t.Errorf("ParseRef accepted two newlines")
	}
}
