package competition

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCompetitionsHead(t *testing.T) {
	b, err := os.ReadFile("testdata/competitions_head.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(b)
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
	// The default section reaches the globals; the rest keep docs/validator.md#constants-and-defaults values.
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

// TestParseCompetitionsRules covers the validation rules (docs/validator.md#competitionsjson).
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
		{name: "cap_sample_len 0 means no cap", json: `{"a":{"cap_sample_len":0,` + ok + `}}`, names: "a",
			check: func(t *testing.T, c *Config) {
				if a, _ := c.Competition("a"); a.CharCap(false) != 0 {
					t.Error("explicit 0")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.json))
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

func FuzzCompetitions(f *testing.F) {
	head, _ := os.ReadFile("testdata/competitions_head.json")
	f.Add(head)
	f.Add([]byte(`{"default":{"reward":1},"a":{},"_x":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":{"reward":1e400}}`))
	golden, _ := filepath.Glob("testdata/config/*.json")
	for _, g := range golden {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error without ErrInvalidConfig: %v", err)
			}
			return
		}
		// The same file gives the same warnings (they are logged on every
		// refresh and must not flap).
		again, _ := Parse(b)
		if strings.Join(again.Warnings, "\n") != strings.Join(cfg.Warnings, "\n") {
			t.Fatalf("warnings differ between two parses:\n%v\n%v", cfg.Warnings, again.Warnings)
		}
		for _, c := range cfg.Competitions {
			if c.Name == "" || c.Name[0] == '_' || c.Name == "default" {
				t.Fatalf("ignored key became a competition: %q", c.Name)
			}
			if c.GroupSamples < 1 || c.PoolSize < 1 || c.Parameters < 1 || c.ModelSize < 1 || c.Reward < 0 {
				t.Fatalf("out of range: %+v", c)
			}
			if s := c.Seed(); s != SeedRandom && s != SeedBlock || c.Cadence() < 1 || c.EvalDelay < 0 {
				t.Fatalf("sync settings out of range: %+v", c)
			}
			names := map[string]bool{}
			for _, task := range c.Tasks {
				if task.Name == "" || task.Dataset == "" || names[task.Name] || !(task.Weight > 0) || task.Pages < 1 {
					t.Fatalf("unusable task kept: %+v", task)
				}
				names[task.Name] = true
			}
		}
		if _, err := ParseHallOfFame(b); err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("hof error without ErrInvalidConfig: %v", err)
		}
	})
}
