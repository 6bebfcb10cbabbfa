package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

// faultProxy sits in front of a hub server and answers the n-th GET of
// /resolve/ with a fault chosen by plan (nil = pass through).
type faultProxy struct {
	next   http.Handler
	data   map[string][]byte // resolve path suffix → content, for faults that send bytes
	plan   func(n int, r *http.Request) string
	mu     sync.Mutex
	n      int
	ranges []string
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/resolve/") {
		p.next.ServeHTTP(w, r)
		return
	}
	var data []byte
	for suffix, d := range p.data {
		if strings.HasSuffix(r.URL.Path, "/"+suffix) {
			data = d
		}
	}
	if data == nil { // faults apply to the files in p.data only
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	p.n++
	n := p.n
	p.ranges = append(p.ranges, r.Header.Get("Range"))
	p.mu.Unlock()
	fault := ""
	if p.plan != nil {
		fault = p.plan(n, r)
	}
	start, end := 0, len(data)
	ranged := false
	if rg := r.Header.Get("Range"); rg != "" {
		a, b, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		start, _ = strconv.Atoi(a)
		if b != "" {
			e, _ := strconv.Atoi(b)
			end = e + 1
		}
		ranged = true
	}
	sendHead := func() {
		w.Header().Set("Content-Length", strconv.Itoa(end-start))
		if ranged {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.WriteHeader(http.StatusOK)
		}
	}
	switch fault {
	case "":
		p.next.ServeHTTP(w, r)
	case "500":
		http.Error(w, `{"error":"boom"}`, 500)
	case "503-retry-after":
		w.Header().Set("Retry-After", "3")
		http.Error(w, `{"error":"busy"}`, 503)
	case "429":
		w.Header().Set("RateLimit", `"resolvers";r=0;t=7`)
		w.Header().Set("RateLimit-Policy", `"fixed window";"resolvers";q=3000;w=300`)
		http.Error(w, `{"error":"rate limited"}`, 429)
	case "cut":
		// Promise the whole rest, send a third of it, then drop the connection.
		sendHead()
		w.Write(data[start : start+(end-start)/3])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "stall":
		// Send a third, then nothing until the client gives up (bounded).
		sendHead()
		w.Write(data[start : start+(end-start)/3])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	case "truncated":
		// A body that ends cleanly but early (chunked, no Content-Length).
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
	case "corrupt":
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0xff
		w.Header().Set("Content-Length", strconv.Itoa(len(bad)))
		w.WriteHeader(200)
		w.Write(bad)
	case "corrupt-range":
		bad := bytes.Clone(data[start:end])
		bad[len(bad)/2] ^= 0xff
		sendHead()
		w.Write(bad)
	case "norange":
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(200)
		w.Write(data)
	case "toolong":
		w.WriteHeader(200)
		w.Write(data)
		w.Write([]byte("extra bytes"))
	}
}

type faultEnv struct {
	client *Client
	proxy  *faultProxy
	repo   hf.RepoID
	sha    string
	files  []hubtest.File
	sleeps []time.Duration
	mu     sync.Mutex
	logBuf *bytes.Buffer
}

func newFaultEnv(t *testing.T, plan func(n int, r *http.Request) string) *faultEnv {
	t.Helper()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := &faultEnv{repo: hf.RepoID{Namespace: "tester", Name: "faulty"}, files: []hubtest.File{{Path: "model.safetensors", Data: hubtest.RandomBytes(7, 3<<20+5)}}}
	if err := dh.CreateRepo(ctx, e.repo, false); err != nil {
		t.Fatal(err)
	}
	if e.sha, err = dh.Upload(ctx, e.repo, hubtest.UploadFiles(e.files), "m", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	srv, _ := hubserver.New(dh, hubserver.Options{Tokens: []string{testToken}})
	e.proxy = &faultProxy{next: srv, plan: plan, data: map[string][]byte{"model.safetensors": e.files[0].Data}}
	ts := httptest.NewServer(e.proxy)
	t.Cleanup(ts.Close)
	e.logBuf = &bytes.Buffer{}
	e.client = newClient(t, ts.URL, testToken, WithRetries(4), WithReadTimeout(100*time.Millisecond), WithBackoff(time.Millisecond, 5*time.Millisecond, time.Hour), WithLogger(slog.New(slog.NewTextHandler(e.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	e.client.sleep = func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		e.sleeps = append(e.sleeps, d)
		e.mu.Unlock()
		return ctx.Err()
	}
	return e
}

// checkNoPartial fails if the snapshot folder holds anything but want.
func checkNoPartial(t *testing.T, cache string, e *faultEnv, want []hubtest.File) {
	t.Helper()
	snap := filepath.Join(cache, e.repo.CacheDirName(), "snapshots", e.sha)
	if _, err := os.Stat(snap); err != nil && len(want) == 0 {
		return
	}
	hubtest.CheckSnapshot(t, snap, want)
}

func TestDownloadFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		plan      func(n int, r *http.Request) string
		wantErr   error  // nil: download must succeed
		wantSleep string // a sleep that must have been requested
		wantRange bool   // a resumed request must carry a nonzero Range
	}{
		{name: "500 twice", plan: func(n int, _ *http.Request) string { return map[int]string{1: "500", 2: "500"}[n] }},
		{name: "429 RateLimit", plan: func(n int, _ *http.Request) string { return map[int]string{1: "429"}[n] }, wantSleep: "7s"},
		{name: "503 Retry-After", plan: func(n int, _ *http.Request) string { return map[int]string{1: "503-retry-after"}[n] }, wantSleep: "3s"},
		{name: "cut mid-file", plan: func(n int, _ *http.Request) string { return map[int]string{1: "cut", 2: "cut"}[n] }, wantRange: true},
		{name: "stalled body", plan: func(n int, _ *http.Request) string { return map[int]string{1: "stall"}[n] }, wantRange: true},
		{name: "always stalled", plan: func(int, *http.Request) string { return "stall" }, wantErr: errStalled},
		{name: "truncated body", plan: func(n int, _ *http.Request) string { return map[int]string{1: "truncated"}[n] }, wantRange: true},
		{name: "corrupt once", plan: func(n int, _ *http.Request) string { return map[int]string{1: "corrupt"}[n] }},
		{name: "always 500", plan: func(int, *http.Request) string { return "500" }, wantErr: hf.ErrIntegrity /* placeholder, checked below */},
		{name: "always cut", plan: func(int, *http.Request) string { return "cut" }, wantErr: io.ErrUnexpectedEOF},
		{name: "always truncated", plan: func(int, *http.Request) string { return "truncated" }, wantErr: errShortBody},
		{name: "always corrupt", plan: func(int, *http.Request) string { return "corrupt" }, wantErr: hf.ErrIntegrity},
		{name: "too long", plan: func(int, *http.Request) string { return "toolong" }, wantErr: hf.ErrIntegrity},
		{name: "always 429", plan: func(int, *http.Request) string { return "429" }, wantErr: hf.ErrRateLimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t, tc.plan)
			cache := t.TempDir()
			snap, err := e.client.Download(ctx, e.repo, e.sha, []string{"model.safetensors"}, cache, hf.DownloadOptions{})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Download: %v", err)
				}
				hubtest.CheckSnapshot(t, snap, e.files)
			} else {
				if err == nil {
					t.Fatalf("Download succeeded, want an error")
				}
				if tc.name == "always 500" {
					var he *hf.HTTPError
					if !errors.As(err, &he) || he.StatusCode != 500 {
						t.Fatalf("Download: got %v, want an HTTP 500 error", err)
					}
				} else if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Download: got %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "model.safetensors") && !strings.Contains(err.Error(), "/resolve/") {
					t.Errorf("error %q does not name the file", err)
				}
				checkNoPartial(t, cache, e, nil)
			}
			if tc.wantSleep != "" {
				found := false
				for _, d := range e.sleeps {
					if d.String() == tc.wantSleep {
						found = true
					}
				}
				if !found {
					t.Errorf("sleeps %v do not include the %s the server asked for", e.sleeps, tc.wantSleep)
				}
			}
			if tc.wantRange {
				resumed := false
				for _, r := range e.proxy.ranges {
					if r != "" && r != "bytes=0-" {
						resumed = true
					}
				}
				if !resumed {
					t.Errorf("no resumed (Range) request; ranges seen %q", e.proxy.ranges)
				}
			}
			if strings.Contains(e.logBuf.String(), testToken) || (err != nil && strings.Contains(err.Error(), testToken)) {
				t.Errorf("token leaked into logs or errors")
			}
		})
	}
}

func TestDownloadCancelled(t *testing.T) {
	e := newFaultEnv(t, func(int, *http.Request) string { return "500" })
	ctx, cancel := context.WithCancel(context.Background())
	e.client.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := e.client.Download(ctx, e.repo, e.sha, nil, t.TempDir(), hf.DownloadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Download after cancel: got %v, want context.Canceled", err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Ratelimit": {`"api";r=0;t=55`}}, 55 * time.Second, true},
		{http.Header{"Ratelimit": {`"api";r=3;t=55`}}, 0, false},
		{http.Header{"Retry-After": {"12"}}, 12 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(9 * time.Second).Format(http.TimeFormat)}}, 9 * time.Second, true},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{}, 0, false},
	} {
		got, ok := retryAfter(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}

func TestChunkedDownload(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		plan    func(n int, r *http.Request) string
		wantErr bool
	}{
		{name: "clean"},
		{name: "500s", plan: func(n int, _ *http.Request) string { return map[int]string{1: "500", 3: "500"}[n] }},
		{name: "stall", plan: func(n int, _ *http.Request) string { return map[int]string{2: "stall"}[n] }},
		{name: "cuts", plan: func(n int, _ *http.Request) string { return map[int]string{1: "cut", 2: "cut", 5: "cut"}[n] }},
		{name: "no range support", plan: func(int, *http.Request) string { return "norange" }},
		{name: "corrupt part once", plan: func(n int, _ *http.Request) string { return map[int]string{2: "corrupt-range"}[n] }},
		{name: "always cut", plan: func(int, *http.Request) string { return "cut" }, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t, tc.plan)
			e.client.chunkThreshold, e.client.chunkParts = 1<<20, 3
			cache := t.TempDir()
			snap, err := e.client.Download(ctx, e.repo, e.sha, []string{"model.safetensors"}, cache, hf.DownloadOptions{})
			if tc.wantErr {
				if err == nil {
					t.Fatal("Download succeeded, want an error")
				}
				checkNoPartial(t, cache, e, nil)
				return
			}
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			hubtest.CheckSnapshot(t, snap, e.files)
			parts := 0
			for _, r := range e.proxy.ranges {
				if strings.Count(r, "-") == 1 && !strings.HasSuffix(r, "-") {
					parts++
				}
			}
			if tc.name == "clean" && parts != 3 {
				t.Errorf("clean chunked download made %d ranged requests, want 3 (%q)", parts, e.proxy.ranges)
			}
			// blobs/ holds the one finished blob, nothing partial.
			blobs, _ := os.ReadDir(filepath.Join(cache, e.repo.CacheDirName(), "blobs"))
			sum := sha256.Sum256(e.files[0].Data)
			want := hex.EncodeToString(sum[:])
			for _, b := range blobs {
				if b.Name() != want {
					t.Errorf("leftover file in blobs/: %s", b.Name())
				}
			}
			if len(blobs) != 1 {
				t.Errorf("blobs/ holds %d files, want the one blob %s", len(blobs), want)
			}
		})
	}
}

func TestChunkedResumeAcrossRuns(t *testing.T) {
	ctx := context.Background()
	failing := true
	e := newFaultEnv(t, func(n int, r *http.Request) string {
		if failing {
			return "cut"
		}
		return ""
	})
	e.client.chunkThreshold, e.client.chunkParts, e.client.retries = 1<<20, 3, 0
	cache := t.TempDir()
	if _, err := e.client.Download(ctx, e.repo, e.sha, []string{"model.safetensors"}, cache, hf.DownloadOptions{}); err == nil {
		t.Fatal("first run succeeded against a cutting server")
	}
	checkNoPartial(t, cache, e, nil)
	failing = false
	e.proxy.ranges = nil
	snap, err := e.client.Download(ctx, e.repo, e.sha, []string{"model.safetensors"}, cache, hf.DownloadOptions{})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	hubtest.CheckSnapshot(t, snap, e.files)
	chunk := (len(e.files[0].Data) + 2) / 3
	for _, r := range e.proxy.ranges {
		a, _, _ := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		start, _ := strconv.Atoi(a)
		if start%chunk == 0 {
			t.Errorf("second run restarted a part from its beginning (%q); want a resume", r)
		}
	}
}

// uploadFaults fails chosen upload requests once.
type uploadFaults struct {
	next  http.Handler
	mu    sync.Mutex
	seen  map[string]int
	fault func(kind string, n int) string
}

func (u *uploadFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := ""
	switch {
	case strings.Contains(r.URL.Path, "/preupload/"):
		kind = "preupload"
	case strings.HasSuffix(r.URL.Path, "/objects/batch"):
		kind = "batch"
	case strings.Contains(r.URL.Path, "/part/"):
		kind = "part"
	case strings.HasSuffix(r.URL.Path, "/complete"):
		kind = "complete"
	case strings.HasPrefix(r.URL.Path, "/lfs-upload/"):
		kind = "put"
	case strings.Contains(r.URL.Path, "/commit/"):
		kind = "commit"
	}
	u.mu.Lock()
	u.seen[kind]++
	n := u.seen[kind]
	u.mu.Unlock()
	switch u.fault(kind, n) {
	case "500":
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":"boom"}`, 500)
	case "429":
		w.Header().Set("RateLimit", `"api";r=0;t=0`)
		http.Error(w, `{"error":"slow down"}`, 429)
	case "cut":
		io.CopyN(io.Discard, r.Body, 1000)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		u.next.ServeHTTP(w, r)
	}
}

func TestUploadFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		fault   func(kind string, n int) string
		wantErr string
	}{
		{name: "transient", fault: func(kind string, n int) string {
			if n == 1 {
				return map[string]string{"preupload": "429", "batch": "500", "part": "cut", "complete": "500", "put": "500", "commit": "429"}[kind]
			}
			return ""
		}},
		{name: "commit 500 is not retried", fault: func(kind string, n int) string {
			if kind == "commit" {
				return "500"
			}
			return ""
		}, wantErr: "commit"},
		{name: "parts always cut", fault: func(kind string, n int) string {
			if kind == "part" {
				return "cut"
			}
			return ""
		}, wantErr: "part"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dh, _ := dirhub.Open(t.TempDir())
			srv, _ := hubserver.New(dh, hubserver.Options{ChunkSize: 1 << 20})
			uf := &uploadFaults{next: srv, seen: map[string]int{}, fault: tc.fault}
			ts := httptest.NewServer(uf)
			defer ts.Close()
			c := newClient(t, ts.URL, "", WithRetries(3))
			c.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
			repo := hf.RepoID{Namespace: "tester", Name: "up"}
			if err := dh.CreateRepo(ctx, repo, false); err != nil {
				t.Fatal(err)
			}
			files := hubtest.Model(31, 3<<20)
			files = append(files, hubtest.File{Path: "tokenizer.model", Data: hubtest.RandomBytes(32, 5000)})
			sha, err := c.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Upload: got %v, want an error about %s", err, tc.wantErr)
				}
				if info, _ := dh.ModelInfo(ctx, repo, ""); len(info.Files) != 1 {
					t.Errorf("failed upload changed the repo: %d files", len(info.Files))
				}
				return
			}
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			snap, err := c.Download(ctx, repo, sha, nil, t.TempDir(), hf.DownloadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			hubtest.CheckSnapshot(t, snap, append(files, hubtest.File{Path: ".gitattributes", Data: []byte(dirhub.GitAttributes)}))
			for _, k := range []string{"preupload", "batch", "part", "complete", "put", "commit"} {
				if uf.seen[k] < 2 {
					t.Errorf("%s was not retried (%d requests)", k, uf.seen[k])
				}
			}
		})
	}
}
