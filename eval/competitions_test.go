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

func TestParseCompetitionsHead(t *testing.T) {
	b, err := os.ReadFile("testdata/competitions_head.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseCompetitions(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Names(), ","); got != "c00,c01" {
		t.Fatalf("names %s", got)
	}
	c00, _ := cfg.Competition("c00")
	if c00.Reward != 0.5 || c00.ModelSize != 42e9 || c00.Parameters != 20_100_000_000 || c00.Tokenizer != "Xenova/gpt-4" ||
		c00.GroupSamples != 10 || c00.PoolSize != 6 || c00.PendSize != DefaultPendSize || c00.WeightSkewFactor != 2 ||
		!c00.FreeTokenizer || c00.CapSampleLen != 17500 || c00.Dataset != "fineweb2" || c00.MaxTokenizeFails != 3 {
		t.Fatalf("c00 %+v", c00)
	}
	if !c00.Admits("SlicedLlamaForCausalLM") || !c00.Admits("LlamaForCausalLM") || c00.Admits("Phi3ForCausalLM") {
		t.Error("admission is a substring test")
	}
	if !c00.AllowsSliced("SlicedLlamaForCausalLM") || c00.AllowsSliced("SlicedPhi3ForCausalLM") {
		t.Error("sliced needs the exact class")
	}
	// The default section reaches the globals; the rest keep §1 values.
	want := BuiltinDefaults()
	want.RowsPerPage = 50
	if cfg.Defaults != want {
		t.Fatalf("defaults %+v want %+v", cfg.Defaults, want)
	}
	if n, err := c00.SequenceLimit(true); err != nil || n != 4096 {
		t.Errorf("SequenceLimit %d %v", n, err)
	}
	if c00.CharCap(true) != 17500 {
		t.Error("CharCap")
	}
}

// TestParseCompetitionsRules covers the §4.1 validation rules.
func TestParseCompetitionsRules(t *testing.T) {
	const ok = `"reward":1,"dataset":"fineweb2","model_types":["LlamaForCausalLM"],"model_size":1000,"parameters":10`
	tests := []struct {
		name  string
		json  string
		names string // "" with reject=false means no competitions
		check func(t *testing.T, c *Config)
		bad   bool
	}{
		{name: "top level array", json: `[]`, bad: true},
		{name: "top level string", json: `"x"`, bad: true},
		{name: "not json", json: `{`, bad: true},
		{name: "trailing data", json: `{} {}`, bad: true},
		{name: "empty object", json: `{}`},
		{name: "default not an object", json: `{"default":1,"c":{` + ok + `}}`, bad: true},
		{name: "competition not an object rejects the whole file", json: `{"a":{` + ok + `},"b":[1]}`, bad: true},
		{name: "missing key rejects the whole file", json: `{"a":{` + ok + `},"b":{"reward":1}}`, bad: true},
		{name: "null required key", json: `{"a":{` + strings.Replace(ok, `"parameters":10`, `"parameters":null`, 1) + `}}`, bad: true},
		{name: "required keys from default", json: `{"default":{` + ok + `},"a":{},"b":{"reward":0.25}}`, names: "a,b",
			check: func(t *testing.T, c *Config) {
				if b, _ := c.Competition("b"); b.Reward != 0.25 || b.Parameters != 10 {
					t.Errorf("b %+v", b)
				}
			}},
		{name: "empty and _ keys ignored, even non-objects", json: `{"":5,"_note":"x","_c":[1],"a":{` + ok + `}}`, names: "a"},
		{name: "JSON key order kept", json: `{"zz":{` + ok + `},"aa":{` + ok + `},"mm":{` + ok + `}}`, names: "zz,aa,mm"},
		{name: "repeated key: first position, last value", json: `{"a":{` + ok + `},"b":{` + ok + `},"a":{` + strings.Replace(ok, `"reward":1`, `"reward":0.3`, 1) + `}}`, names: "a,b",
			check: func(t *testing.T, c *Config) {
				if a, _ := c.Competition("a"); a.Reward != 0.3 {
					t.Errorf("a %+v", a)
				}
			}},
		{name: "comment keys harmless", json: `{"default":{"comment":"hi","discard_winrate":0.05,"eval_samples":100},"a":{"comment":3,` + ok + `}}`, names: "a",
			check: func(t *testing.T, c *Config) {
				if c.Defaults.DiscardWinrate != 0.05 || c.Defaults.EvalSamples != 100 || c.Defaults.DBMinSamples != 2000 {
					t.Errorf("defaults %+v", c.Defaults)
				}
			}},
		{name: "competition keys do not leak into globals", json: `{"a":{"eval_samples":7,` + ok + `}}`, names: "a",
			check: func(t *testing.T, c *Config) {
				if c.Defaults.EvalSamples != 1500 {
					t.Errorf("defaults %+v", c.Defaults)
				}
			}},
		{name: "optional defaults", json: `{"a":{` + ok + `}}`, names: "a",
			check: func(t *testing.T, c *Config) {
				a, _ := c.Competition("a")
				if a.GroupSamples != 1 || a.PoolSize != 7 || a.PendSize != 3 || a.AdvantageInitial != 0.004 || a.AdvantageDecay != 0.995 ||
					a.WeightSkewFactor != 1.2 || a.FreeTokenizer || a.Tokenizer != "" || a.CharCap(false) != 20480 || a.CharCap(true) != 0 {
					t.Errorf("a %+v", a)
				}
				if _, err := a.SequenceLimit(true); err == nil {
					t.Error("max_sequence_len must be required on the model-tokenizer path")
				}
				if n, _ := a.SequenceLimit(false); n != 4096 {
					t.Error("4096 on the competition-tokenizer path")
				}
			}},
		{name: "reward wrong type", json: `{"a":{` + strings.Replace(ok, `"reward":1`, `"reward":"1"`, 1) + `}}`, bad: true},
		{name: "model_types not a list", json: `{"a":{` + strings.Replace(ok, `["LlamaForCausalLM"]`, `"Llama"`, 1) + `}}`, bad: true},
		{name: "negative parameters", json: `{"a":{` + strings.Replace(ok, `"parameters":10`, `"parameters":-1`, 1) + `}}`, bad: true},
		{name: "fractional model_size", json: `{"a":{` + strings.Replace(ok, `"model_size":1000`, `"model_size":10.5`, 1) + `}}`, bad: true},
		{name: "group_samples 0", json: `{"a":{"group_samples":0,` + ok + `}}`, bad: true},
		{name: "bad global in default", json: `{"default":{"use_eval_cache":"yes"},"a":{` + ok + `}}`, bad: true},
		{name: "discard_winrate above 1", json: `{"default":{"discard_winrate":2},"a":{` + ok + `}}`, bad: true},
		{name: "cap_sample_len 0 means no cap", json: `{"a":{"cap_sample_len":0,` + ok + `}}`, names: "a",
			check: func(t *testing.T, c *Config) {
				if a, _ := c.Competition("a"); a.CharCap(false) != 0 {
					t.Error("explicit 0")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseCompetitions([]byte(tc.json))
			if tc.bad {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("want ErrInvalidConfig, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Names(), ","); got != tc.names {
				t.Fatalf("names %q want %q", got, tc.names)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

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

func FuzzCompetitions(f *testing.F) {
	head, _ := os.ReadFile("testdata/competitions_head.json")
	f.Add(head)
	f.Add([]byte(`{"default":{"reward":1},"a":{},"_x":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":{"reward":1e400}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseCompetitions(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error without ErrInvalidConfig: %v", err)
			}
			return
		}
		for _, c := range cfg.Competitions {
			if c.Name == "" || c.Name[0] == '_' || c.Name == "default" {
				t.Fatalf("ignored key became a competition: %q", c.Name)
			}
			if c.GroupSamples < 1 || c.PoolSize < 1 || c.Parameters < 1 || c.ModelSize < 1 || c.Reward < 0 {
				t.Fatalf("out of range: %+v", c)
			}
		}
		if _, err := ParseHallOfFame(b); err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("hof error without ErrInvalidConfig: %v", err)
		}
	})
}
