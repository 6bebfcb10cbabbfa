package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
	"github.com/coldint/coldint/internal/testenv"
)

// These tests check coldint's cache against an independent implementation,
// the official JS client @huggingface/hub (tools/hubjs/cache.mjs).

// countingServer counts the file downloads (/resolve/) and their bytes.
type countingServer struct {
	next         http.Handler
	mu           sync.Mutex
	resolves     int
	resolveBytes int64
}

type countWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (s *countingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/resolve/") || r.Method != http.MethodGet {
		s.next.ServeHTTP(w, r)
		return
	}
	cw := &countWriter{ResponseWriter: w}
	s.next.ServeHTTP(cw, r)
	s.mu.Lock()
	s.resolves++
	s.resolveBytes += cw.n
	s.mu.Unlock()
}

func (s *countingServer) reset() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, b := s.resolves, s.resolveBytes
	s.resolves, s.resolveBytes = 0, 0
	return n, b
}

type cacheEnv struct {
	srv   *countingServer
	url   string
	repo  hf.RepoID
	sha   string
	info  *hf.ModelInfo
	files []hubtest.File
}

// newCacheEnv serves a repo with a regular file, two LFS files and a file
// two folders deep.
func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &cacheEnv{srv: &countingServer{next: srv}, repo: hf.RepoID{Namespace: "tester", Name: "cached"}}
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	if err := dh.CreateRepo(ctx, e.repo, false); err != nil {
		t.Fatal(err)
	}
	e.files = []hubtest.File{
		{Path: "config.json", Data: []byte(`{"model_type": "llama"}` + "\n")},
		{Path: "model.safetensors", Data: hubtest.RandomBytes(31, 1<<20+17)},
		{Path: "tokenizer.model", Data: hubtest.RandomBytes(32, 5000)},
		{Path: "extra/deep/notes.txt", Data: []byte("nested file\n")},
	}
	if e.sha, err = dh.Upload(ctx, e.repo, hubtest.UploadFiles(e.files), "m", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.info, err = dh.ModelInfo(ctx, e.repo, e.sha); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *cacheEnv) names() []string {
	var n []string
	for _, f := range e.files {
		n = append(n, f.Path)
	}
	return n
}

// runCacheJS runs tools/hubjs/cache.mjs and decodes its JSON output.
func runCacheJS(t *testing.T, out any, env ...string) {
	t.Helper()
	node := testenv.Node(t)
	modules := testenv.NodeModules(t, "hub")
	script := filepath.Join(testenv.Root(), "tools", "hubjs", "cache.mjs")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(append(os.Environ(), "HUBJS_MODULES="+modules), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("parse node output %q: %v", stdout.String(), err)
	}
}

type jsScan struct {
	Scan struct {
		Size     int64    `json:"size"`
		Warnings []string `json:"warnings"`
		Repos    []struct {
			ID         struct{ Name, Type string } `json:"id"`
			Path       string                      `json:"path"`
			Size       int64                       `json:"size"`
			FilesCount int                         `json:"filesCount"`
			Revisions  []struct {
				CommitOid string   `json:"commitOid"`
				Path      string   `json:"path"`
				Size      int64    `json:"size"`
				Refs      []string `json:"refs"`
				Files     []struct {
					Path string `json:"path"`
					Blob struct {
						Path string `json:"path"`
						Size int64  `json:"size"`
					} `json:"blob"`
				} `json:"files"`
			} `json:"revisions"`
		} `json:"repos"`
	} `json:"scan"`
	Walk []struct {
		Path    string `json:"path"`
		Symlink bool   `json:"symlink"`
		Link    string `json:"link"`
		Real    string `json:"real"`
	} `json:"walk"`
}

// TestJSScanSeesColdintCache: coldint downloads by branch; the JS client's
// scanCacheDir reports exactly that repo, commit, ref and files, and every
// snapshot entry (nested ones too) is a relative link to blobs/<etag>.
func TestJSScanSeesColdintCache(t *testing.T) {
	e := newCacheEnv(t)
	cache := t.TempDir()
	c := newClient(t, e.url, "")
	snap, err := c.Download(context.Background(), e.repo, "main", e.names(), cache, hf.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got jsScan
	runCacheJS(t, &got, "MODE=scan", "CACHE="+cache)
	s := got.Scan
	if len(s.Warnings) != 0 || len(s.Repos) != 1 {
		t.Fatalf("scanCacheDir: %d repos, warnings %q; want 1 repo, none", len(s.Repos), s.Warnings)
	}
	r := s.Repos[0]
	rc := hfcache.OpenModel(cache, e.repo)
	// scanCacheDir (2.17.5) does not descend into sub-folders of a
	// snapshot, so the repo's size and file count cover the top-level files;
	// the walk below checks the nested one.
	var total int64
	var top int
	for _, f := range e.files {
		if !strings.Contains(f.Path, "/") {
			total += int64(len(f.Data))
			top++
		}
	}
	if r.ID.Name != e.repo.String() || r.ID.Type != "model" || r.Path != rc.Dir() || r.Size != total || r.FilesCount != top {
		t.Errorf("repo %+v at %s, %d bytes, %d files; want %s, %s, %d bytes, %d files", r.ID, r.Path, r.Size, r.FilesCount, e.repo, rc.Dir(), total, top)
	}
	if len(r.Revisions) != 1 {
		t.Fatalf("%d revisions, want 1", len(r.Revisions))
	}
	rev := r.Revisions[0]
	if rev.CommitOid != e.sha || rev.Path != snap || len(rev.Refs) != 1 || rev.Refs[0] != "main" {
		t.Errorf("revision %s at %s refs %q; want %s at %s refs [main]", rev.CommitOid, rev.Path, rev.Refs, e.sha, snap)
	}
	// scanCacheDir lists the top-level files of a snapshot only.
	var scanned []string
	for _, f := range rev.Files {
		rel, _ := filepath.Rel(snap, f.Path)
		fi, _ := e.info.File(filepath.ToSlash(rel))
		scanned = append(scanned, rel)
		if f.Blob.Path != rc.BlobPath(fi.ETag()) || f.Blob.Size != fi.Size {
			t.Errorf("%s -> blob %s (%d bytes); want %s (%d)", rel, f.Blob.Path, f.Blob.Size, rc.BlobPath(fi.ETag()), fi.Size)
		}
	}
	sort.Strings(scanned)
	if strings.Join(scanned, ",") != "config.json,model.safetensors,tokenizer.model" {
		t.Errorf("scanned files %q", scanned)
	}
	if len(got.Walk) != len(e.files) {
		t.Errorf("node found %d snapshot entries, want %d", len(got.Walk), len(e.files))
	}
	for _, w := range got.Walk {
		rel := strings.TrimPrefix(filepath.ToSlash(w.Path), filepath.ToSlash(filepath.Join(rc.Dir()[len(cache)+1:], "snapshots", e.sha))+"/")
		fi, ok := e.info.File(rel)
		wantReal, _ := filepath.Rel(cache, rc.BlobPath(fi.ETag()))
		if !ok || !w.Symlink || w.Link != hfcache.LinkTarget(rel, fi.ETag()) || w.Real != wantReal {
			t.Errorf("entry %+v; want a link %s resolving to %s", w, hfcache.LinkTarget(rel, fi.ETag()), wantReal)
		}
	}
}

// TestJSScanAfterDownloadByCommit: the validator downloads by commit, so
// no ref is written; the JS scan still reads the repo (it needs refs/).
func TestJSScanAfterDownloadByCommit(t *testing.T) {
	e := newCacheEnv(t)
	cache := t.TempDir()
	if _, err := newClient(t, e.url, "").Download(context.Background(), e.repo, e.sha, []string{"config.json"}, cache, hf.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	var got jsScan
	runCacheJS(t, &got, "MODE=scan", "CACHE="+cache)
	s := got.Scan
	if len(s.Warnings) != 0 || len(s.Repos) != 1 || len(s.Repos[0].Revisions) != 1 {
		t.Fatalf("scanCacheDir: %+v", s)
	}
	if rev := s.Repos[0].Revisions[0]; rev.CommitOid != e.sha || len(rev.Refs) != 0 || len(rev.Files) != 1 {
		t.Errorf("revision %+v; want %s without refs, one file", rev, e.sha)
	}
}

// TestColdintReusesJSCache: the JS client fills the cache; coldint then
// downloads the same repo by branch and fetches no file, keeps the links and
// adds no blob.
func TestColdintReusesJSCache(t *testing.T) {
	e := newCacheEnv(t)
	cache := t.TempDir()
	var js struct{ Pointers []string }
	runCacheJS(t, &js, "MODE=download", "CACHE="+cache, "HUB_URL="+e.url, "REPO="+e.repo.String(),
		"REVISION="+e.sha, "PATHS="+strings.Join(e.names(), ","))
	var total int64
	for _, f := range e.files {
		total += int64(len(f.Data))
	}
	if n, b := e.srv.reset(); n < len(e.files) || b < total {
		t.Fatalf("the JS client made %d file requests (%d bytes), want at least %d (%d bytes)", n, b, len(e.files), total)
	}
	rc := hfcache.OpenModel(cache, e.repo)
	before := listLinks(t, cache)
	blobsBefore, _ := os.ReadDir(filepath.Join(rc.Dir(), "blobs"))

	c := newClient(t, e.url, "")
	snap, err := c.Download(context.Background(), e.repo, "main", e.names(), cache, hf.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, b := e.srv.reset(); n != 0 || b != 0 {
		t.Errorf("coldint downloaded %d files (%d bytes) that the cache held", n, b)
	}
	hubtest.CheckSnapshot(t, snap, e.files)
	if after := listLinks(t, cache); after != before {
		t.Errorf("snapshot links changed:\n--- before\n%s--- after\n%s", before, after)
	}
	blobsAfter, _ := os.ReadDir(filepath.Join(rc.Dir(), "blobs"))
	if len(blobsAfter) != len(blobsBefore) || len(blobsBefore) != len(e.files) {
		t.Errorf("blobs/ held %d files, now %d; want %d", len(blobsBefore), len(blobsAfter), len(e.files))
	}
	if c, _ := rc.ReadRef("main"); c != e.sha {
		t.Errorf("refs/main = %q, want %s", c, e.sha)
	}
}

// listLinks lists every entry under snapshots/ with its link target.
func listLinks(t *testing.T, cache string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(p, "snapshots") && !d.IsDir() {
			target, lerr := os.Readlink(p)
			if lerr != nil {
				target = "NOT A LINK"
			}
			b.WriteString(p + " -> " + target + "\n")
		}
		return nil
	})
	return b.String()
}

// TestMissingFileMarker: an optional file the repo lacks gets the
// .no_exist/<commit>/<path> marker that huggingface_hub's
// try_to_load_from_cache answers "does not exist" from; the JS scan of the
// cache is not disturbed by it.
func TestMissingFileMarker(t *testing.T) {
	e := newCacheEnv(t)
	cache := t.TempDir()
	c := newClient(t, e.url, "")
	_, err := c.Download(context.Background(), e.repo, "main", []string{"config.json", "tokenizer_config.json", "sub/absent.txt"}, cache, hf.DownloadOptions{SkipMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	rc := hfcache.OpenModel(cache, e.repo)
	for _, p := range []string{"tokenizer_config.json", "sub/absent.txt"} {
		st, err := os.Lstat(filepath.Join(rc.Dir(), ".no_exist", e.sha, filepath.FromSlash(p)))
		if err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
			t.Errorf("no empty .no_exist marker for %q: %v", p, err)
		}
		if s, commit, _, err := rc.Lookup("main", p); s != hfcache.Missing || commit != e.sha || err != nil {
			t.Errorf("Lookup(main, %q) = %v at %q (%v), want missing", p, s, commit, err)
		}
	}
	if s, _, _, _ := rc.Lookup("main", "config.json"); s != hfcache.Cached {
		t.Errorf("Lookup(main, config.json) = %v", s)
	}
	var got jsScan
	runCacheJS(t, &got, "MODE=scan", "CACHE="+cache)
	if len(got.Scan.Warnings) != 0 || len(got.Scan.Repos) != 1 || len(got.Scan.Repos[0].Revisions[0].Files) != 1 {
		t.Errorf("JS scan with markers: %+v", got.Scan)
	}
}
