package competition

import (
	"errors"
	"testing"

	"github.com/coldint/coldint/hf/modeldir"
)

func testComp(t *testing.T, extra string) *Competition {
	t.Helper()
	cfg, err := Parse([]byte(`{"c":{"reward":1,"dataset":"d","model_types":["LlamaForCausalLM"],"model_size":1000,"parameters":100` + extra + `}}`))
	if err != nil || len(cfg.Competitions) != 1 {
		t.Fatalf("parse: %v %v", err, cfg.Warnings)
	}
	return &cfg.Competitions[0]
}

func TestChooseTokenizer(t *testing.T) {
	bad := errors.New("bad tokenizer.json")
	tests := []struct {
		name   string
		extra  string
		has    bool
		ownErr error
		own    bool
		comp   string
		fails  bool
	}{
		{name: "no tokenizer anywhere", fails: true},
		{name: "own, competition names none, max_sequence_len set", extra: `,"max_sequence_len":10`, has: true, own: true},
		{name: "own, competition names none, no max_sequence_len", has: true, fails: true},
		{name: "competition tokenizer, model has none", extra: `,"tokenizer":"T"`, comp: "T"},
		{name: "competition tokenizer wins over the model's own", extra: `,"tokenizer":"T","max_sequence_len":10`, has: true, comp: "T"},
		{name: "free_tokenizer uses the model's own", extra: `,"tokenizer":"T","free_tokenizer":true,"max_sequence_len":10`, has: true, own: true, comp: "T"},
		{name: "free_tokenizer, own does not load: competition's", extra: `,"tokenizer":"T","free_tokenizer":true,"max_sequence_len":10`, has: true, ownErr: bad, comp: "T"},
		{name: "free_tokenizer, no max_sequence_len: competition's", extra: `,"tokenizer":"T","free_tokenizer":true`, has: true, comp: "T"},
		{name: "own does not load, competition names none", extra: `,"max_sequence_len":10`, has: true, ownErr: bad, fails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testComp(t, tc.extra)
			ch, err := c.ChooseTokenizer(tc.has, tc.ownErr)
			if tc.fails {
				if !errors.Is(err, ErrNoTokenizer) {
					t.Fatalf("want ErrNoTokenizer, got %v (%+v)", err, ch)
				}
				return
			}
			if err != nil || ch.Own != tc.own || ch.Competition != tc.comp {
				t.Fatalf("got %+v %v, want own %v competition %q", ch, err, tc.own, tc.comp)
			}
		})
	}
}

func TestAdmitOrder(t *testing.T) {
	c := testComp(t, `,"tokenizer":"T"`)
	ok := &modeldir.Info{ModelType: "llama", Hidden: 4, Intermediate: 8, Layers: 1, Heads: 1, Params: 50}
	tests := []struct {
		name string
		m    Model
		want []Rule
	}{
		{name: "admitted", m: Model{RepoBytes: 1000, Info: ok}},
		{name: "size and files", m: Model{RepoBytes: 1001, FilesErr: errors.New("no config.json")}, want: []Rule{RuleSize, RuleFiles}},
		{name: "load", m: Model{LoadErr: errors.New("bad config")}, want: []Rule{RuleLoad}},
		{name: "class, geometry and parameters", m: Model{Info: &modeldir.Info{ModelType: "phi3", Architectures: []string{"LlamaForCausalLM"}, Hidden: 0, Intermediate: 8, Layers: 1, Heads: MaxDim + 1, Params: 101}},
			want: []Rule{RuleClass, RuleGeometry, RuleGeometry, RuleParameters}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Admit(&tc.m)
			var got []Rule
			for _, r := range v.Reasons {
				got = append(got, r.Rule)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rules %v, want %v (%+v)", got, tc.want, v.Reasons)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("rules %v, want %v", got, tc.want)
				}
			}
			if v.Admitted() != (len(tc.want) == 0) {
				t.Fatal("Admitted disagrees with Reasons")
			}
		})
	}
}

func TestClassName(t *testing.T) {
	for mt, want := range map[string]string{"llama": "LlamaForCausalLM", "phi3": "Phi3ForCausalLM", "phi": "PhiForCausalLM", "gpt2": "gpt2(unsupported)", "": "(unsupported)"} {
		if got := ClassName(mt); got != want {
			t.Errorf("ClassName(%q) = %q, want %q", mt, got, want)
		}
	}
}

// TestAdmitsLoadedClass: model_types is matched against the class the
// reference loads (the sliced one), so listing only the sliced name admits
// a plain checkpoint, and a name of the other family does not.
func TestAdmitsLoadedClass(t *testing.T) {
	info := func(mt string) *modeldir.Info {
		return &modeldir.Info{ModelType: mt, Hidden: 4, Intermediate: 8, Layers: 1, Heads: 1, Params: 50}
	}
	tests := []struct {
		types string
		mt    string
		ok    bool
	}{
		{`["SlicedLlamaForCausalLM"]`, "llama", true},
		{`["LlamaForCausalLM"]`, "llama", true},
		{`["Phi3ForCausalLM","SlicedPhi3ForCausalLM"]`, "llama", false},
		{`["SlicedPhi3ForCausalLM"]`, "phi3", true},
		{`["PhiForCausalLM"]`, "phi3", false},
		{`["LlamaForCausalLM"]`, "mistral", false},
	}
	for _, tc := range tests {
		cfg, err := Parse([]byte(`{"c":{"reward":1,"dataset":"d","model_types":` + tc.types + `,"model_size":1000,"parameters":100,"tokenizer":"T"}}`))
		if err != nil {
			t.Fatal(err)
		}
		v := cfg.Competitions[0].Admit(&Model{Info: info(tc.mt)})
		if v.Admitted() != tc.ok {
			t.Errorf("model_types %s, model_type %q: admitted %v, want %v (%v)", tc.types, tc.mt, v.Admitted(), tc.ok, v.Reasons)
		}
	}
}
