// Package hub is the network client for the Hugging Face Hub HTTP API
// (docs/hub.md#http-client): model info, resolve/download with resume and retries,
// repo creation and visibility, and uploads through preupload → Git LFS
// batch (basic and multipart) → ndjson commit. It implements [hf.Hub] and
// works against huggingface.co or any compatible server such as
// `coldint hub serve` (hf/hubserver).
//
// Configuration follows huggingface_hub: HF_ENDPOINT, HF_TOKEN (or
// HF_ACCESS_TOKEN, the name coldint's miners used), HF_HOME and the token file
// written by `huggingface-cli login` ($HF_HOME/token). The token is sent only
// to the endpoint's own origin: never to a redirect target or upload URL on
// another origin, and it is never logged.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/hf"
)

var _ hf.Hub = (*Client)(nil)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// Client talks to a Hub server. Create it with [New]; it is safe for
// concurrent use.
type Client struct {
	endpoint   *url.URL
	token      string
	http       *http.Client
	retries    int
	parallel   int
	backoff    time.Duration
	maxBackoff time.Duration
	maxWait    time.Duration
	log        *slog.Logger
	sleep      func(ctx context.Context, d time.Duration) error

	chunkThreshold int64 // files this large download as chunkParts ranged parts
	chunkParts     int
	readTimeout    time.Duration
}

// Option configures a [Client].
type Option func(*Client) error

// WithEndpoint sets the server base URL (default: HF_ENDPOINT or huggingface.co).
func WithEndpoint(u string) Option {
	return func(c *Client) error {
		p, err := url.Parse(strings.TrimSuffix(u, "/"))
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("parse hub endpoint %q: must be an http(s) URL", u)
		}
		c.endpoint = p
		return nil
	}
}

// WithToken sets the access token (default: from the environment, see [Token]).
func WithToken(tok string) Option {
	return func(c *Client) error { c.token = strings.TrimSpace(tok); return nil }
}

// WithHTTPClient sets the HTTP client. Its CheckRedirect is wrapped so that
// the token never follows a redirect to another origin.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		cp := *h
		c.http = &cp
		return nil
	}
}

// WithRetries sets how many times a failed request is retried (default 5).
func WithRetries(n int) Option {
	return func(c *Client) error { c.retries = max(0, n); return nil }
}

// WithParallel sets how many files download or upload at once (default 4).
func WithParallel(n int) Option {
	return func(c *Client) error { c.parallel = max(1, n); return nil }
}

// WithBackoff sets the first retry delay and the cap of the exponential
// backoff (defaults 1 s and 30 s). maxWait caps waits the server asks for
// with Retry-After or RateLimit (default 5 min).
func WithBackoff(first, capDelay, maxWait time.Duration) Option {
	return func(c *Client) error {
		c.backoff, c.maxBackoff, c.maxWait = first, capDelay, maxWait
		return nil
	}
}

// WithLogger sets the logger for retries and transfers (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error { c.log = l; return nil }
}

// New returns a client configured from the environment and then opts.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		retries:    5,
		parallel:   4,
		backoff:    time.Second,
		maxBackoff: 30 * time.Second,
		maxWait:    5 * time.Minute,
		log:        slog.Default(),
		sleep:      sleepCtx,

		chunkThreshold: 256 << 20,
		chunkParts:     4,
		readTimeout:    30 * time.Second,
	}
	ep := os.Getenv("HF_ENDPOINT")
	if ep == "" {
		ep = DefaultEndpoint
	}
	if err := WithEndpoint(ep)(c); err != nil {
		return nil, fmt.Errorf("create hub client: %w", err)
	}
	c.token, _ = Token()
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("create hub client: %w", err)
		}
	}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		}}
	}
	inner := c.http.CheckRedirect
	c.http.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if origin(req.URL) != origin(via[0].URL) {
			req.Header.Del("Authorization")
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return c, nil
}

// Endpoint returns the server base URL.
func (c *Client) Endpoint() string { return c.endpoint.String() }

// HasToken reports whether the client has an access token.
func (c *Client) HasToken() bool { return c.token != "" }

func origin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	if u.Port() == "" {
		switch u.Scheme {
		case "https":
			host += ":443"
		case "http":
			host += ":80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// HFHome returns the Hugging Face home folder: HF_HOME, else
// $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func HFHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".cache", "huggingface")
	}
	return filepath.Join(home, ".cache", "huggingface")
}

// DefaultCacheDir is where models are cached: HF_HUB_CACHE, else $HF_HOME/hub.
func DefaultCacheDir() string {
	if c := os.Getenv("HF_HUB_CACHE"); c != "" {
		return c
	}
	return filepath.Join(HFHome(), "hub")
}

// Token returns the access token and where it came from: HF_TOKEN, then
// HF_ACCESS_TOKEN, then the file HF_TOKEN_PATH or $HF_HOME/token that
// `huggingface-cli login` writes. It returns "" when there is none.
func Token() (token, source string) {
	for _, env := range []string{"HF_TOKEN", "HF_ACCESS_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(env)); t != "" {
			return t, env
		}
	}
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(HFHome(), "token")
	}
	b, err := os.ReadFile(p)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, p
		}
	}
	return "", ""
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request describes one HTTP call made by [Client.do].
type request struct {
	method string
	url    string
	repo   hf.RepoID
	header http.Header
	body   func() (io.Reader, error) // nil: no body; called once per attempt
	// idempotent requests are retried on 408/5xx and network errors; others
	// only on 429 (the server did not act on them).
	idempotent bool
}

// apiURL joins path segments (already escaped) to the endpoint.
func (c *Client) apiURL(path string, q url.Values) string {
	u := c.endpoint.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func retryableStatus(code int) bool {
	switch code {
	case 408, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// maxHintSeconds bounds a server's wait hint before it becomes a Duration.
const maxHintSeconds = 86400

// retryAfter reads the wait the server asks for: RateLimit `…;r=0;t=N`
// (IETF draft, as the Hub sends on 429) or Retry-After (seconds or a date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if rl := h.Get("RateLimit"); rl != "" {
		var r, t int64 = -1, -1
		for _, part := range strings.Split(rl, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				continue
			}
			switch strings.TrimSpace(k) {
			case "r":
				r = n
			case "t":
				t = n
			}
		}
		if r == 0 && t >= 0 {
			return time.Duration(min(t, maxHintSeconds)) * time.Second, true
		}
	}
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if n, err := strconv.ParseInt(ra, 10, 64); err == nil && n >= 0 {
			return time.Duration(min(n, maxHintSeconds)) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	return 0, false
}

func (c *Client) backoffFor(attempt int) time.Duration {
	d := c.backoff << min(attempt, 20)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	// full jitter in [d/2, d]
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// wait sleeps before retry number attempt (0-based), honouring the server's
// hints in resp when given.
func (c *Client) wait(ctx context.Context, attempt int, resp *http.Response, why string) error {
	d := c.backoffFor(attempt)
	if resp != nil {
		if hint, ok := retryAfter(resp.Header, time.Now()); ok {
			d = min(hint, c.maxWait)
		}
	}
	c.log.Debug("hub request retry", "why", why, "attempt", attempt+1, "wait", d)
	return c.sleep(ctx, d)
}

func isTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && (strings.Contains(ue.Err.Error(), "stopped after") || strings.Contains(ue.Err.Error(), "unsupported protocol")) {
		return false
	}
	return true // connection refused/reset, EOF, timeouts
}

// do sends r with retries and returns a successful (2xx/3xx/416) response,
// or an *hf.HTTPError / network error. The token goes only to the endpoint's
// origin.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var body io.Reader
		if r.body != nil {
			b, err := r.body()
			if err != nil {
				return nil, err
			}
			body = b
		}
		req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
		if err != nil {
			return nil, fmt.Errorf("build request %s %q: %w", r.method, redact(r.url), err)
		}
		for k, v := range r.header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", "coldint/hf-hub")
		if c.token != "" && origin(req.URL) == origin(c.endpoint) {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its message repeats the URL, query (signatures) included
			}
			lastErr = fmt.Errorf("%s %s: %w", r.method, redact(r.url), err)
			if !isTransient(err) || !r.idempotent || attempt >= c.retries {
				return nil, lastErr
			}
			if err := c.wait(ctx, attempt, nil, err.Error()); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode < 400 || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return resp, nil
		}
		herr := httpError(resp, r)
		retry := retryableStatus(resp.StatusCode) && (r.idempotent || resp.StatusCode == 429)
		if !retry {
			return nil, herr
		}
		if attempt >= c.retries {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt+1, herr)
		}
		if err := c.wait(ctx, attempt, resp, herr.Error()); err != nil {
			return nil, err
		}
	}
}

// redact drops the query string (upload links carry signatures).
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// httpError reads (and closes) an unsuccessful response.
func httpError(resp *http.Response, r request) *hf.HTTPError {
	defer resp.Body.Close()
	e := &hf.HTTPError{
		StatusCode: resp.StatusCode,
		Method:     r.method,
		URL:        redact(r.url),
		Code:       resp.Header.Get("X-Error-Code"),
		Message:    resp.Header.Get("X-Error-Message"),
		RequestID:  resp.Header.Get("X-Request-Id"),
	}
	if !r.repo.IsZero() {
		e.Repo = r.repo.String()
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if e.Message == "" {
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &body) == nil && body.Error != "" {
			e.Message = body.Error
		} else if s := strings.TrimSpace(string(b)); s != "" && len(s) < 300 {
			e.Message = s
		}
	}
	return e
}

// getJSON performs an idempotent GET and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, repo hf.RepoID, u string, v any) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: u, repo: repo, idempotent: true, header: http.Header{"Accept": {"application/json"}}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode %q: %w", redact(u), err)
	}
	return nil
}

// sendJSON performs a request with a JSON body and decodes the answer into
// out (when non-nil).
func (c *Client) sendJSON(ctx context.Context, method string, repo hf.RepoID, u string, in, out any, idempotent bool, contentType string) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/json"
	}
	resp, err := c.do(ctx, request{
		method: method, url: u, repo: repo, idempotent: idempotent,
		header: http.Header{"Content-Type": {contentType}, "Accept": {contentType}},
		body:   func() (io.Reader, error) { return strings.NewReader(string(b)), nil },
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode %q: %w", redact(u), err)
	}
	return nil
}

// repoPath is "ns/name", each part escaped.
func repoPath(repo hf.RepoID) string {
	return url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name)
}

// urlRepoPath is the repo in file and git URLs: "ns/name" for a model,
// "datasets/ns/name" for a dataset.
func urlRepoPath(repo hf.RepoID) string { return repo.Type.URLPrefix() + repoPath(repo) }

// apiRepoPath is the repo in API URLs: "/api/models/ns/name" or
// "/api/datasets/ns/name".
func apiRepoPath(repo hf.RepoID) string { return "/api/" + repo.Type.Plural() + "/" + repoPath(repo) }

// modelInfoJSON is the part of the model info answer the client reads.
type modelInfoJSON struct {
	ID           string          `json:"id"`
	SHA          string          `json:"sha"`
	Private      bool            `json:"private"`
	Gated        json.RawMessage `json:"gated"`
	LastModified string          `json:"lastModified"`
	Siblings     []struct {
		RFilename string      `json:"rfilename"`
		Size      *int64      `json:"size"`
		BlobID    string      `json:"blobId"`
		LFS       *hf.LFSInfo `json:"lfs"`
	} `json:"siblings"`
}

// ModelInfo implements [hf.Hub]: GET /api/models/{repo}/revision/{rev}?blobs=true
// (/api/datasets/... for a dataset repo, whose answer has the same shape).
func (c *Client) ModelInfo(ctx context.Context, repo hf.RepoID, revision string) (*hf.ModelInfo, error) {
	if revision == "" {
		revision = hf.DefaultRevision
	}
	if err := hf.ValidateRevision(revision); err != nil {
		return nil, fmt.Errorf("get model info %q: %w", repo.String(), err)
	}
	u := c.apiURL(apiRepoPath(repo)+"/revision/"+url.PathEscape(revision), url.Values{"blobs": {"true"}})
	var raw modelInfoJSON
	if err := c.getJSON(ctx, repo, u, &raw); err != nil {
		return nil, fmt.Errorf("get model info %q at %q: %w", repo.String(), revision, err)
	}
	return parseModelInfo(repo, revision, &raw)
}

func parseModelInfo(repo hf.RepoID, revision string, raw *modelInfoJSON) (*hf.ModelInfo, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("get model info %q at %q: %s: %w", repo.String(), revision, fmt.Sprintf(format, args...), hf.ErrIntegrity)
	}
	if !hf.IsCommitSHA(raw.SHA) {
		return nil, bad("server sent commit %q", raw.SHA)
	}
	if hf.IsCommitSHA(revision) && raw.SHA != revision {
		return nil, bad("asked for commit %q, server sent %q", revision, raw.SHA)
	}
	info := &hf.ModelInfo{ID: repo, SHA: raw.SHA, Private: raw.Private}
	info.Gated = len(raw.Gated) > 0 && string(raw.Gated) != "false" && string(raw.Gated) != "null"
	if t, err := time.Parse(time.RFC3339, raw.LastModified); err == nil {
		info.LastModified = t
	}
	for _, s := range raw.Siblings {
		if s.Size == nil {
			return nil, bad("no size for %q", s.RFilename)
		}
		fi := hf.FileInfo{Path: s.RFilename, Size: *s.Size, BlobID: s.BlobID, LFS: s.LFS}
		if fi.LFS != nil && fi.LFS.Size != fi.Size {
			return nil, bad("file %q: size %d but lfs size %d", s.RFilename, fi.Size, fi.LFS.Size)
		}
		info.Files = append(info.Files, fi)
	}
	return info, nil
}

// CreateRepo implements [hf.Hub]: POST /api/repos/create.
func (c *Client) CreateRepo(ctx context.Context, repo hf.RepoID, private bool) error {
	vis := "public"
	if private {
		vis = "private"
	}
	body := map[string]any{"name": repo.Name, "organization": repo.Namespace, "type": repo.Type.String(), "private": private, "visibility": vis}
	var out struct {
		URL string `json:"url"`
	}
	if err := c.sendJSON(ctx, http.MethodPost, repo, c.apiURL("/api/repos/create", nil), body, &out, false, ""); err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	return nil
}

// SetVisibility implements [hf.Hub]: PUT /api/models/{repo}/settings.
func (c *Client) SetVisibility(ctx context.Context, repo hf.RepoID, private bool) error {
	body := map[string]any{"private": private} // as huggingface_hub's update_repo_settings
	if err := c.sendJSON(ctx, http.MethodPut, repo, c.apiURL(apiRepoPath(repo)+"/settings", nil), body, nil, true, ""); err != nil {
		return fmt.Errorf("set visibility of %q: %w", repo.String(), err)
	}
	return nil
}
