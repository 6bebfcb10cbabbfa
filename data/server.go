package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of the datasets-server client.
const (
	// DefaultServerURL is the public datasets-server.
	DefaultServerURL = "https://datasets-server.huggingface.co"
	// DefaultDataset is the dataset the sn29 validator reads.
	DefaultDataset = "HuggingFaceFW/fineweb-edu-score-2"
	// ServerEnv overrides the datasets-server base URL, like HF_ENDPOINT does
	// for the Hub (for a mirror or a local test server).
	ServerEnv = "HF_DATASETS_SERVER"
	// MaxPageRows is the largest length /rows accepts.
	MaxPageRows = 100
	// maxBody caps the size of one answer.
	maxBody = 64 << 20
)

// Server reads a dataset from a Hugging Face datasets-server (docs/hub.md#datasets-server).
// The zero value is not usable; call [NewServer].
type Server struct {
	// BaseURL of the server, without a trailing slash.
	BaseURL string
	// Dataset id, such as HuggingFaceFW/fineweb-edu-score-2.
	Dataset string
	// Client does the requests.
	Client *http.Client
	// Attempts per request (at least 1) for network errors, 408, 429, 502,
	// 503 and 504. HTTP 500 on /rows is never retried ([ErrSkipPage]).
	Attempts int
	// Delay before the first retry; it doubles per retry up to MaxDelay. A
	// Retry-After header (seconds) overrides it, capped at MaxDelay.
	Delay, MaxDelay time.Duration
	// Token, when set, is sent as a bearer token (never logged).
	Token string
	// UserAgent of the requests.
	UserAgent string
}

// NewServer returns a client for dataset (DefaultDataset when empty) at the
// URL in $HF_DATASETS_SERVER, or DefaultServerURL. The retry policy follows
// the validator (3 s between attempts) with one more attempt and backoff.
func NewServer(dataset string) *Server {
	base := os.Getenv(ServerEnv)
	if base == "" {
		base = DefaultServerURL
	}
	if dataset == "" {
		dataset = DefaultDataset
	}
	return &Server{
		BaseURL:   strings.TrimRight(base, "/"),
		Dataset:   dataset,
		Client:    &http.Client{Timeout: 60 * time.Second},
		Attempts:  3,
		Delay:     3 * time.Second,
		MaxDelay:  30 * time.Second,
		UserAgent: "coldint",
	}
}

var _ Source = (*Server)(nil)

// Splits calls /size and returns its splits without the config "default",
// in the server's order (as the validator does).
func (s *Server) Splits(ctx context.Context) ([]Split, error) {
	q := url.Values{"dataset": {s.Dataset}}
	body, err := s.get(ctx, "/size", q, false)
	if err != nil {
		return nil, fmt.Errorf("get dataset size %q: %w", s.Dataset, err)
	}
	splits, err := DecodeSize(body)
	if err != nil {
		return nil, fmt.Errorf("get dataset size %q: %w", s.Dataset, err)
	}
	if len(splits) == 0 {
		return nil, fmt.Errorf("get dataset size %q: %w", s.Dataset, ErrNoSplits)
	}
	return splits, nil
}

// Rows calls /rows, in requests of at most [MaxPageRows] rows, until
// p.Length rows were read or the split ends.
func (s *Server) Rows(ctx context.Context, p Page) ([]Row, error) {
	if p.Offset < 0 || p.Length <= 0 {
		return nil, fmt.Errorf("get rows %s: offset must be ≥ 0 and length > 0", p)
	}
	var out []Row
	for len(out) < p.Length {
		n := min(p.Length-len(out), MaxPageRows)
		off := p.Offset + int64(len(out))
		q := url.Values{
			"dataset": {s.Dataset},
			"config":  {p.Config},
			"split":   {p.Split},
			"offset":  {strconv.FormatInt(off, 10)},
			"length":  {strconv.Itoa(n)},
		}
		body, err := s.get(ctx, "/rows", q, true)
		if err != nil {
			return nil, fmt.Errorf("get rows %s: %w", p, err)
		}
		rows, err := DecodeRows(body)
		if err != nil {
			return nil, fmt.Errorf("get rows %s: %w", p, err)
		}
		if len(rows) > n {
			rows = rows[:n]
		}
		out = append(out, rows...)
		if len(rows) < n {
			break // end of split
		}
	}
	return out, nil
}

// statusError is a non-2xx answer.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	if e.msg != "" {
		return fmt.Sprintf("HTTP %d: %s", e.code, e.msg)
	}
	return fmt.Sprintf("HTTP %d", e.code)
}

func retryable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// get performs one GET with retries and returns the body of a 200 answer.
func (s *Server) get(ctx context.Context, path string, q url.Values, skip500 bool) ([]byte, error) {
	attempts := max(s.Attempts, 1)
	delay := s.Delay
	var lastErr error
	for attempt := 1; ; attempt++ {
		body, wait, err := s.once(ctx, path, q)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var se *statusError
		if errors.As(err, &se) {
			if se.code == http.StatusInternalServerError && skip500 {
				return nil, fmt.Errorf("%w: %w", ErrSkipPage, err)
			}
			if !retryable(se.code) && se.code != http.StatusInternalServerError {
				return nil, err
			}
		} else if errors.Is(err, ErrInvalidResponse) {
			return nil, err
		}
		lastErr = err
		if attempt >= attempts {
			return nil, fmt.Errorf("after %d attempts: %w", attempt, lastErr)
		}
		d := delay
		if wait > 0 {
			d = wait
		}
		if s.MaxDelay > 0 && d > s.MaxDelay {
			d = s.MaxDelay
		}
		slog.Warn("datasets-server request failed, retrying", "path", path, "attempt", attempt, "of", attempts, "delay", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay *= 2
	}
}

// once performs one request; wait is the server's Retry-After, if any.
func (s *Server) once(ctx context.Context, path string, q url.Values) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BaseURL+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, 0, fmt.Errorf("%w: body larger than %d bytes", ErrInvalidResponse, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, retryAfter(resp.Header), &statusError{code: resp.StatusCode, msg: e.Error}
	}
	return body, 0, nil
}

// retryAfter reads Retry-After (seconds) or the reset of a RateLimit header
// ("...;r=0;t=N"), returning 0 when neither is present.
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	if v := h.Get("RateLimit"); v != "" {
		for _, part := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == "t" {
				if n, err := strconv.Atoi(val); err == nil && n >= 0 {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	return 0
}

// sizeResponse is the /size answer.
type sizeResponse struct {
	Size *struct {
		Splits []struct {
			Config  string `json:"config"`
			Split   string `json:"split"`
			NumRows *int64 `json:"num_rows"`
		} `json:"splits"`
	} `json:"size"`
	Partial bool `json:"partial"`
}

// DecodeSize decodes a /size answer into its splits, dropping the config
// "default" as the validator does. Every kept split needs a config, a split
// and a non-negative num_rows.
func DecodeSize(body []byte) ([]Split, error) {
	var r sizeResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: decode /size: %v", ErrInvalidResponse, err)
	}
	if r.Size == nil {
		return nil, fmt.Errorf("%w: /size has no \"size\" object", ErrInvalidResponse)
	}
	var out []Split
	for i, s := range r.Size.Splits {
		if s.Config == "default" {
			continue
		}
		if s.Config == "" || s.Split == "" || s.NumRows == nil || *s.NumRows < 0 {
			return nil, fmt.Errorf("%w: /size split %d lacks config, split or num_rows", ErrInvalidResponse, i)
		}
		out = append(out, Split{Config: s.Config, Split: s.Split, NumRows: *s.NumRows})
	}
	return out, nil
}

// rowsResponse is the /rows answer (libapi PaginatedResponse).
type rowsResponse struct {
	Rows *[]struct {
		RowIdx         *int64         `json:"row_idx"`
		Row            map[string]any `json:"row"`
		TruncatedCells []string       `json:"truncated_cells"`
	} `json:"rows"`
	NumRowsTotal int64 `json:"num_rows_total"`
}

// DecodeRows decodes a /rows answer. Every row needs a row_idx and a string
// "text" column; other columns are ignored.
func DecodeRows(body []byte) ([]Row, error) {
	var r rowsResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: decode /rows: %v", ErrInvalidResponse, err)
	}
	if r.Rows == nil {
		return nil, fmt.Errorf("%w: /rows has no \"rows\" list", ErrInvalidResponse)
	}
	out := make([]Row, 0, len(*r.Rows))
	for i, it := range *r.Rows {
		text, ok := it.Row["text"].(string)
		if !ok || it.RowIdx == nil {
			return nil, fmt.Errorf("%w: /rows row %d lacks row_idx or a string \"text\"", ErrInvalidResponse, i)
		}
		row := Row{Index: *it.RowIdx, Text: text}
		for _, c := range it.TruncatedCells {
			if c == "text" {
				row.Truncated = true
			}
		}
		out = append(out, row)
	}
	return out, nil
}
