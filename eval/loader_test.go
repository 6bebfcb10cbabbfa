package eval

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUIDVariant(t *testing.T) {
	tests := []struct {
		loc  string
		uid  int
		want string
		ok   bool
	}{
		{CompetitionsURL, 12, "https://github.com/coldint/sn29/raw/main/competitions-12.json", true},
		{"/x.json/competitions.json", 3, "/x.json/competitions-3.json", true},
		{"/etc/comps.yaml", 3, "", false},
		{"c.json", -1, "", false},
	}
	for _, tc := range tests {
		got, ok := UIDVariant(tc.loc, tc.uid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("UIDVariant(%q,%d) = %q %v", tc.loc, tc.uid, got, ok)
		}
	}
}

func TestLoaderKeepsLastGood(t *testing.T) {
	head, err := os.ReadFile("testdata/competitions_head.json")
	if err != nil {
		t.Fatal(err)
	}
	var body atomic.Value
	body.Store(string(head))
	var perUID atomic.Value
	perUID.Store("")
	hof := `{"5A":[{"block":1,"reward":0.2}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/competitions.json":
			w.Write([]byte(body.Load().(string)))
		case "/competitions-7.json":
			if s := perUID.Load().(string); s != "" {
				w.Write([]byte(s))
				return
			}
			http.NotFound(w, r)
		case "/hall_of_fame.json":
			w.Write([]byte(hof))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	now := time.Unix(1_000_000, 0)
	l := NewLoader(srv.URL+"/competitions.json", srv.URL+"/hall_of_fame.json")
	l.UID = 7
	l.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l.Client = srv.Client()
	l.Now = func() time.Time { return now }
	ctx := context.Background()
	if did, err := l.RefreshIfDue(ctx); !did || err != nil {
		t.Fatalf("first refresh: %v %v", did, err)
	}
	cfg, h := l.Current()
	if cfg == nil || len(cfg.Competitions) != 2 || len(h["5A"]) != 1 {
		t.Fatalf("cfg %v hof %v", cfg, h)
	}
	// An invalid file is rejected whole; the last good one stays in force.
	body.Store(`{"c00":{"reward":1}}`)
	now = now.Add(CfgFetchInterval - time.Second)
	if did, _ := l.RefreshIfDue(ctx); did {
		t.Fatal("refreshed before the interval")
	}
	now = now.Add(time.Second)
	if did, err := l.RefreshIfDue(ctx); !did || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("want a rejected refresh, got %v %v", did, err)
	}
	if cfg2, _ := l.Current(); cfg2 != cfg {
		t.Fatal("last good config replaced")
	}
	// The per-UID override wins when present.
	perUID.Store(`{"solo":{"reward":1,"dataset":"fineweb2","model_types":["LlamaForCausalLM"],"model_size":1,"parameters":1}}`)
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg3, _ := l.Current(); strings.Join(cfg3.Names(), ",") != "solo" {
		t.Fatalf("per-uid file not used: %v", cfg3.Names())
	}
	// A file path works too.
	p := filepath.Join(t.TempDir(), "competitions.json")
	if err := os.WriteFile(p, head, 0o644); err != nil {
		t.Fatal(err)
	}
	fl := NewLoader(p, "")
	fl.Logger = l.Logger
	if err := fl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := fl.Current(); len(c.Competitions) != 2 {
		t.Fatal("file loader")
	}
	// Cancelled context: error, nothing replaced.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Refresh(cctx); err == nil {
		t.Fatal("cancelled refresh succeeded")
	}
}

// TestLoaderWarnsIgnoredParts: a file the reference loads loads here, and
// what in it is ignored is logged by name.
func TestLoaderWarnsIgnoredParts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "competitions.json")
	if err := os.WriteFile(p, []byte(`{"c00":{"reward":1,"dataset":"d","model_types":["LlamaForCausalLM"],"model_size":10,"parameters":10,"shiny_new_key":1,"pool_size":"7"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	l := NewLoader(p, "")
	l.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if err := l.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := l.Current(); cfg == nil || len(cfg.Competitions) != 1 || cfg.Competitions[0].PoolSize != DefaultPoolSize {
		t.Fatalf("config %+v", cfg)
	}
	for _, want := range []string{`shiny_new_key`, `pool_size`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not name %s:\n%s", want, logs.String())
		}
	}
}
