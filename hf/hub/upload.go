package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"

	"github.com/coldint/coldint/hf"
)

// Batch sizes of the upload protocol (docs/hub.md#uploads).
const (
	preuploadBatch = 256
	lfsBatch       = 100
)

const lfsContentType = "application/vnd.git-lfs+json"

type uploadItem struct {
	hf.UploadFile
	sha256 string
	sample []byte
	lfs    bool
}

// Upload implements [hf.Hub]: preupload decides which files go through LFS,
// LFS objects are uploaded (basic PUT or multipart parts + completion) to the
// links the batch endpoint gives, then one ndjson commit records every file.
func (c *Client) Upload(ctx context.Context, repo hf.RepoID, files []hf.UploadFile, message string, opts hf.UploadOptions) (string, error) {
	rev := opts.Revision
	if rev == "" {
		rev = hf.DefaultRevision
	}
	if err := hf.ValidateRevision(rev); err != nil {
		return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
	}
	items := make([]*uploadItem, 0, len(files))
	seen := map[string]bool{}
	for _, f := range files {
		if err := hf.ValidateFilePath(f.Path); err != nil {
			return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
		}
		if seen[f.Path] {
			return "", fmt.Errorf("upload to %q: file %q given twice: %w", repo.String(), f.Path, hf.ErrUnsafePath)
		}
		seen[f.Path] = true
		it := &uploadItem{UploadFile: f}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f.Content, 0, f.Size)); err != nil {
			return "", fmt.Errorf("upload to %q: hash %q: %w", repo.String(), f.Path, err)
		}
		it.sha256 = hex.EncodeToString(h.Sum(nil))
		it.sample = make([]byte, min(512, f.Size))
		if _, err := f.Content.ReadAt(it.sample, 0); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("upload to %q: read %q: %w", repo.String(), f.Path, err)
		}
		items = append(items, it)
	}
	if err := c.preupload(ctx, repo, rev, items); err != nil {
		return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
	}
	var lfsItems []*uploadItem
	for _, it := range items {
		if it.lfs {
			lfsItems = append(lfsItems, it)
		}
	}
	for i := 0; i < len(lfsItems); i += lfsBatch {
		if err := c.uploadLFS(ctx, repo, rev, lfsItems[i:min(i+lfsBatch, len(lfsItems))], opts.Progress); err != nil {
			return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
		}
	}
	sha, err := c.commit(ctx, repo, rev, items, message, opts)
	if err != nil {
		return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
	}
	return sha, nil
}

func (c *Client) preupload(ctx context.Context, repo hf.RepoID, rev string, items []*uploadItem) error {
	for i := 0; i < len(items); i += preuploadBatch {
		batch := items[i:min(i+preuploadBatch, len(items))]
		type file struct {
			Path   string `json:"path"`
			Size   int64  `json:"size"`
			Sample string `json:"sample"`
		}
		req := struct {
			Files []file `json:"files"`
		}{}
		for _, it := range batch {
			req.Files = append(req.Files, file{Path: it.Path, Size: it.Size, Sample: base64.StdEncoding.EncodeToString(it.sample)})
		}
		var resp struct {
			Files []struct {
				Path         string `json:"path"`
				UploadMode   string `json:"uploadMode"`
				ShouldIgnore bool   `json:"shouldIgnore"`
			} `json:"files"`
		}
		u := c.apiURL(apiRepoPath(repo)+"/preupload/"+url.PathEscape(rev), nil)
		if err := c.sendJSON(ctx, http.MethodPost, repo, u, req, &resp, true, ""); err != nil {
			return fmt.Errorf("preupload: %w", err)
		}
		mode := map[string]string{}
		for _, f := range resp.Files {
			mode[f.Path] = f.UploadMode
		}
		for _, it := range batch {
			switch mode[it.Path] {
			case "lfs":
				it.lfs = true
			case "regular":
			default:
				return fmt.Errorf("preupload: no upload mode for %q", it.Path)
			}
			if it.Size == 0 {
				it.lfs = false
			}
		}
	}
	return nil
}

type lfsAction struct {
	Href   string            `json:"href"`
	Header map[string]string `json:"header"`
}

type lfsBatchObject struct {
	OID     string                `json:"oid"`
	Size    int64                 `json:"size"`
	Actions map[string]*lfsAction `json:"actions"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *Client) uploadLFS(ctx context.Context, repo hf.RepoID, rev string, items []*uploadItem, progress hf.ProgressFunc) error {
	type obj struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	}
	req := map[string]any{
		"operation": "upload",
		"transfers": []string{"basic", "multipart"},
		"hash_algo": "sha256",
		"ref":       map[string]string{"name": rev},
	}
	var objs []obj
	byOID := map[string]*uploadItem{}
	for _, it := range items {
		if _, dup := byOID[it.sha256]; !dup {
			objs = append(objs, obj{OID: it.sha256, Size: it.Size})
		}
		byOID[it.sha256] = it
	}
	req["objects"] = objs
	var resp struct {
		Transfer string           `json:"transfer"`
		Objects  []lfsBatchObject `json:"objects"`
	}
	u := c.apiURL("/"+urlRepoPath(repo)+".git/info/lfs/objects/batch", nil)
	if err := c.sendJSON(ctx, http.MethodPost, repo, u, req, &resp, true, lfsContentType); err != nil {
		return fmt.Errorf("lfs batch: %w", err)
	}
	if resp.Transfer != "" && resp.Transfer != "basic" && resp.Transfer != "multipart" {
		return fmt.Errorf("lfs batch: server chose transfer %q; only basic and multipart are supported", resp.Transfer)
	}
	for _, o := range resp.Objects {
		it, ok := byOID[o.OID]
		if !ok || o.Size != it.Size {
			return fmt.Errorf("lfs batch: server answered for an object not asked for (%q, %d bytes)", o.OID, o.Size)
		}
		if o.Error != nil {
			return fmt.Errorf("lfs batch: %q: %d %s", it.Path, o.Error.Code, o.Error.Message)
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
	for _, o := range resp.Objects {
		it := byOID[o.OID]
		up := o.Actions["upload"]
		if up == nil {
			if progress != nil {
				progress(hf.Progress{Path: it.Path, Done: it.Size, Total: it.Size})
			}
			continue // already stored
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			err := c.uploadObject(ctx, repo, it, up, o.Actions["verify"], progress)
			if err != nil {
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
	return firstErr
}

func (c *Client) uploadObject(ctx context.Context, repo hf.RepoID, it *uploadItem, up, verify *lfsAction, progress hf.ProgressFunc) error {
	report := func(done int64) {
		if progress != nil {
			progress(hf.Progress{Path: it.Path, Done: done, Total: it.Size})
		}
	}
	if cs, ok := up.Header["chunk_size"]; ok {
		if err := c.uploadMultipart(ctx, repo, it, up, cs, report); err != nil {
			return err
		}
	} else {
		resp, err := c.do(ctx, request{
			method: http.MethodPut, url: up.Href, repo: repo, idempotent: true,
			header: http.Header{"Content-Type": {"application/octet-stream"}},
			body: func() (io.Reader, error) {
				return &countingReader{r: io.NewSectionReader(it.Content, 0, it.Size), mibReporter: mibReporter{report: report}}, nil
			},
		})
		if err != nil {
			return fmt.Errorf("upload %q: %w", it.Path, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	report(it.Size)
	if verify != nil && verify.Href != "" {
		body := map[string]any{"oid": it.sha256, "size": it.Size}
		if err := c.sendJSON(ctx, http.MethodPost, repo, verify.Href, body, nil, true, lfsContentType); err != nil {
			return fmt.Errorf("verify upload of %q: %w", it.Path, err)
		}
	}
	return nil
}

func (c *Client) uploadMultipart(ctx context.Context, repo hf.RepoID, it *uploadItem, up *lfsAction, chunkStr string, report func(int64)) error {
	chunk, err := strconv.ParseInt(chunkStr, 10, 64)
	if err != nil || chunk <= 0 {
		return fmt.Errorf("upload %q: bad chunk_size %q", it.Path, chunkStr)
	}
	var parts []int
	for k := range up.Header {
		if n, err := strconv.Atoi(k); err == nil && n > 0 {
			parts = append(parts, n)
		}
	}
	sort.Ints(parts)
	want := int((it.Size + chunk - 1) / chunk)
	if len(parts) != want {
		return fmt.Errorf("upload %q: server gave %d part links, want %d", it.Path, len(parts), want)
	}
	type done struct {
		PartNumber int    `json:"partNumber"`
		ETag       string `json:"etag"`
	}
	etags := make([]done, len(parts))
	for i, n := range parts {
		if n != i+1 {
			return fmt.Errorf("upload %q: part numbers are not 1..%d", it.Path, want)
		}
	}
	urls := make([]string, len(parts))
	for k, v := range up.Header {
		if n, err := strconv.Atoi(k); err == nil && n >= 1 && n <= len(parts) {
			urls[n-1] = v
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		sent     int64
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		sem      = make(chan struct{}, c.parallel)
	)
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-pctx.Done():
				return
			}
			defer func() { <-sem }()
			start := int64(i) * chunk
			size := min(chunk, it.Size-start)
			et, err := c.putPart(pctx, repo, urls[i], it, start, size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("upload %q part %d: %w", it.Path, i+1, err)
					cancel()
				}
				return
			}
			etags[i] = done{PartNumber: i + 1, ETag: et}
			sent += size
			report(sent)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body := map[string]any{"oid": it.sha256, "parts": etags}
	if err := c.sendJSON(ctx, http.MethodPost, repo, up.Href, body, nil, true, lfsContentType); err != nil {
		return fmt.Errorf("complete multipart upload of %q: %w", it.Path, err)
	}
	return nil
}

func (c *Client) commit(ctx context.Context, repo hf.RepoID, rev string, items []*uploadItem, message string, opts hf.UploadOptions) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	header := map[string]string{"summary": message, "description": opts.Description}
	if opts.ParentCommit != "" {
		header["parentCommit"] = opts.ParentCommit
	}
	if err := enc.Encode(map[string]any{"key": "header", "value": header}); err != nil {
		return "", err
	}
	for _, it := range items {
		var line map[string]any
		if it.lfs {
			line = map[string]any{"key": "lfsFile", "value": map[string]any{"path": it.Path, "algo": "sha256", "oid": it.sha256, "size": it.Size}}
		} else {
			b := make([]byte, it.Size)
			if _, err := it.Content.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && it.Size == 0) {
				return "", fmt.Errorf("read %q: %w", it.Path, err)
			}
			line = map[string]any{"key": "file", "value": map[string]any{"path": it.Path, "content": base64.StdEncoding.EncodeToString(b), "encoding": "base64"}}
		}
		if err := enc.Encode(line); err != nil {
			return "", err
		}
	}
	body := buf.Bytes()
	resp, err := c.do(ctx, request{
		method: http.MethodPost, url: c.apiURL(apiRepoPath(repo)+"/commit/"+url.PathEscape(rev), nil), repo: repo,
		header: http.Header{"Content-Type": {"application/x-ndjson"}},
		body:   func() (io.Reader, error) { return bytes.NewReader(body), nil },
	})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		CommitOid string `json:"commitOid"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("commit: decode answer: %w", err)
	}
	if !hf.IsCommitSHA(out.CommitOid) {
		return "", fmt.Errorf("commit: server answered commit %q: %w", out.CommitOid, hf.ErrIntegrity)
	}
	for _, it := range items {
		if !it.lfs && opts.Progress != nil {
			opts.Progress(hf.Progress{Path: it.Path, Done: it.Size, Total: it.Size})
		}
	}
	return out.CommitOid, nil
}

// countingReader reports how much of an upload body has been read, every MiB.
type countingReader struct {
	r io.Reader
	mibReporter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(n)
	return n, err
}

// putPart uploads one slice of a multipart upload and returns its ETag.
func (c *Client) putPart(ctx context.Context, repo hf.RepoID, u string, it *uploadItem, start, size int64) (string, error) {
	resp, err := c.do(ctx, request{
		method: http.MethodPut, url: u, repo: repo, idempotent: true,
		body: func() (io.Reader, error) { return io.NewSectionReader(it.Content, start, size), nil },
	})
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	et := resp.Header.Get("ETag")
	if et == "" {
		return "", errors.New("no ETag in the answer")
	}
	return et, nil
}
