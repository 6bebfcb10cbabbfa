package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

// hostileHub serves a model info listing the given siblings and counts
// every other request.
func hostileHub(t *testing.T, siblings []map[string]any) (*httptest.Server, *atomic.Int32) {
	var other atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"id": "evil/model", "sha": strings.Repeat("a", 40), "siblings": siblings})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		w.Write([]byte("pwned"))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, &other
}

func sib(name string, size int64) map[string]any {
	return map[string]any{"rfilename": name, "size": size, "blobId": strings.Repeat("b", 40)}
}

func TestHostileReposRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	repo := hf.RepoID{Namespace: "evil", Name: "model"}
	for _, tc := range []struct {
		name     string
		siblings []map[string]any
		limit    int64
		want     error
	}{
		{"dotdot", []map[string]any{sib("config.json", 5), sib("../x", 5)}, 0, hf.ErrUnsafePath},
		{"nested dotdot", []map[string]any{sib("a/../../x", 5)}, 0, hf.ErrUnsafePath},
		{"absolute", []map[string]any{sib("/etc/cron.d/x", 5)}, 0, hf.ErrUnsafePath},
		{"backslash", []map[string]any{sib(`..\x`, 5)}, 0, hf.ErrUnsafePath},
		{"git dir", []map[string]any{sib(".git/hooks/post-checkout", 5)}, 0, hf.ErrUnsafePath},
		{"file and folder", []map[string]any{sib("a", 5), sib("a/b", 5)}, 0, hf.ErrUnsafePath},
		{"duplicate", []map[string]any{sib("a", 5), sib("a", 5)}, 0, hf.ErrUnsafePath},
		{"oversize", []map[string]any{sib("model.safetensors", 6<<30), sib("config.json", 10)}, 5 << 30, hf.ErrTooLarge},
		{"negative size", []map[string]any{sib("x", -1)}, 0, hf.ErrIntegrity},
		{"bad blob id", []map[string]any{{"rfilename": "x", "size": 5, "blobId": "../../../../tmp/x"}}, 0, hf.ErrIntegrity},
		{"no size", []map[string]any{{"rfilename": "x"}}, 0, hf.ErrIntegrity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, other := hostileHub(t, tc.siblings)
			c := newClient(t, ts.URL, "")
			cache := t.TempDir()
			_, err := c.Download(ctx, repo, strings.Repeat("a", 40), nil, cache, hf.DownloadOptions{MaxTotalSize: tc.limit})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Download: got %v, want %v", err, tc.want)
			}
			if entries, _ := os.ReadDir(cache); len(entries) != 0 {
				t.Errorf("refused download wrote %d entries into the cache", len(entries))
			}
			if n := other.Load(); n != 0 {
				t.Errorf("refused download still fetched %d files", n)
			}
		})
	}
}

func TestCommitPinning(t *testing.T) {
	// A server that answers another commit than the one asked for is refused.
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"id": "a/b", "sha": strings.Repeat("c", 40), "siblings": []any{}})
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	c := newClient(t, ts.URL, "")
	_, err := c.ModelInfo(context.Background(), hf.RepoID{Namespace: "a", Name: "bb"}, strings.Repeat("d", 40))
	if !errors.Is(err, hf.ErrIntegrity) {
		t.Fatalf("ModelInfo with a swapped commit: got %v, want ErrIntegrity", err)
	}
}

func TestTokenNotSentToOtherOrigin(t *testing.T) {
	var cdnAuth, hubAuth atomic.Value
	cdnAuth.Store("")
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("authorization"))
		w.Write([]byte("hello"))
	}))
	defer cdn.Close()
	hubSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/models/") {
			hubAuth.Store(r.Header.Get("Authorization"))
			json.NewEncoder(w).Encode(map[string]any{"id": "a/bb", "sha": strings.Repeat("a", 40), "siblings": []any{
				map[string]any{"rfilename": "f.txt", "size": 5, "blobId": "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"},
			}})
			return
		}
		// Resolve redirects to another origin, as the Hub does to its CDN.
		http.Redirect(w, r, cdn.URL+"/blob?sig=xyz", http.StatusFound)
	}))
	defer hubSrv.Close()
	c := newClient(t, hubSrv.URL, testToken)
	cache := t.TempDir()
	snap, err := c.Download(context.Background(), hf.RepoID{Namespace: "a", Name: "bb"}, strings.Repeat("a", 40), nil, cache, hf.DownloadOptions{})
	if err != nil {
		t.Fatalf("Download via redirect: %v", err)
	}
	hubtest.CheckSnapshot(t, snap, []hubtest.File{{Path: "f.txt", Data: []byte("hello")}})
	if got := hubAuth.Load(); got != "Bearer "+testToken {
		t.Errorf("hub got Authorization %q, want the token", got)
	}
	if got := cdnAuth.Load().(string); got != "|" {
		t.Errorf("redirect target on another origin got Authorization %q", got)
	}
}

func TestServerAuth(t *testing.T) {
	ctx := context.Background()
	ts, _ := newServer(t, hubserver.Options{Tokens: []string{testToken}})
	owner := newClient(t, ts.URL, testToken)
	anon := newClient(t, ts.URL, "")
	wrong := newClient(t, ts.URL, "hf_wrong")
	repo := hf.RepoID{Namespace: "tester", Name: "secret"}
	if err := anon.CreateRepo(ctx, repo, true); !errors.Is(err, hf.ErrUnauthorized) {
		t.Fatalf("anonymous CreateRepo: got %v, want ErrUnauthorized", err)
	}
	if err := owner.CreateRepo(ctx, repo, true); err != nil {
		t.Fatal(err)
	}
	sha, err := owner.Upload(ctx, repo, hubtest.UploadFiles(hubtest.Model(1, 1000)), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.ModelInfo(ctx, repo, sha); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Errorf("anonymous ModelInfo of a private repo: got %v, want ErrRepoNotFound", err)
	}
	if _, err := anon.Download(ctx, repo, sha, nil, t.TempDir(), hf.DownloadOptions{}); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Errorf("anonymous Download of a private repo: got %v, want ErrRepoNotFound", err)
	}
	if _, err := wrong.ModelInfo(ctx, repo, sha); !errors.Is(err, hf.ErrUnauthorized) {
		t.Errorf("ModelInfo with a wrong token: got %v, want ErrUnauthorized", err)
	}
	if _, err := anon.Upload(ctx, repo, hubtest.UploadFiles(hubtest.Model(2, 10)), "m", hf.UploadOptions{}); !errors.Is(err, hf.ErrUnauthorized) {
		t.Errorf("anonymous Upload: got %v, want ErrUnauthorized", err)
	}
	if err := anon.SetVisibility(ctx, repo, false); !errors.Is(err, hf.ErrUnauthorized) {
		t.Errorf("anonymous SetVisibility: got %v, want ErrUnauthorized", err)
	}
	if err := owner.SetVisibility(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	snap, err := anon.Download(ctx, repo, sha, nil, t.TempDir(), hf.DownloadOptions{})
	if err != nil {
		t.Fatalf("anonymous Download of a public repo: %v", err)
	}
	if _, err := os.Stat(filepath.Join(snap, "config.json")); err != nil {
		t.Error(err)
	}
}

func TestTokenAndEndpointFromEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_ACCESS_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
	if tok, _ := Token(); tok != "" {
		t.Fatalf("Token() = %q with nothing set", tok)
	}
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600)
	if tok, src := Token(); tok != "hf_from_file" || src != filepath.Join(home, "token") {
		t.Errorf("Token() = %q, %q; want the login file", tok, src)
	}
	t.Setenv("HF_ACCESS_TOKEN", "hf_access")
	if tok, _ := Token(); tok != "hf_access" {
		t.Errorf("Token() = %q, want HF_ACCESS_TOKEN", tok)
	}
	t.Setenv("HF_TOKEN", "hf_token")
	if tok, src := Token(); tok != "hf_token" || src != "HF_TOKEN" {
		t.Errorf("Token() = %q, %q, want HF_TOKEN", tok, src)
	}
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint() != "http://127.0.0.1:9" || !c.HasToken() {
		t.Errorf("New() endpoint %q token %v", c.Endpoint(), c.HasToken())
	}
	if got := DefaultCacheDir(); got != filepath.Join(home, "hub") {
		t.Errorf("DefaultCacheDir() = %q", got)
	}
	t.Setenv("HF_ENDPOINT", "ftp://x")
	if _, err := New(); err == nil {
		t.Error("New() accepted an ftp endpoint")
	}
}

func TestTokenNotSentToUploadLinksOnOtherOrigin(t *testing.T) {
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The "storage" origin serves the upload links; it records what it got.
	var storageAuth atomic.Int32
	var handler http.Handler
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			storageAuth.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	defer storage.Close()
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{testToken}, PublicURL: storage.URL, ChunkSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	handler = srv
	api := httptest.NewServer(srv)
	defer api.Close()
	c := newClient(t, api.URL, testToken)
	repo := hf.RepoID{Namespace: "tester", Name: "links"}
	if err := c.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	files := hubtest.Model(41, 3<<20)                                                                 // multipart weights
	files = append(files, hubtest.File{Path: "tokenizer.model", Data: hubtest.RandomBytes(42, 1000)}) // basic
	if _, err := c.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := storageAuth.Load(); n != 0 {
		t.Errorf("%d upload requests to another origin carried the token", n)
	}
}
