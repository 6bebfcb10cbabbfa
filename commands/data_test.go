package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/internal/testenv"
)

func TestDataPagesLocal(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString(`{"text":"document number ` + strings.Repeat("x", i) + ` end"}` + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"data", "pages", "--local", dir, "--pages", "3", "--rows-per-page", "4", "--seed", "5", "--cap", "20"}
	out1, errs, code := runHashCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	out2, _, _ := runHashCLI(t, args...)
	if out1 != out2 {
		t.Fatal("same seed gave different output")
	}
	lines := strings.Split(strings.TrimSpace(out1), "\n")
	if len(lines) != 12 {
		t.Fatalf("%d lines; want 12", len(lines))
	}
	for _, l := range lines {
		var r pageRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if len([]rune(r.Text)) > 20 || (r.Capped && strings.HasSuffix(r.Text, "end")) || !strings.HasPrefix(r.Page, filepath.Base(dir)+"/train@") {
			t.Fatalf("record %+v", r)
		}
	}
	for _, bad := range [][]string{
		{"data", "pages", "--local", dir, "--pages", "0"},
		{"data", "pages", "--local", dir, "--text-mode", "words"},
		{"data", "pages", "--local", dir, "--cap", "-1"},
		{"data", "build-corpus", "--out", dir, "--shard-docs", "0"},
	} {
		if _, _, code := runHashCLI(t, bad...); code != ExitUsage {
			t.Errorf("%v: exit %d; want %d", bad, code, ExitUsage)
		}
	}
}

func TestDataBuildCorpus(t *testing.T) {
	if _, err := os.Stat("/usr/share/doc/jargon-text/jargon.txt.gz"); err != nil {
		testenv.Missing(t, "Debian package jargon-text (make setup-data)")
	}
	if _, err := os.Stat("/usr/share/dictd/devil.dict.dz"); err != nil {
		testenv.Missing(t, "Debian package dict-devil (make setup-data)")
	}
	out := t.TempDir()
	stdout, errs, code := runHashCLI(t, "data", "build-corpus", "--out", out, "--sources", "jargon,devil", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var man struct {
		Docs   int `json:"docs"`
		Shards []struct {
			Name string `json:"name"`
		} `json:"shards"`
	}
	if err := json.Unmarshal([]byte(stdout), &man); err != nil || man.Docs < 2900 || len(man.Shards) != (man.Docs+999)/1000 {
		t.Fatalf("manifest %+v, %v", man, err)
	}
	for _, s := range man.Shards {
		if _, err := os.Stat(filepath.Join(out, s.Name)); err != nil {
			t.Fatal(err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a poller.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestDataServe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n\nbeta\n\ngamma\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"coldint", "data", "serve", "--local", dir, "--addr", "127.0.0.1:0", "--dataset", "me/d"}, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	var base string
	for i := 0; i < 200 && base == ""; i++ {
		base = strings.TrimSpace(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		cancel()
		t.Fatalf("no URL printed: %q %q", out.String(), errb.String())
	}
	s := data.NewServer("me/d")
	s.BaseURL = base
	rows, err := s.Rows(ctx, data.Page{Config: filepath.Base(dir), Split: "train", Offset: 1, Length: 5})
	if err != nil || len(rows) != 2 || rows[0].Text != "beta" || rows[1].Text != "gamma" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
}
