package hfcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
)

func FuzzParseRef(f *testing.F) {
	f.Add([]byte(commitA))
	f.Add([]byte(commitA + "\n"))
	f.Add([]byte("main"))
	f.Add([]byte(strings.ToUpper(commitA)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseRef(b)
		if err != nil {
			return
		}
		if !hf.IsCommitSHA(c) || (string(b) != c && string(b) != c+"\n") {
			t.Fatalf("ParseRef(%q) = %q", b, c)
		}
	})
}

func FuzzParseFolderName(f *testing.F) {
	for _, s := range []string{"models--tester--tiny", "datasets--a--b", "spaces--x.y--z_1", "models--a--b--c", "vali-state", ".locks"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		typ, id, err := ParseFolderName(name)
		if err != nil {
			return
		}
		if FolderName(typ, id) != name {
			t.Fatalf("ParseFolderName(%q) = %q %v, which names %q", name, typ, id, FolderName(typ, id))
		}
		if strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") {
			t.Fatalf("ParseFolderName accepted %q", name)
		}
	})
}

// FuzzLookup checks that no revision or path read from a hostile caller
// makes Lookup answer with a file outside the repo's snapshots.
func FuzzLookup(f *testing.F) {
	cache := f.TempDir()
	r := OpenModel(cache, testRepo)
	os.MkdirAll(r.SnapshotDir(commitA), 0o755)
	os.WriteFile(filepath.Join(r.SnapshotDir(commitA), "config.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(cache, "secret"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(r.Dir(), "refs"), 0o755)
	os.WriteFile(filepath.Join(r.Dir(), "refs", "main"), []byte(commitA), 0o644)
	f.Add("main", "config.json")
	f.Add(commitA, "config.json")
	f.Add("main", "../../../secret")
	f.Add("../../..", "secret")
	f.Add("refs/../../x", "config.json")
	f.Fuzz(func(t *testing.T, rev, p string) {
		st, commit, got, err := r.Lookup(rev, p)
		if err != nil || st != Cached {
			return
		}
		snaps := filepath.Join(r.Dir(), "snapshots") + string(filepath.Separator)
		if !hf.IsCommitSHA(commit) || !strings.HasPrefix(got, snaps) {
			t.Fatalf("Lookup(%q, %q) = %q at %q, outside %s", rev, p, got, commit, snaps)
		}
	})
}
