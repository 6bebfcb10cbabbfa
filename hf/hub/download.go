package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
)

// Download implements [hf.Hub]. It reads the model info at commit (with file
// sizes and hashes), refuses unsafe names and oversize repos before writing
// anything, then fetches the files in parallel into the Hugging Face cache
// layout of package hfcache: each file goes to blobs/<etag>.incomplete,
// resumes from there with a Range request after a cut, is checked against
// its size and hash (sha256 for LFS files, the git blob sha1 otherwise), and
// only then enters blobs/ and is linked from snapshots/<commit>/. Files the
// cache already holds (for this or another commit, written by coldint or by
// huggingface_hub) are linked, not fetched again. With opts.SkipMissing, a
// requested name the repo lacks gets a .no_exist marker.
func (c *Client) Download(ctx context.Context, repo hf.RepoID, commit string, files []string, cacheDir string, opts hf.DownloadOptions) (string, error) {
	info, err := c.ModelInfo(ctx, repo, commit)
	if err != nil {
		return "", fmt.Errorf("download %q: %w", repo.String(), err)
	}
	plan, err := hf.PlanDownload(info, files, opts)
	if err != nil {
		return "", fmt.Errorf("download %q: %w", repo.String(), err)
	}
	for _, fi := range plan {
		if expectedHash(fi) == "" {
			return "", fmt.Errorf("download %q: server gave no hash for %q: %w", repo.String(), fi.Path, hf.ErrIntegrity)
		}
	}
	rc := hfcache.Open(cacheDir, hfcache.Type(repo.Type.String()), repo)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, c.parallel)
	)
	for _, fi := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := c.downloadFile(ctx, repo, info.SHA, fi, rc, opts.Progress); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil {
		firstErr = rc.RecordDownload(info, files, commit)
	}
	if firstErr != nil {
		return "", fmt.Errorf("download %q at %q: %w", repo.String(), info.SHA, firstErr)
	}
	return rc.SnapshotDir(info.SHA), nil
}

// expectedHash returns the lowercase hex digest a file must have: the LFS
// sha256, or the git blob sha1 for regular files ("" when the server gave none).
func expectedHash(fi hf.FileInfo) string {
	if fi.LFS != nil {
		if isHex(fi.LFS.SHA256, 64) {
			return fi.LFS.SHA256
		}
		return ""
	}
	if isHex(fi.BlobID, 40) {
		return fi.BlobID
	}
	return ""
}

func isHex(s string, n int) bool {
	return len(s) == n && hfcache.ValidETag(s)
}

// errShortBody marks a response body that ended before the expected size.
var errShortBody = errors.New("response body ended early")

// resolveURL is /{repo}/resolve/{commit}/{path} with each segment escaped.
func (c *Client) resolveURL(repo hf.RepoID, commit, p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.apiURL("/"+urlRepoPath(repo)+"/resolve/"+url.PathEscape(commit)+"/"+strings.Join(segs, "/"), nil)
}

func (c *Client) downloadFile(ctx context.Context, repo hf.RepoID, commit string, fi hf.FileInfo, rc *hfcache.Repo, progress hf.ProgressFunc) error {
	report := func(done int64) {
		if progress != nil {
			progress(hf.Progress{Path: fi.Path, Done: done, Total: fi.Size})
		}
	}
	f := hfcache.File{Path: fi.Path, ETag: expectedHash(fi), Size: fi.Size}
	_, err := rc.Place(ctx, commit, f, func(ctx context.Context, partial string) error {
		return c.fetchWithRetries(ctx, repo, commit, fi, partial, report)
	})
	if err != nil {
		return err
	}
	report(fi.Size)
	return nil
}

// fetchWithRetries fetches the whole file into partial, in parts when it is
// large, resuming after transient failures.
func (c *Client) fetchWithRetries(ctx context.Context, repo hf.RepoID, commit string, fi hf.FileInfo, partial string, report func(int64)) error {
	final := partial
	chunked := c.chunkThreshold > 0 && c.chunkParts > 1 && fi.Size >= c.chunkThreshold
	if chunked {
		partial += ".par" // parts are written in place; progress in partial+".json"
	}
	u := c.resolveURL(repo, commit, fi.Path)
	var lastErr error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			if err := c.wait(ctx, attempt-1, nil, lastErr.Error()); err != nil {
				return err
			}
		}
		var err error
		if chunked {
			err = c.fetchChunked(ctx, repo, commit, u, fi, partial, report)
			if errors.Is(err, errNoRanges) {
				// Fall back to one stream for servers without ranges.
				c.log.Debug("hub download: no range support, using one stream", "file", fi.Path)
				os.Remove(partial)
				os.Remove(partial + ".json")
				chunked = false
				partial = final
				err = c.fetchInto(ctx, repo, commit, u, fi, partial, report)
			}
		} else {
			err = c.fetchInto(ctx, repo, commit, u, fi, partial, report)
		}
		if err == nil {
			if partial != final {
				return os.Rename(partial, final)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var herr *hf.HTTPError
		if errors.As(err, &herr) || errors.Is(err, hf.ErrIntegrity) {
			return err // do() already retried what can be retried
		}
		lastErr = err
		c.log.Debug("hub download interrupted, resuming", "file", fi.Path, "err", err)
	}
	return fmt.Errorf("download %q: giving up after %d attempts: %w", fi.Path, c.retries+1, lastErr)
}

// fetchInto appends the rest of the file to partial, resuming at its size.
func (c *Client) fetchInto(ctx context.Context, repo hf.RepoID, commit, u string, fi hf.FileInfo, partial string, report func(int64)) error {
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	off := st.Size()
	if off > fi.Size {
		off = 0
	}
	if off == fi.Size && fi.Size > 0 {
		return nil
	}
	hdr := http.Header{"Accept-Encoding": {"identity"}}
	if off > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	rctx, guard := newIdleGuard(ctx, c.readTimeout)
	defer guard.stop()
	resp, err := c.do(rctx, request{method: http.MethodGet, url: u, repo: repo, header: hdr, idempotent: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	guard.touch()
	if rc := resp.Header.Get("X-Repo-Commit"); rc != "" && rc != commit {
		return fmt.Errorf("download %q: server answered commit %q, want %q: %w", fi.Path, rc, commit, hf.ErrIntegrity)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			// Unexpected range: restart cleanly on the next attempt.
			if err := f.Truncate(0); err != nil {
				return err
			}
			return fmt.Errorf("download %q: server sent range %q for offset %d", fi.Path, resp.Header.Get("Content-Range"), off)
		}
	case http.StatusOK:
		off = 0
	case http.StatusRequestedRangeNotSatisfiable:
		if err := f.Truncate(0); err != nil {
			return err
		}
		return fmt.Errorf("download %q: range not satisfiable, restarting", fi.Path)
	default:
		return fmt.Errorf("download %q: unexpected status %d", fi.Path, resp.StatusCode)
	}
	if err := f.Truncate(off); err != nil {
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	remaining := fi.Size - off
	w := &progressWriter{w: f, mibReporter: mibReporter{n: off, report: report}}
	n, err := io.Copy(w, io.LimitReader(guard.body(resp.Body), remaining+1))
	if err != nil {
		return fmt.Errorf("download %q at byte %d: %w", fi.Path, off+n, guard.wrap(err))
	}
	if n > remaining {
		f.Truncate(0)
		return fmt.Errorf("download %q: server sent more than %d bytes: %w", fi.Path, fi.Size, hf.ErrIntegrity)
	}
	if n < remaining {
		return fmt.Errorf("download %q: got %d of %d bytes: %w", fi.Path, off+n, fi.Size, errShortBody)
	}
	return nil
}

func contentRangeStart(h string) (int64, bool) {
	// "bytes START-END/TOTAL"
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	startStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(startStr, 10, 64)
	return n, err == nil
}

// mibReporter counts transferred bytes and reports the total every MiB.
type mibReporter struct {
	n, last int64
	report  func(int64)
}

func (m *mibReporter) add(n int) {
	m.n += int64(n)
	if m.n-m.last >= 1<<20 {
		m.last = m.n
		m.report(m.n)
	}
}

// progressWriter reports how much of a download has been written, every MiB.
type progressWriter struct {
	w io.Writer
	mibReporter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.add(n)
	return n, err
}
