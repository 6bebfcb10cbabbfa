package e2e

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// run runs the coldint binary and returns its stdout, failing on error.
func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(coldintBin(t), args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coldint %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// jargonDocs returns the Jargon File's entries (Debian jargon-text).
func jargonDocs(t *testing.T) []string {
	t.Helper()
	const jargon = "/usr/share/doc/jargon-text/jargon.txt.gz"
	f, err := os.Open(jargon)
	if err != nil {
		testenv.Missing(t, "Debian package jargon-text is not installed ("+jargon+")")
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := data.ParseJargon(zr)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

const surgeonComps = `{
 "default": {"dataset": "fineweb2", "free_tokenizer": true, "max_sequence_len": 4096},
 "loose": {"reward": 0.5, "model_types": ["LlamaForCausalLM"], "parameters": 100000000, "model_size": 1000000000},
 "tight": {"reward": 0.5, "model_types": ["LlamaForCausalLM"], "parameters": 3300000, "model_size": 1000000000}
}`

// TestSurgeonOutputsPassCheck runs every surgery through the CLI and checks
// that each output passes `surgeon check` for a competition with room, is
// reported by check when it exceeds a tight one, and loads and evaluates in
// the engine.
func TestSurgeonOutputsPassCheck(t *testing.T) {
	dir := t.TempDir()
	cl100k, mistral := lenmlDir(t, "gpt35turbo"), lenmlDir(t, "llama2")
	comps := filepath.Join(dir, "competitions.json")
	os.WriteFile(comps, []byte(surgeonComps), 0o644)
	base := filepath.Join(dir, "base")
	run(t, "model", "init", "--vocab-from", cl100k, "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--tie", "--dtype", "f32", "--out", base)
	other := filepath.Join(dir, "other")
	run(t, "model", "init", "--vocab-from", cl100k, "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--tie", "--seed", "9", "--dtype", "f32", "--out", other)
	samples := filepath.Join(dir, "samples.jsonl")
	os.WriteFile(samples, []byte("{\"ids\":[1,2,3,4,5,6,7,8,9,10]}\n{\"ids\":[100,2000,30000,31999,5,6]}\n"), 0o644)
	outputs := []struct {
		name      string
		args      []string
		overTight bool // more than 3.3M parameters
	}{
		{"add-layers", []string{"add-layers", base, "--at", "1", "--count", "1"}, false},
		{"grow-hidden", []string{"grow-hidden", base, "--to", "48"}, true},
		{"grow-intermediate", []string{"grow-intermediate", base, "--to", "128"}, false},
		{"resize-vocab", []string{"resize-vocab", base, "--to", "100352", "--pad-multiple", "128"}, false},
		{"merge", []string{"merge", base, other, "--method", "slerp", "--weights", "0.5"}, false},
		{"convert", []string{"convert", base, "--dtype", "bf16"}, false},
		{"swap-tokenizer", []string{"swap-tokenizer", base, "--tokenizer", mistral}, false},
	}
	for _, tc := range outputs {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			run(t, append(append([]string{"surgeon"}, tc.args...), "--out", out)...)
			var rep surgeon.CheckReport
			cmd := exec.Command(coldintBin(t), "surgeon", "check", out, "--competitions", comps, "--json")
			js, _ := cmd.Output() // exit status is 1 when nothing accepts; the JSON says why
			if err := json.Unmarshal(js, &rep); err != nil {
				t.Fatalf("check output: %v\n%s", err, js)
			}
			verdict := map[string]surgeon.CompetitionCheck{}
			for _, c := range rep.Competitions {
				verdict[c.Competition] = c
			}
			if !verdict["loose"].Accepted {
				t.Fatalf("output rejected by a competition with room: %v", verdict["loose"].Reasons)
			}
			if verdict["tight"].Accepted == tc.overTight {
				t.Fatalf("tight competition: accepted=%v with %d params, reasons %v", verdict["tight"].Accepted, rep.Model.Params, verdict["tight"].Reasons)
			}
			if tc.overTight && !strings.Contains(strings.Join(verdict["tight"].Reasons, ";"), "exceed the limit") {
				t.Fatalf("check did not report the parameter limit: %v", verdict["tight"].Reasons)
			}
			res := run(t, "eval", "--model", out, "--data", samples, "--json")
			if n := strings.Count(res, `"loss"`); n != 2 {
				t.Fatalf("engine eval of the output: %s", res)
			}
		})
	}
}

// TestSwapTokenizerKeepsTraining trains a tiny cl100k model briefly on the
// Jargon File, swaps it to Mistral's 32k tokenizer and compares the summed
// loss on held-out text with the same model whose embedding is random.
func TestSwapTokenizerKeepsTraining(t *testing.T) {
	docs := jargonDocs(t)
	dir := t.TempDir()
	cl100k, mistral := lenmlDir(t, "gpt35turbo"), lenmlDir(t, "llama2")
	train, held := docs[:1500], docs[1500:1520]
	var corpus strings.Builder
	for _, d := range train {
		b, _ := json.Marshal(map[string]string{"text": d})
		corpus.Write(b)
		corpus.WriteByte('\n')
	}
	corpusPath := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(corpusPath, []byte(corpus.String()), 0o644)
	base := filepath.Join(dir, "base")
	run(t, "model", "init", "--vocab-from", cl100k, "--layers", "2", "--hidden", "32", "--heads", "4", "--tie", "--dtype", "f32", "--out", base)
	runDir := filepath.Join(dir, "run")
	run(t, "mine", "train", "--init", base, "--data", corpusPath, "--out", runDir, "--steps", "100", "--seq-len", "64",
		"--batch", "8", "--lr", "3e-3", "--warmup", "10", "--eval-every", "0", "--checkpoint-every", "0", "--dtype", "f32")
	trained := filepath.Join(runDir, "model")
	swapped := filepath.Join(dir, "swapped")
	report := run(t, "surgeon", "swap-tokenizer", trained, "--tokenizer", mistral, "--out", swapped)
	t.Logf("swap: %s", strings.TrimSpace(report))
	if !strings.Contains(report, "saved") {
		t.Fatalf("parameter saving not printed: %s", report)
	}
	// The control: the swapped model with a random N(0, 0.02²) embedding.
	m, err := surgeon.Load(swapped)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for i := range m.Tensors["model.embed_tokens.weight"].Data {
		m.Tensors["model.embed_tokens.weight"].Data[i] = float32(r.NormFloat64() * 0.02)
	}
	m.TokenizerFiles = nil
	m.TokenizerDir = swapped
	random := filepath.Join(dir, "random-embedding")
	if err := m.Save(context.Background(), random); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	lTrained := textLoss(t, e, trained, held)
	lSwapped := textLoss(t, e, swapped, held)
	lRandom := textLoss(t, e, random, held)
	t.Logf("held-out summed loss over %d docs: trained (cl100k) %.0f, swapped (Mistral) %.0f, random embedding %.0f", len(held), lTrained, lSwapped, lRandom)
	if !(lSwapped < 0.8*lRandom) {
		t.Fatalf("swapped model (%.0f) is not far below a random embedding (%.0f)", lSwapped, lRandom)
	}
}

// textLoss is the total summed NLL (nats) of texts under dir's model with its
// own tokenizer: comparable across tokenizers.
func textLoss(t *testing.T, e *model.Engine, dir string, texts []string) float64 {
	t.Helper()
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var samples []model.Sample
	for _, text := range texts {
		ids, err := tok.Encode(text, true)
		if err != nil {
			t.Fatal(err)
		}
		s := model.Sample{Valid: true}
		for _, id := range ids {
			s.Ids = append(s.Ids, int32(id))
		}
		samples = append(samples, s)
	}
	var sum float64
	for _, l := range losses(t, e, dir, samples) {
		if math.IsInf(l, 0) || math.IsNaN(l) {
			t.Fatalf("non-finite loss under %s", dir)
		}
		sum += l
	}
	return sum
}
