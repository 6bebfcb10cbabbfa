package hub

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

const testToken = "hf_test_token_0123456789"

// newServer starts a hub server on 127.0.0.1 over a fresh directory hub.
func newServer(t *testing.T, opts hubserver.Options) (*httptest.Server, *dirhub.Hub) {
	t.Helper()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = 1 << 20 // exercise multipart with small files
	}
	srv, err := hubserver.New(dh, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, dh
}

func newClient(t *testing.T, endpoint, token string, extra ...Option) *Client {
	t.Helper()
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_ACCESS_TOKEN", "")
	t.Setenv("HF_HOME", t.TempDir())
	opts := append([]Option{WithEndpoint(endpoint), WithToken(token), WithBackoff(time.Millisecond, 5*time.Millisecond, 10*time.Millisecond)}, extra...)
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformanceAgainstHubServer(t *testing.T) {
	hubtest.Run(t, func(t *testing.T) hubtest.Backend {
		ts, _ := newServer(t, hubserver.Options{Tokens: []string{testToken}})
		return hubtest.Backend{Hub: newClient(t, ts.URL, testToken), Namespace: "tester"}
	})
}

func TestConcurrentDownloadsShareCache(t *testing.T) {
	ctx := context.Background()
	ts, dh := newServer(t, hubserver.Options{})
	repo := hf.RepoID{Namespace: "tester", Name: "shared"}
	if err := dh.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	files := hubtest.Model(21, 2<<20)
	sha, err := dh.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	names := []string{"config.json", "tokenizer.json", "model.safetensors", "extra/notes.txt", "empty.txt"}
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		c := newClient(t, ts.URL, "")
		c.chunkThreshold = 1 << 20 // parts for the weights file
		go func() {
			_, err := c.Download(ctx, repo, sha, names, cache, hf.DownloadOptions{})
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Download: %v", err)
		}
	}
	hubtest.CheckSnapshot(t, filepath.Join(cache, repo.CacheDirName(), "snapshots", sha), files)
}
