package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/internal/atomicfile"
)

// WithChunkedDownload makes files of at least threshold bytes download as
// parts ranged requests at once (threshold 0 turns it off). The default is
// 256 MiB and 4 parts.
func WithChunkedDownload(threshold int64, parts int) Option {
	return func(c *Client) error {
		c.chunkThreshold, c.chunkParts = threshold, max(1, parts)
		return nil
	}
}

// errNoRanges: the server answered a ranged request with the whole file.
var errNoRanges = errors.New("server does not support range requests")

// chunkState is saved beside a chunked partial file so that a later run
// resumes each part where it stopped.
type chunkState struct {
	Size  int64   `json:"size"`
	Chunk int64   `json:"chunk"`
	Done  []int64 `json:"done"` // bytes written per part
}

func (s *chunkState) bounds(i int) (start, end int64) {
	start = int64(i) * s.Chunk
	return start, min(start+s.Chunk, s.Size)
}

func loadChunkState(p string, size int64, parts int) *chunkState {
	var st chunkState
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &st) == nil &&
		st.Size == size && st.Chunk > 0 && int64(len(st.Done)) == (size+st.Chunk-1)/st.Chunk {
		ok := true
		for i, d := range st.Done {
			s, e := st.bounds(i)
			if d < 0 || d > e-s {
				ok = false
			}
		}
		if ok {
			return &st
		}
	}
	chunk := (size + int64(parts) - 1) / int64(parts)
	n := (size + chunk - 1) / chunk
	return &chunkState{Size: size, Chunk: chunk, Done: make([]int64, n)}
}

// fetchChunked downloads the missing ranges of every part into partial at
// once. On error the progress made is saved for the next attempt.
func (c *Client) fetchChunked(ctx context.Context, repo hf.RepoID, commit, u string, fi hf.FileInfo, partial string, report func(int64)) error {
	statePath := partial + ".json"
	st := loadChunkState(statePath, fi.Size, c.chunkParts)
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return err
	} else if info.Size() != fi.Size {
		if err := f.Truncate(fi.Size); err != nil {
			return err
		}
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	total := func() int64 {
		var n int64
		for _, d := range st.Done {
			n += d
		}
		return n
	}
	save := func() {
		b, _ := json.Marshal(st)
		_ = atomicfile.WriteFile(statePath, b, 0o644)
	}
	for i := range st.Done {
		start, end := st.bounds(i)
		if st.Done[i] >= end-start {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.fetchRange(ctx, repo, commit, u, fi, f, i, start, end, st, &mu, report, total, save)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		save()
		return firstErr
	}
	os.Remove(statePath)
	return nil
}

func (c *Client) fetchRange(ctx context.Context, repo hf.RepoID, commit, u string, fi hf.FileInfo, f *os.File, i int, start, end int64,
	st *chunkState, mu *sync.Mutex, report func(int64), total func() int64, save func()) error {
	mu.Lock()
	off := start + st.Done[i]
	mu.Unlock()
	hdr := http.Header{"Accept-Encoding": {"identity"}, "Range": {"bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end-1, 10)}}
	rctx, guard := newIdleGuard(ctx, c.readTimeout)
	defer guard.stop()
	resp, err := c.do(rctx, request{method: http.MethodGet, url: u, repo: repo, header: hdr, idempotent: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	guard.touch()
	body := guard.body(resp.Body)
	if rc := resp.Header.Get("X-Repo-Commit"); rc != "" && rc != commit {
		return fmt.Errorf("download %q: server answered commit %q, want %q: %w", fi.Path, rc, commit, hf.ErrIntegrity)
	}
	if resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("download %q: status %d to a range request: %w", fi.Path, resp.StatusCode, errNoRanges)
	}
	if s, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || s != off {
		return fmt.Errorf("download %q: server sent range %q for offset %d: %w", fi.Path, resp.Header.Get("Content-Range"), off, errNoRanges)
	}
	buf := make([]byte, 256<<10)
	want := end - off
	var got, sinceSave int64
	for got < want {
		n, rerr := body.Read(buf[:min(int64(len(buf)), want-got)])
		if n > 0 {
			if _, err := f.WriteAt(buf[:n], off+got); err != nil {
				return err
			}
			got += int64(n)
			sinceSave += int64(n)
			mu.Lock()
			st.Done[i] += int64(n)
			done := total()
			if sinceSave >= 16<<20 {
				sinceSave = 0
				save()
			}
			mu.Unlock()
			report(done)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("download %q at byte %d: %w", fi.Path, off+got, guard.wrap(rerr))
		}
	}
	if got < want {
		return fmt.Errorf("download %q: part %d got %d of %d bytes: %w", fi.Path, i+1, got, want, errShortBody)
	}
	return nil
}
