package data

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHandlerRoundTrip serves a local corpus as a datasets-server and reads
// it back with the client: the same seed gives the same pages and texts as
// reading the local source directly.
func TestHandlerRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 260; i++ {
		b.WriteString(`{"text":"doc ` + strconv.Itoa(i) + ` <é>"}` + "\n")
	}
	writeFile(t, filepath.Join(dir, "shard-1.jsonl"), []byte(b.String()))
	writeFile(t, filepath.Join(dir, "small.txt"), []byte("one\n\ntwo\n"))
	local, err := OpenLocal(ctx, []string{filepath.Join(dir, "shard-1.jsonl"), filepath.Join(dir, "small.txt")}, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(Handler(local, "me/corpus"))
	defer ts.Close()
	s := NewServer("me/corpus")
	s.BaseURL, s.Client, s.Delay = ts.URL, ts.Client(), time.Millisecond

	ls, _ := local.Splits(ctx)
	ss, err := s.Splits(ctx)
	if err != nil || !reflect.DeepEqual(ls, ss) {
		t.Fatalf("server splits %+v, %v; local %+v", ss, err, ls)
	}
	want, err := Fetch(ctx, local, NewRand(3), 8, 150)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Fetch(ctx, s, NewRand(3), 8, 150)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("served pages differ (%v)", err)
	}

	bad := []struct {
		query string
		code  int
	}{
		{"/rows?dataset=me/corpus&config=shard-1.jsonl&split=train&length=101", 422},
		{"/rows?dataset=me/corpus&config=shard-1.jsonl&split=train&offset=-1", 422},
		{"/rows?dataset=me/corpus&config=nope&split=train", 404},
		{"/rows?dataset=other&config=shard-1.jsonl&split=train", 404},
		{"/size?dataset=other", 404},
	}
	for _, tc := range bad {
		resp, err := ts.Client().Get(ts.URL + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: HTTP %d; want %d", tc.query, resp.StatusCode, tc.code)
		}
	}
	// Default length is 100; past the end there are no rows.
	rows, err := s.Rows(ctx, Page{Config: "shard-1.jsonl", Split: "train", Offset: 250, Length: 100})
	if err != nil || len(rows) != 10 || rows[0].Text != "doc 250 <é>" {
		t.Fatalf("tail rows %d, %v", len(rows), err)
	}
	if _, err := s.Rows(ctx, Page{Config: "nope", Split: "train", Offset: 0, Length: 5}); err == nil || errors.Is(err, ErrSkipPage) {
		t.Fatalf("unknown config: %v", err)
	}
}
