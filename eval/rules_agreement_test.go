package eval

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/train/precheck"
)

// agreementComps are the competitions of the rules agreement test; TOK is
// replaced by a local competition tokenizer folder.
const agreementComps = `{
 "default": {"reward": 0.1, "dataset": "fineweb2", "model_size": 50000000, "parameters": 10000000},
 "llama_free": {"model_types": ["LlamaForCausalLM"], "free_tokenizer": true, "max_sequence_len": 4096},
 "llama_tok": {"model_types": ["LlamaForCausalLM"], "tokenizer": "TOK"},
 "free_tok": {"model_types": ["LlamaForCausalLM"], "tokenizer": "TOK", "free_tokenizer": true, "max_sequence_len": 4096},
 "phi3": {"model_types": ["Phi3ForCausalLM"], "tokenizer": "TOK"},
 "tiny": {"model_types": ["LlamaForCausalLM"], "parameters": 1000, "tokenizer": "TOK"},
 "small_size": {"model_types": ["LlamaForCausalLM"], "model_size": 100000, "tokenizer": "TOK"},
 "mid_size": {"model_types": ["LlamaForCausalLM"], "model_size": 1000000, "tokenizer": "TOK"},
 "no_maxlen": {"model_types": ["LlamaForCausalLM"], "free_tokenizer": true}
}`

var repoTotal = regexp.MustCompile(`total \d+ bytes`)

// mutation turns a copy of the base model folder into a test case.
type mutation func(t *testing.T, dir string)

func editConfig(edit func(m map[string]any)) mutation {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, "config.json")
		var m map[string]any
		b, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(b, &m) != nil {
			t.Fatalf("read config: %v", err)
		}
		edit(m)
		b, _ = json.Marshal(m)
		writeFile(t, p, b)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeFile(name string) mutation {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// shard renames model.safetensors to the first of two shards and writes an
// index naming every tensor's shard as shardOf says.
func shard(shardOf func(tensor string) string, keepSecond bool) mutation {
	return func(t *testing.T, dir string) {
		set, err := safetensors.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		wm := map[string]string{}
		for _, ti := range set.Tensors() {
			wm[ti.Name] = shardOf(ti.Name)
		}
		set.Close()
		const first = "model-00001-of-00002.safetensors"
		if err := os.Rename(filepath.Join(dir, modelhash.WeightsFile), filepath.Join(dir, first)); err != nil {
			t.Fatal(err)
		}
		if keepSecond {
			writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), []byte("x"))
		}
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": wm})
		writeFile(t, filepath.Join(dir, modelhash.IndexFile), b)
	}
}

// TestRulesAgreement builds a corpus of model folders, valid and broken in
// each way the admission rules know, and checks that `mine precheck`'s
// admission, `surgeon check` and the validator's sync (which downloads the
// model from a hub as a miner's publish uploads it) give the same verdict
// and the same first reason, and that the reason is the expected rule.
func TestRulesAgreement(t *testing.T) {
	ctx := context.Background()
	tokDir := testenv.LenmlTokenizer(t, "gpt35turbo")
	cfg, err := competition.Parse([]byte(strings.ReplaceAll(agreementComps, "TOK", tokDir)))
	if err != nil || len(cfg.Warnings) > 0 {
		t.Fatalf("competitions: %v %v", err, cfg.Warnings)
	}
	vocab, err := modeldir.TokenizerVocabSize(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	base := filepath.Join(root, "base")
	mc := &hf.ModelConfig{ModelType: "llama", VocabSize: vocab, HiddenSize: 4, IntermediateSize: 8, NumHiddenLayers: 1,
		NumAttentionHeads: 1, NumKeyValueHeads: 1, MaxPositionEmbeddings: 512, RopeTheta: 10000, HiddenAct: "silu",
		RMSNormEps: 1e-5, TieWordEmbeddings: true, Architectures: []string{"LlamaForCausalLM"}}
	if err := modeldir.Init(ctx, base, mc, modeldir.InitOptions{Seed: 1, DType: safetensors.BF16, TokenizerDir: tokDir}); err != nil {
		t.Fatal(err)
	}
	h, err := dirhub.Open(filepath.Join(root, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	v := &Validator{opts: Options{Hub: h, ModelDir: filepath.Join(root, "vali"), IgnoreHash: true, Now: time.Now,
		FreeDisk: func(string) (int64, error) { return 1 << 50, nil }}, log: slog.Default(),
		timing: &phaseTiming{d: map[string]time.Duration{}}}

	firstShard := func(string) string { return "model-00001-of-00002.safetensors" }
	cases := []struct {
		name   string
		comp   string
		mutate []mutation
		want   competition.Rule // "" = admitted
	}{
		{name: "valid, own tokenizer", comp: "llama_free"},
		{name: "valid, competition tokenizer", comp: "llama_tok"},
		{name: "valid, sharded", comp: "llama_tok", mutate: []mutation{shard(firstShard, false)}},
		{name: "architectures says Phi3, model_type llama: not Phi3", comp: "phi3",
			mutate: []mutation{editConfig(func(m map[string]any) { m["architectures"] = []string{"Phi3ForCausalLM"} })}, want: competition.RuleClass},
		{name: "architectures says Phi3, model_type llama: Llama", comp: "llama_tok",
			mutate: []mutation{editConfig(func(m map[string]any) { m["architectures"] = []string{"Phi3ForCausalLM"} })}},
		{name: "llama in a phi3 competition", comp: "phi3", want: competition.RuleClass},
		{name: "unsupported model_type", comp: "llama_tok",
			mutate: []mutation{editConfig(func(m map[string]any) { m["model_type"] = "mistral" })}, want: competition.RuleLoad},
		{name: "out-of-range geometry", comp: "llama_tok",
			mutate: []mutation{editConfig(func(m map[string]any) { m["num_attention_heads"] = 1 << 22 })}, want: competition.RuleLoad},
		{name: "config is not JSON", comp: "llama_tok", mutate: []mutation{func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "config.json"), []byte("{")) }}, want: competition.RuleLoad},
		{name: "too many parameters", comp: "tiny", want: competition.RuleParameters},
		{name: "repo over model_size", comp: "small_size", want: competition.RuleSize},
		{name: "extra files are not uploaded or counted", comp: "mid_size",
			mutate: []mutation{removeFile("tokenizer.json"), func(t *testing.T, d string) {
				writeFile(t, filepath.Join(d, "README.md"), make([]byte, 200000))
				writeFile(t, filepath.Join(d, "pytorch_model.bin"), make([]byte, 200000))
			}}},
		{name: "weights alone over model_size", comp: "mid_size", mutate: []mutation{removeFile("tokenizer.json"), func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "generation_config.json"), make([]byte, 300000))
		}}, want: competition.RuleSize},
		{name: "missing config.json", comp: "llama_tok", mutate: []mutation{removeFile("config.json")}, want: competition.RuleFiles},
		{name: "missing weights", comp: "llama_tok", mutate: []mutation{removeFile(modelhash.WeightsFile)}, want: competition.RuleFiles},
		{name: "index names a missing shard", comp: "llama_tok", mutate: []mutation{shard(func(n string) string {
			if strings.Contains(n, "norm") {
				return "model-00002-of-00002.safetensors"
			}
			return firstShard(n)
		}, false)}, want: competition.RuleFiles},
		{name: "hostile index naming ../", comp: "llama_tok", mutate: []mutation{shard(func(n string) string {
			if strings.Contains(n, "norm") {
				return "../model-00002-of-00002.safetensors"
			}
			return firstShard(n)
		}, true)}, want: competition.RuleFiles},
		{name: "hostile index naming an absolute path", comp: "llama_tok", mutate: []mutation{shard(func(string) string { return "/etc/passwd" }, false)}, want: competition.RuleFiles},
		{name: "no tokenizer, competition names one", comp: "llama_tok", mutate: []mutation{removeFile("tokenizer.json")}},
		{name: "no tokenizer, competition names none", comp: "llama_free", mutate: []mutation{removeFile("tokenizer.json")}, want: competition.RuleTokenizer},
		{name: "own tokenizer without max_sequence_len", comp: "no_maxlen", want: competition.RuleTokenizer},
		{name: "broken tokenizer.json, competition tokenizer takes over", comp: "free_tok",
			mutate: []mutation{func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "tokenizer.json"), []byte(`{"model":7}`)) }}},
		{name: "broken tokenizer.json, no competition tokenizer", comp: "llama_free",
			mutate: []mutation{func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "tokenizer.json"), []byte(`{"model":7}`)) }}, want: competition.RuleTokenizer},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, "m", tc.name)
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.mutate {
				m(t, dir)
			}
			// mine precheck's admission.
			_, pc, err := precheck.Admission(ctx, dir, cfg, tc.comp)
			if err != nil && !errors.Is(err, precheck.ErrNotAdmitted) {
				t.Fatal(err)
			}
			var rule competition.Rule
			preReason := ""
			if !pc.Accepted {
				rule, preReason = pc.Rules[0], pc.Reasons[0]
			}
			if rule != tc.want {
				t.Fatalf("precheck: rule %q (%s), want %q", rule, preReason, tc.want)
			}
			if (err == nil) != pc.Accepted {
				t.Fatalf("precheck error %v with accepted %v", err, pc.Accepted)
			}
			// surgeon check.
			rep, err := surgeon.Check(ctx, dir, cfg, tc.comp)
			if err != nil {
				t.Fatal(err)
			}
			sc := rep.Competitions[0]
			surReason := ""
			if !sc.Accepted {
				surReason = sc.Reasons[0]
			}
			// The validator, on the repo a publish makes of the folder.
			out := v.syncModel(ctx, "5Hotkey", &ModelMetadata{ID: publishForTest(t, h, dir, i, tc.comp)}, cfg)
			vReason := ""
			if out.Result != SyncSuccess {
				vReason = out.Reason
			}
			if pc.Accepted != sc.Accepted || pc.Accepted != (out.Result == SyncSuccess) {
				t.Fatalf("verdicts differ: precheck %v, surgeon check %v, validator %v (%s)", pc.Accepted, sc.Accepted, out.Result, out.Reason)
			}
			// The repo a publish makes also holds the hub's own files
			// (.gitattributes), which a local folder cannot count: the
			// totals of the size rule may differ, nothing else.
			mask := func(s string) string { return repoTotal.ReplaceAllString(s, "total N bytes") }
			if preReason != surReason || mask(preReason) != mask(vReason) {
				t.Fatalf("reasons differ:\nprecheck:  %s\nsurgeon:   %s\nvalidator: %s", preReason, surReason, vReason)
			}
			if out.Result != SyncSuccess && out.Result != SyncModelNotAllowed {
				t.Fatalf("validator result %v, want not allowed", out.Result)
			}
			t.Logf("%s: %q", tc.comp, preReason)
		})
	}
}

// publishForTest uploads dir to a repo of h as a miner's publish does (the
// allow-listed files, or every file when there is no allow-list) and returns
// the model id a validator would read on chain.
func publishForTest(t *testing.T, h *dirhub.Hub, dir string, i int, comp string) chain.ModelID {
	t.Helper()
	ctx := context.Background()
	files, err := modelhash.Allowed(ctx, dir)
	if err != nil {
		all, err := modelhash.Files(ctx, dir, modelhash.Options{})
		if err != nil {
			t.Fatal(err)
		}
		files = nil
		for _, e := range all {
			files = append(files, e.Path)
		}
	}
	var up []hf.UploadFile
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		up = append(up, hf.UploadFile{Path: f, Size: int64(len(b)), Content: strings.NewReader(string(b))})
	}
	repo := hf.RepoID{Namespace: "miner", Name: "case" + string(rune('a'+i))}
	if err := h.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	sha, err := h.Upload(ctx, repo, up, "publish", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return chain.ModelID{Namespace: repo.Namespace, Name: repo.Name, Commit: sha, Hash: "ignored", Competition: comp}
}
