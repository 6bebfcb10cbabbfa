package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer speaks the datasets-server /size and /rows JSON shapes
// (docs/hub.md#datasets-server) over generated documents, with injectable faults.
type fakeServer struct {
	dataset string
	configs []Split // includes a "default" config, as the real answer does
	mu      sync.Mutex
	faults  []func(w http.ResponseWriter, r *http.Request) bool // consumed in order
	calls   []string
	headers http.Header
}

func docText(config string, i int64) string { return fmt.Sprintf("%s document %d <&>", config, i) }

func newFake() *fakeServer {
	return &fakeServer{
		dataset: DefaultDataset,
		configs: []Split{
			{Config: "default", Split: "train", NumRows: 1000},
			{Config: "CC-MAIN-2013-20", Split: "train", NumRows: 350},
			{Config: "CC-MAIN-2024-10", Split: "train", NumRows: 120},
		},
	}
}

func (f *fakeServer) fault(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.faults = append(f.faults, fn)
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.URL.Path+"?"+r.URL.RawQuery)
	f.headers = r.Header.Clone()
	var fault func(http.ResponseWriter, *http.Request) bool
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("dataset") != f.dataset {
		writeJSON(w, 404, map[string]string{"error": "The dataset does not exist on the Hub.", "cause_exception": "DatasetNotFoundError"})
		return
	}
	switch r.URL.Path {
	case "/size":
		var splits []map[string]any
		var configs []map[string]any
		for _, c := range f.configs {
			splits = append(splits, map[string]any{"dataset": f.dataset, "config": c.Config, "split": c.Split,
				"num_bytes_parquet_files": 1234, "num_bytes_memory": 5678, "num_rows": c.NumRows, "num_columns": 11})
			configs = append(configs, map[string]any{"dataset": f.dataset, "config": c.Config,
				"num_bytes_original_files": nil, "num_bytes_parquet_files": 1234, "num_bytes_memory": 5678, "num_rows": c.NumRows, "num_columns": 11})
		}
		writeJSON(w, 200, map[string]any{
			"size": map[string]any{
				"dataset": map[string]any{"dataset": f.dataset, "num_bytes_original_files": 1, "num_bytes_parquet_files": 1, "num_bytes_memory": 1, "num_rows": 1470},
				"configs": configs, "splits": splits,
			},
			"pending": []any{}, "failed": []any{}, "partial": false,
		})
	case "/rows":
		off, err1 := strconv.ParseInt(q.Get("offset"), 10, 64)
		length, err2 := strconv.Atoi(q.Get("length"))
		if err1 != nil || err2 != nil || length > 100 || length < 0 || off < 0 {
			writeJSON(w, 422, map[string]string{"error": "Parameter 'length' must be positive and at most 100", "cause_exception": "InvalidParameter"})
			return
		}
		var total int64 = -1
		for _, c := range f.configs {
			if c.Config == q.Get("config") && c.Split == q.Get("split") {
				total = c.NumRows
			}
		}
		if total < 0 {
			writeJSON(w, 404, map[string]string{"error": "Not found."})
			return
		}
		rows := []map[string]any{}
		for i := off; i < off+int64(length) && i < total; i++ {
			rows = append(rows, map[string]any{
				"row_idx": i,
				"row": map[string]any{"text": docText(q.Get("config"), i), "id": fmt.Sprintf("<urn:uuid:%d>", i), "dump": q.Get("config"),
					"url": "http://example.com/", "date": "2013-05-18T05:48:54Z", "language": "en", "language_score": 0.97, "token_count": 42, "score": 3.1, "int_score": 3},
				"truncated_cells": []string{},
			})
		}
		writeJSON(w, 200, map[string]any{
			"features": []map[string]any{
				{"feature_idx": 0, "name": "text", "type": map[string]string{"dtype": "string", "_type": "Value"}},
				{"feature_idx": 1, "name": "id", "type": map[string]string{"dtype": "string", "_type": "Value"}},
			},
			"rows": rows, "num_rows_total": total, "num_rows_per_page": 100, "partial": false,
		})
	default:
		http.NotFound(w, r)
	}
}

func newTestServer(t *testing.T, f *fakeServer) *Server {
	t.Helper()
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	t.Setenv(ServerEnv, ts.URL+"/")
	s := NewServer("")
	s.Delay = time.Millisecond
	s.MaxDelay = 20 * time.Millisecond
	s.Client = ts.Client()
	return s
}

func TestServerSplitsAndRows(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s := newTestServer(t, f)
	splits, err := s.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.configs[1:]; !reflect.DeepEqual(splits, want) {
		t.Fatalf("Splits = %+v; want %+v (default dropped)", splits, want)
	}
	tests := []struct {
		name     string
		page     Page
		n        int
		requests int
	}{
		{"one request", Page{"CC-MAIN-2013-20", "train", 10, 25}, 25, 1},
		{"paged over 100", Page{"CC-MAIN-2013-20", "train", 5, 250}, 250, 3},
		{"end of split", Page{"CC-MAIN-2024-10", "train", 100, 50}, 20, 1},
		{"exactly 100 then end", Page{"CC-MAIN-2024-10", "train", 20, 150}, 100, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.calls = nil
			f.mu.Unlock()
			rows, err := s.Rows(ctx, tc.page)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.n {
				t.Fatalf("got %d rows; want %d", len(rows), tc.n)
			}
			for i, r := range rows {
				idx := tc.page.Offset + int64(i)
				if r.Index != idx || r.Text != docText(tc.page.Config, idx) {
					t.Fatalf("row %d = %+v", i, r)
				}
			}
			if len(f.calls) > tc.requests+1 || len(f.calls) < tc.requests {
				t.Fatalf("requests %v; want about %d", f.calls, tc.requests)
			}
		})
	}
	if _, err := s.Rows(ctx, Page{"nope", "train", 0, 5}); err == nil {
		t.Fatal("unknown config gave rows")
	}
	if f.headers.Get("Authorization") != "" {
		t.Fatal("authorization sent without a token")
	}
}

func TestServerFaults(t *testing.T) {
	ctx := context.Background()
	status := func(code int, hdr map[string]string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			for k, v := range hdr {
				w.Header().Set(k, v)
			}
			writeJSON(w, code, map[string]string{"error": "injected"})
			return true
		}
	}
	cut := func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(200)
		w.Write([]byte(`{"rows": [{"row_idx": 0, "row": {"te`))
		if hj, ok := w.(http.Hijacker); ok {
			c, _, _ := hj.Hijack()
			c.Close()
		}
		return true
	}
	garbage := func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(200)
		w.Write([]byte("<html>not json</html>"))
		return true
	}
	page := Page{"CC-MAIN-2013-20", "train", 0, 10}
	tests := []struct {
		name    string
		faults  []func(http.ResponseWriter, *http.Request) bool
		wantErr error // nil: succeeds
		calls   int
	}{
		{"503 then ok", []func(http.ResponseWriter, *http.Request) bool{status(503, nil)}, nil, 2},
		{"429 with RateLimit then ok", []func(http.ResponseWriter, *http.Request) bool{status(429, map[string]string{"RateLimit": `"api";r=0;t=0`, "RateLimit-Policy": `"fixed window";"api";q=500;w=300`})}, nil, 2},
		{"429 with Retry-After then ok", []func(http.ResponseWriter, *http.Request) bool{status(429, map[string]string{"Retry-After": "0"})}, nil, 2},
		{"cut mid-body then ok", []func(http.ResponseWriter, *http.Request) bool{cut}, nil, 2},
		{"500 skips the page", []func(http.ResponseWriter, *http.Request) bool{status(500, nil)}, ErrSkipPage, 1},
		{"invalid json gives up", []func(http.ResponseWriter, *http.Request) bool{garbage}, ErrInvalidResponse, 1},
		{"persistent 503 fails", []func(http.ResponseWriter, *http.Request) bool{status(503, nil), status(503, nil), status(503, nil)}, errors.New("after 3 attempts"), 3},
		{"404 is not retried", []func(http.ResponseWriter, *http.Request) bool{status(404, nil)}, errors.New("HTTP 404"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			s := newTestServer(t, f)
			for _, fl := range tc.faults {
				f.fault(fl)
			}
			rows, err := s.Rows(ctx, page)
			switch {
			case tc.wantErr == nil && (err != nil || len(rows) != 10):
				t.Fatalf("Rows = %d rows, %v; want 10 rows", len(rows), err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("Rows succeeded; want %v", tc.wantErr)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr) && !strings.Contains(err.Error(), tc.wantErr.Error()):
				t.Fatalf("Rows error %v; want %v", err, tc.wantErr)
			}
			if len(f.calls) != tc.calls {
				t.Fatalf("calls %d (%v); want %d", len(f.calls), f.calls, tc.calls)
			}
		})
	}
}

func TestServerSizeRetriesOn500AndCancel(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f)
	f.fault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(500); return true })
	if _, err := s.Splits(context.Background()); err != nil {
		t.Fatalf("Splits after one 500: %v", err)
	}
	// A long Retry-After is cut short by the context.
	s.MaxDelay = time.Hour
	f.fault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Splits(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Splits under a short deadline = %v", err)
	}
}

func TestServerToken(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f)
	s.Token = "hf_secret"
	if _, err := s.Splits(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.headers.Get("Authorization"); got != "Bearer hf_secret" {
		t.Fatalf("Authorization = %q", got)
	}
}

func TestFetchRandomPagesFromServer(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s := newTestServer(t, f)
	// Every other /rows call fails with 500: those pages are skipped.
	for i := 0; i < 4; i++ {
		f.fault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/rows" {
				w.WriteHeader(500)
				return true
			}
			return false
		})
		f.fault(func(http.ResponseWriter, *http.Request) bool { return false })
	}
	fetched, err := Fetch(ctx, s, NewRand(7), 5, 25)
	texts, pages := Texts(fetched), Pages(fetched)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 5 || len(texts) != 125 {
		t.Fatalf("got %d pages, %d texts", len(pages), len(texts))
	}
	rowsCalls := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "/rows") {
			rowsCalls++
		}
	}
	if rowsCalls < 7 {
		t.Fatalf("%d /rows calls: the failing pages were not skipped and replaced", rowsCalls)
	}
	// Replaying the pages gives the identical buffer (test_dataset.py).
	again, err := FetchPages(ctx, s, pages)
	if err != nil || !reflect.DeepEqual(again, texts) {
		t.Fatalf("replay differs: %v", err)
	}
}

func TestDecodeSizeAndRows(t *testing.T) {
	sizeTests := []struct {
		in   string
		want []Split
		ok   bool
	}{
		{`{"size":{"splits":[{"config":"default","split":"train","num_rows":5},{"config":"a","split":"train","num_rows":3}]},"partial":false}`, []Split{{"a", "train", 3}}, true},
		{`{"size":{"splits":[]}}`, nil, true},
		{`{"size":{"splits":[{"config":"a","split":"train"}]}}`, nil, false},
		{`{"size":{"splits":[{"config":"a","split":"train","num_rows":-1}]}}`, nil, false},
		{`{"error":"x"}`, nil, false},
		{`[]`, nil, false},
	}
	for _, tc := range sizeTests {
		got, err := DecodeSize([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("DecodeSize(%s) = %v, %v", tc.in, got, err)
		}
	}
	rowTests := []struct {
		in   string
		want []Row
		ok   bool
	}{
		{`{"rows":[{"row_idx":4,"row":{"text":"hi","score":2.5},"truncated_cells":["text"]}]}`, []Row{{4, "hi", true}}, true},
		{`{"rows":[]}`, []Row{}, true},
		{`{"rows":[{"row_idx":4,"row":{"text":5}}]}`, nil, false},
		{`{"rows":[{"row":{"text":"x"}}]}`, nil, false},
		{`{"features":[]}`, nil, false},
		{`null`, nil, false},
	}
	for _, tc := range rowTests {
		got, err := DecodeRows([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("DecodeRows(%s) = %v, %v", tc.in, got, err)
		}
	}
}

func FuzzDecodeRows(f *testing.F) {
	f.Add([]byte(`{"rows":[{"row_idx":4,"row":{"text":"hi"},"truncated_cells":["text"]}],"num_rows_total":9}`))
	f.Add([]byte(`{"rows":[{"row_idx":4,"row":{"text":null}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := DecodeRows(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("error not ErrInvalidResponse: %v", err)
			}
			return
		}
		if rows == nil {
			t.Fatal("nil rows without error")
		}
	})
}

func FuzzDecodeSize(f *testing.F) {
	f.Add([]byte(`{"size":{"splits":[{"config":"a","split":"train","num_rows":3}]}}`))
	f.Add([]byte(`{"size":{"splits":[{"config":"default","split":"train","num_rows":3}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		splits, err := DecodeSize(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("error not ErrInvalidResponse: %v", err)
			}
			return
		}
		for _, s := range splits {
			if s.Config == "default" || s.Config == "" || s.Split == "" || s.NumRows < 0 {
				t.Fatalf("bad split kept: %+v", s)
			}
		}
	})
}

func TestFetchGivesUpWhenServerDown(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f)
	splits, err := s.Splits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		f.fault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(500); return true })
	}
	src := fixedSplits{Source: s, splits: splits}
	got, err := Fetch(context.Background(), src, NewRand(1), 50, 10)
	if err == nil || len(got) != 0 {
		t.Fatalf("Fetch = %d pages, %v; want an error", len(got), err)
	}
	if n := len(f.calls); n != 1+MaxConsecutiveFailures {
		t.Fatalf("%d requests; want %d", n, 1+MaxConsecutiveFailures)
	}
}

// fixedSplits answers Splits from a list, Rows from the wrapped source.
type fixedSplits struct {
	Source
	splits []Split
}

func (f fixedSplits) Splits(context.Context) ([]Split, error) { return f.splits, nil }
