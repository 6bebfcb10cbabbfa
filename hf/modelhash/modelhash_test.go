package modelhash

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

// The test vectors of docs/hashing.md#test-vectors, verified with Python hashlib.
const (
	vecText   = "test text."
	vecFile   = "tXNDvHVzqYIRiUx0rvK+M5+Lu4OLzhfPJH+gf7HvCeA="
	vecDir    = "rzfrK2kpRaaPUO/FRaNL5l7J8FrjMSlpkixOIftUk+M="
	vecHotkey = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
	vecSalted = "ktFuodCq2kFeW1QHYAC65Ue/k5CY/+I+8jo9I9Oeb1s="
)

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVectors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "a.txt", vecText)
	write(t, dir, "b.txt", vecText)

	got, err := File(ctx, filepath.Join(dir, "a.txt"))
	if err != nil || got != vecFile {
		t.Fatalf("File = %q, %v; want %q", got, err, vecFile)
	}
	if got := Bytes([]byte(vecText)); got != vecFile {
		t.Fatalf("Bytes = %q; want %q", got, vecFile)
	}
	for _, workers := range []int{0, 1, 2, 7} {
		d, err := Dir(ctx, dir, Options{Workers: workers})
		if err != nil || d != vecDir {
			t.Fatalf("Dir(workers=%d) = %q, %v; want %q", workers, d, err, vecDir)
		}
	}
	if got := Salt(vecDir, vecHotkey); got != vecSalted {
		t.Fatalf("Salt = %q; want %q", got, vecSalted)
	}
	if got := Salt(vecDir, vecHotkey[:len(vecHotkey)-1]+"w"); got == vecSalted {
		t.Fatal("Salt ignores the hotkey")
	}
}

// refDir is an independent, sequential re-implementation of the Python
// get_hash_of_directory with sorted dirnames, used to check ordering.
func refDir(t *testing.T, root string) string {
	t.Helper()
	outer := sha256.New()
	var visit func(dir string)
	visit = func(dir string) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var dirs []string
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(dir, e.Name()))
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			outer.Write([]byte(base64.StdEncoding.EncodeToString(s[:])))
		}
		for _, d := range dirs {
			visit(d)
		}
	}
	visit(root)
	return base64.StdEncoding.EncodeToString(outer.Sum(nil))
}

func TestDirOrderAndNesting(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"flat", map[string]string{"config.json": "{}", "model.safetensors": strings.Repeat("x", 3<<20), "B": "upper before lower", "a": "a"}},
		{"nested", map[string]string{"z.txt": "z", "sub/a": "1", "sub/deeper/b": "2", "a/y": "3", "top": "4"}},
		{"unicode", map[string]string{"é.txt": "e-acute", "e.txt": "e", "f.txt": "f", "Z.txt": "Z"}},
		{"empty file", map[string]string{"empty": "", "x": "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for k, v := range tc.files {
				write(t, dir, k, v)
			}
			got, err := Dir(ctx, dir, Options{Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if want := refDir(t, dir); got != want {
				t.Fatalf("Dir = %q; reference %q", got, want)
			}
		})
	}
}

// Python test_utils: two sibling dirs with identical files hash equal; their
// parent differs from each because it recurses into both.
func TestSiblingDirs(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, d := range []string{"one", "two"} {
		write(t, root, d+"/f1", vecText)
		write(t, root, d+"/f2", "other")
	}
	h1, err1 := Dir(ctx, filepath.Join(root, "one"), Options{})
	h2, err2 := Dir(ctx, filepath.Join(root, "two"), Options{})
	hp, errp := Dir(ctx, root, Options{})
	if err1 != nil || err2 != nil || errp != nil {
		t.Fatal(err1, err2, errp)
	}
	if h1 != h2 {
		t.Fatalf("identical dirs differ: %q %q", h1, h2)
	}
	if hp == h1 {
		t.Fatal("parent hash equals child hash")
	}
}

func TestEmptyDirIsInvalid(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := Dir(ctx, dir, Options{})
	if !errors.Is(err, ErrNoFiles) || h == VoidHash || h != "" {
		t.Fatalf("Dir(empty) = %q, %v; want ErrNoFiles", h, err)
	}
	if _, err := Dir(ctx, filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Fatal("missing dir hashed")
	}
	if _, err := Combine(nil); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("Combine(nil) = %v", err)
	}
	if Bytes(nil) != VoidHash {
		t.Fatal("VoidHash constant is wrong")
	}
}

func TestSymlinks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blobs := t.TempDir()
	write(t, blobs, "blob1", vecText)
	write(t, dir, "b.txt", vecText)
	if err := os.Symlink(filepath.Join(blobs, "blob1"), filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	// A link to a directory is not followed (os.walk followlinks=False).
	write(t, blobs, "d/x", "not hashed")
	if err := os.Symlink(filepath.Join(blobs, "d"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	got, err := Dir(ctx, dir, Options{})
	if err != nil || got != vecDir {
		t.Fatalf("Dir with links = %q, %v; want %q", got, err, vecDir)
	}
	if err := os.Symlink(filepath.Join(blobs, "nope"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(ctx, dir, Options{}); err == nil {
		t.Fatal("dangling link hashed")
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a", strings.Repeat("a", 5<<20))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dir(ctx, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dir(cancelled) = %v", err)
	}
	if _, err := Reader(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reader(cancelled) = %v", err)
	}
}

func TestOnFileAndDetail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "a.txt", vecText)
	write(t, dir, "b.txt", vecText)
	n := 0
	r, err := DirDetail(ctx, dir, Options{OnFile: func(string, int64, string) { n++ }, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(r.Files) != 2 || r.Bytes != int64(2*len(vecText)) || r.Files[0].Hash != vecFile || r.Files[0].Path != "a.txt" {
		t.Fatalf("DirDetail = %+v, callbacks %d", r, n)
	}
}

// TestVectorsMatchSpec checks that the constants above are the ones printed
// in ../shared/spec/coldint.md §3.7 (skipped when ../shared is absent).
func TestVectorsMatchSpec(t *testing.T) {
	shared := testenv.Shared(t)
	b, err := os.ReadFile(filepath.Join(shared, "spec", "coldint.md"))
	if err != nil {
		t.Fatal(err)
	}
	spec := string(b)
	i := strings.Index(spec, "## 3. Model content hash")
	if i < 0 {
		t.Fatal("spec has no §3")
	}
	sec := spec[i:]
	if j := strings.Index(sec[1:], "\n## "); j > 0 {
		sec = sec[:j+1]
	}
	for _, want := range []string{
		"`" + vecText + "` → `" + vecFile + "`",
		"dir with two such files → `" + vecDir + "`",
		"`" + vecHotkey + "` → `" + vecSalted + "`",
		VoidHash,
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("spec §3 does not contain %q", want)
		}
	}
}

func BenchmarkDir(b *testing.B) {
	dir := b.TempDir()
	chunk := make([]byte, 16<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for i := 0; i < 4; i++ {
		if err := os.WriteFile(filepath.Join(dir, "shard"+string(rune('a'+i))), chunk, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, w := range []int{1, 0} {
		b.Run("workers="+map[int]string{1: "1", 0: "all"}[w], func(b *testing.B) {
			b.SetBytes(int64(4 * len(chunk)))
			for i := 0; i < b.N; i++ {
				if _, err := Dir(context.Background(), dir, Options{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFilesMatchSha256sum checks the per-file hashes against coreutils
// sha256sum, an independent implementation, on files of assorted sizes.
func TestFilesMatchSha256sum(t *testing.T) {
	bin, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum not installed")
	}
	dir := t.TempDir()
	sizes := []int{0, 1, 63, 64, 65, 64 << 10, 1<<20 + 17, 3 << 20}
	var names []string
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(j*31 + i)
		}
		name := fmt.Sprintf("f%02d.bin", i)
		write(t, dir, name, string(b))
		names = append(names, name)
	}
	cmd := exec.Command(bin, names...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	res, err := DirDetail(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(res.Files) {
		t.Fatalf("%d sha256sum lines, %d files", len(lines), len(res.Files))
	}
	for i, l := range lines {
		hexsum, name, _ := strings.Cut(l, "  ")
		raw, err := hex.DecodeString(hexsum)
		if err != nil {
			t.Fatal(err)
		}
		if res.Files[i].Path != name || res.Files[i].Hash != base64.StdEncoding.EncodeToString(raw) {
			t.Fatalf("%s: coldint %q, sha256sum %s", name, res.Files[i].Hash, hexsum)
		}
	}
}
