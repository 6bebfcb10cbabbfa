package hubserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/internal/testenv"
)

// requestLog records "METHOD /path" of every request (paths without query);
// count with method "" counts every method.
type requestLog struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	l.next.ServeHTTP(w, r)
}

func (l *requestLog) count(method, contains string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.seen {
		if (method == "" || strings.HasPrefix(s, method+" ")) && strings.Contains(s, contains) {
			n++
		}
	}
	return n
}

// jsModel is the model the JS client uploads: a weights file over 10 MB,
// a binary tokenizer model (LFS), JSON files (regular) and a README that the
// validator does not fetch.
func jsModel() []hubtest.File {
	return []hubtest.File{
		{Path: "config.json", Data: []byte(`{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}` + "\n")},
		{Path: "generation_config.json", Data: []byte(`{"bos_token_id": 1, "eos_token_id": 2}` + "\n")},
		{Path: "tokenizer.json", Data: []byte(`{"version": "1.0", "model": {"type": "BPE"}}` + "\n")},
		{Path: "tokenizer.model", Data: hubtest.RandomBytes(11, 300_001)},
		{Path: "model.safetensors", Data: hubtest.RandomBytes(12, 12<<20+12345)},
		{Path: "README.md", Data: []byte("# tiny\n")},
	}
}

func TestOfficialJSClientRoundTrip(t *testing.T) {
	node := testenv.Node(t)
	modules := testenv.NodeModules(t, "hub")
	script := filepath.Join(testenv.Root(), "tools", "hubjs", "roundtrip.mjs")

	const token = "hf_js_interop_token"
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{token}, ChunkSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rl := &requestLog{next: srv}
	ts := httptest.NewServer(rl)
	defer ts.Close()

	src, out := t.TempDir(), t.TempDir()
	files := jsModel()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(src, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "HUBJS_MODULES="+modules, "HUB_URL="+ts.URL, "HF_TOKEN="+token,
		"REPO=tester/tiny-llama", "SRC="+src, "OUT="+out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	var res struct {
		Commit            string `json:"commit"`
		MissingFileExists bool   `json:"missingFileExists"`
		Info              struct {
			Name     string `json:"name"`
			Private  bool   `json:"private"`
			SHA      string `json:"sha"`
			Siblings []struct {
				RFilename string `json:"rfilename"`
			} `json:"siblings"`
		} `json:"info"`
		Files []struct {
			Path string `json:"path"`
			Size int    `json:"size"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("parse node output %q: %v", stdout.String(), err)
	}
	if !hf.IsCommitSHA(res.Commit) || res.Info.SHA != res.Commit || res.Info.Name != "tester/tiny-llama" || !res.Info.Private {
		t.Fatalf("JS model info = %+v, commit %q", res.Info, res.Commit)
	}
	if res.MissingFileExists {
		t.Errorf("JS fileExists reported a missing file as present")
	}
	if len(res.Info.Siblings) != len(files)+1 { // + .gitattributes
		t.Errorf("JS saw %d siblings, want %d", len(res.Info.Siblings), len(files)+1)
	}
	// Byte-identical download by the JS client.
	hubtest.CheckSnapshot(t, out, files)
	// The upload used both LFS transfers: multipart for the 12 MB file, basic for tokenizer.model.
	if n := rl.count("PUT", "/part/"); n != 3 {
		t.Errorf("multipart part uploads = %d, want 3", n)
	}
	if n := rl.count("POST", "/complete"); n != 1 {
		t.Errorf("multipart completions = %d, want 1", n)
	}
	if n := rl.count("PUT", "/lfs-upload/") - rl.count("PUT", "/part/"); n != 1 {
		t.Errorf("basic LFS uploads = %d, want 1", n)
	}

	// coldint's own client downloads the validator's allow-list at that commit.
	client, err := hub.New(hub.WithEndpoint(ts.URL), hub.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "tester", Name: "tiny-llama"}
	info, err := client.ModelInfo(ctx, repo, res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range info.Files {
		names = append(names, f.Path)
	}
	allow, err := modelhash.Select(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	snap, err := client.Download(ctx, repo, res.Commit, allow, cache, hf.DownloadOptions{MaxTotalSize: 20 << 20})
	if err != nil {
		t.Fatalf("coldint Download: %v", err)
	}
	var want []hubtest.File
	for _, f := range files {
		if f.Path != "README.md" {
			want = append(want, f)
		}
	}
	hubtest.CheckSnapshot(t, snap, want)

	// Same model hash (docs/hashing.md#model-hash) for the snapshot, the JS download and the source folder.
	snapHash, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{out, src} {
		filter, err := modelhash.AllowedFilter(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		h, err := modelhash.Dir(ctx, dir, modelhash.Options{Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		if h != snapHash {
			t.Errorf("hash of %q = %s, snapshot hash = %s", dir, h, snapHash)
		}
	}
	const hotkey = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
	t.Logf("commit %s dir hash %s salted %s", res.Commit, snapHash, modelhash.Salt(snapHash, hotkey))

	// Over the competition size limit: refused before anything is written.
	cache2 := t.TempDir()
	if _, err := client.Download(ctx, repo, res.Commit, allow, cache2, hf.DownloadOptions{MaxTotalSize: 10 << 20}); err == nil {
		t.Errorf("Download over the size limit succeeded")
	}
	if entries, _ := os.ReadDir(cache2); len(entries) != 0 {
		t.Errorf("refused download wrote into the cache")
	}
}

// TestOfficialJSClientDataset uploads a dataset repo with the official JS
// client (repo type "dataset") and reads it back with coldint's client.
func TestOfficialJSClientDataset(t *testing.T) {
	node := testenv.Node(t)
	modules := testenv.NodeModules(t, "hub")
	script := filepath.Join(testenv.Root(), "tools", "hubjs", "roundtrip.mjs")

	const token = "hf_js_dataset_token"
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	rl := &requestLog{next: srv}
	ts := httptest.NewServer(rl)
	defer ts.Close()

	src, out := t.TempDir(), t.TempDir()
	files := hubtest.Dataset(21)
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f.Path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "HUBJS_MODULES="+modules, "HUB_URL="+ts.URL, "HF_TOKEN="+token,
		"REPO=tester/corpus", "REPO_TYPE=dataset", "SRC="+src, "OUT="+out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	var res struct {
		Commit string `json:"commit"`
		Info   struct {
			Name string `json:"name"`
			SHA  string `json:"sha"`
		} `json:"info"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("parse node output %q: %v", stdout.String(), err)
	}
	if !hf.IsCommitSHA(res.Commit) || res.Info.SHA != res.Commit || res.Info.Name != "tester/corpus" {
		t.Fatalf("JS dataset info = %+v, commit %q", res.Info, res.Commit)
	}
	hubtest.CheckSnapshot(t, out, files)
	// The JS client spoke the dataset routes, never the model ones.
	for _, p := range []string{"/api/datasets/tester/corpus/commit/", "/datasets/tester/corpus.git/info/lfs/objects/batch", "/datasets/tester/corpus/resolve/"} {
		if rl.count("", p) == 0 {
			t.Errorf("no request to %s", p)
		}
	}
	if n := rl.count("", "/api/models/") + rl.count("", "/tester/corpus.git/") - rl.count("", "/datasets/tester/corpus.git/"); n != 0 {
		t.Errorf("%d requests to model routes", n)
	}

	client, err := hub.New(hub.WithEndpoint(ts.URL), hub.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	ds := hf.RepoID{Namespace: "tester", Name: "corpus", Type: hf.DatasetRepo}
	if _, err := client.ModelInfo(ctx, hf.RepoID{Namespace: "tester", Name: "corpus"}, ""); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Errorf("the dataset read as a model: %v, want ErrRepoNotFound", err)
	}
	snap, err := client.Download(ctx, ds, res.Commit, nil, t.TempDir(), hf.DownloadOptions{})
	if err != nil {
		t.Fatalf("coldint Download of the dataset: %v", err)
	}
	if !strings.Contains(snap, "datasets--tester--corpus") {
		t.Errorf("snapshot %q is not in a datasets-- folder", snap)
	}
	if _, err := os.Stat(filepath.Join(snap, ".gitattributes")); err != nil {
		t.Errorf("snapshot lacks .gitattributes: %v", err)
	}
	os.Remove(filepath.Join(snap, ".gitattributes"))
	hubtest.CheckSnapshot(t, snap, files)
}
