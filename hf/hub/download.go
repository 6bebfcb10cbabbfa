package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/internal/flock"
	"github.com/coldint/coldint/internal/atomicfile"
)

// Download implements [hf.Hub]. It reads the model info at commit (with file
// sizes and hashes), refuses unsafe names and oversize repos before writing
// anything, then fetches the files in parallel. Each file goes to
// blobs/<etag>.incomplete beside the snapshot, resumes from there with a
// Range request after a cut, is checked against its size and hash (sha256
// for LFS files, the git blob sha1 otherwise), and only then is renamed into
// snapshots/<commit>/.
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
	repoCache := filepath.Join(cacheDir, repo.CacheDirName())
	snap := filepath.Join(repoCache, "snapshots", info.SHA)
	blobs := filepath.Join(repoCache, "blobs")
	for _, d := range []string{blobs, snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("download %q: %w", repo.String(), err)
		}
	}
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
			dst := filepath.Join(snap, filepath.FromSlash(fi.Path))
			if err := c.downloadFile(ctx, repo, info.SHA, fi, blobs, dst, opts.Progress); err != nil {
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
	if firstErr != nil {
		return "", fmt.Errorf("download %q at %q: %w", repo.String(), info.SHA, firstErr)
	}
	if commit != "" && commit != info.SHA && !strings.Contains(commit, "/") && hf.ValidateRevision(commit) == nil {
		ref := filepath.Join(repoCache, "refs", commit)
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err == nil {
			_ = atomicfile.WriteFile(ref, []byte(info.SHA), 0o644)
		}
	}
	return snap, nil
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
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newHasher(fi hf.FileInfo) hash.Hash {
	if fi.LFS != nil {
		return sha256.New()
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", fi.Size)
	return h
}

// verifyFile hashes the file at p and compares it with fi.
func verifyFile(p string, fi hf.FileInfo) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := newHasher(fi)
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != fi.Size {
		return fmt.Errorf("check %q: %d bytes, want %d: %w", fi.Path, n, fi.Size, hf.ErrIntegrity)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != expectedHash(fi) {
		return fmt.Errorf("check %q: hash %s, want %s: %w", fi.Path, got, expectedHash(fi), hf.ErrIntegrity)
	}
	return nil
}

// errShortBody marks a response body that ended before the expected size.
var errShortBody = errors.New("response body ended early")

// resolveURL is /{repo}/resolve/{commit}/{path} with each segment escaped.
func (c *Client) resolveURL(repo hf.RepoID, commit, p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.apiURL("/"+repoPath(repo)+"/resolve/"+url.PathEscape(commit)+"/"+strings.Join(segs, "/"), nil)
}

func (c *Client) downloadFile(ctx context.Context, repo hf.RepoID, commit string, fi hf.FileInfo, blobs, dst string, progress hf.ProgressFunc) error {
	report := func(done int64) {
		if progress != nil {
			progress(hf.Progress{Path: fi.Path, Done: done, Total: fi.Size})
		}
	}
	if st, err := os.Lstat(dst); err == nil && st.Mode().IsRegular() && st.Size() == fi.Size && verifyFile(dst, fi) == nil {
		report(fi.Size)
		return nil
	}
	// One process at a time per blob (another validator on the same cache).
	lk, err := flock.Acquire(ctx, filepath.Join(blobs, expectedHash(fi)+".lock"))
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if st, err := os.Lstat(dst); err == nil && st.Mode().IsRegular() && st.Size() == fi.Size && verifyFile(dst, fi) == nil {
		report(fi.Size) // finished by the process that held the lock
		return nil
	}
	partial := filepath.Join(blobs, expectedHash(fi)+".incomplete")
	chunked := c.chunkThreshold > 0 && c.chunkParts > 1 && fi.Size >= c.chunkThreshold
	if chunked {
		partial += ".par" // parts are written in place; progress in partial+".json"
	}
	u := c.resolveURL(repo, commit, fi.Path)
	var lastErr error
	restarted := false
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
				partial = strings.TrimSuffix(partial, ".par")
				err = c.fetchInto(ctx, repo, commit, u, fi, partial, report)
			}
		} else {
			err = c.fetchInto(ctx, repo, commit, u, fi, partial, report)
		}
		if err == nil {
			if err = verifyFile(partial, fi); err != nil {
				// Wrong bytes: start over once from scratch, then give up.
				os.Remove(partial)
				os.Remove(partial + ".json")
				if restarted {
					return err
				}
				restarted = true
				lastErr = err
				continue
			}
			if err := syncFile(partial); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Rename(partial, dst); err != nil {
				return fmt.Errorf("move %q into snapshot: %w", fi.Path, err)
			}
			if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
				return err
			}
			report(fi.Size)
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

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// fetchInto appends the rest of the file to partial, resuming at its size.
func (c *Client) fetchInto(ctx context.Context, repo hf.RepoID, commit, u string, fi hf.FileInfo, partial string, report func(int64)) error {
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
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
