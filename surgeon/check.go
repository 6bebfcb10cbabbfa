package surgeon

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/tokenizer"
)

// CheckTexts are the round-trip probes used by [Check]: prose, code,
// whitespace runs, tabs, CRLF, unicode and emoji. A tokenizer that a
// validator would reject for normalising or inserting text fails them.
var CheckTexts = []string{
	"The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.",
	"In 1879, the first 3 trials ran for 42.5 hours; results: 97% (n=1,024).",
	"def f(x):\n\treturn x  *  2\n\n\n    # indented comment\r\nend",
	"Ünïcödé café, naïve façade — “quoted” ‘text’ … 東京 Москва 🦊🚀 مرحبا",
	"  leading and trailing spaces  ",
	"tabs\tand\t\tmore\ttabs, line\u0085next",
}

// CompetitionCheck is the verdict of one competition on a model.
type CompetitionCheck struct {
	Competition string   `json:"competition"`
	Accepted    bool     `json:"accepted"`
	Reasons     []string `json:"reasons,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// CheckReport is what [Check] found.
type CheckReport struct {
	Model        *modeldir.Info     `json:"model,omitempty"`
	ClassName    string             `json:"class_name"`
	RepoBytes    int64              `json:"repo_bytes"`
	ModelErrors  []string           `json:"model_errors,omitempty"`
	Competitions []CompetitionCheck `json:"competitions"`
}

// Accepted lists the competitions that accept the model.
func (r *CheckReport) Accepted() []string {
	var out []string
	for _, c := range r.Competitions {
		if c.Accepted {
			out = append(out, c.Competition)
		}
	}
	return out
}

// Check applies every constraint a validator applies before evaluating a
// model (docs/surgery.md#check): a readable config that matches the tensors, finite
// weights, the model class against model_types, the parameter count, the
// bytes of the files a validator downloads against model_size, and — when
// the model's own tokenizer would be used — the tokenizer round trip, its
// largest id against the embedding rows and a max_sequence_len. Only the
// competition named only is checked when it is not empty.
func Check(ctx context.Context, dir string, cfg *eval.Config, only string) (*CheckReport, error) {
	rep := &CheckReport{}
	info, err := modeldir.Inspect(dir)
	if err != nil {
		rep.ModelErrors = append(rep.ModelErrors, err.Error())
	} else {
		rep.Model = info
		rep.ClassName = className(info)
		if err := finiteWeights(dir); err != nil {
			rep.ModelErrors = append(rep.ModelErrors, err.Error())
		}
	}
	files, err := modelhash.Allowed(ctx, dir)
	if err != nil {
		rep.ModelErrors = append(rep.ModelErrors, err.Error())
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			rep.RepoBytes += st.Size()
		}
	}
	var tok *tokenizer.Tokenizer
	var tokErr error
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		tok, tokErr = tokenizer.Load(dir)
	}
	found := false
	for i := range cfg.Competitions {
		comp := &cfg.Competitions[i]
		if only != "" && comp.Name != only {
			continue
		}
		found = true
		cc := CompetitionCheck{Competition: comp.Name}
		cc.Reasons = append(cc.Reasons, rep.ModelErrors...)
		if rep.Model != nil {
			if !comp.Admits(rep.ClassName) {
				cc.Reasons = append(cc.Reasons, fmt.Sprintf("model class %s is not in model_types %v", rep.ClassName, comp.ModelTypes))
			}
			if comp.Parameters > 0 && rep.Model.Params > comp.Parameters {
				cc.Reasons = append(cc.Reasons, fmt.Sprintf("%d parameters exceed the limit of %d", rep.Model.Params, comp.Parameters))
			}
		}
		if comp.ModelSize > 0 && rep.RepoBytes > comp.ModelSize {
			cc.Reasons = append(cc.Reasons, fmt.Sprintf("repo files total %d bytes, over model_size %d", rep.RepoBytes, comp.ModelSize))
		}
		ownTok := tok != nil && (comp.Tokenizer == "" || comp.FreeTokenizer)
		switch {
		case tokErr != nil && (comp.Tokenizer == "" || comp.FreeTokenizer):
			cc.Reasons = append(cc.Reasons, fmt.Sprintf("tokenizer.json does not load: %v", tokErr))
		case tok == nil && comp.Tokenizer == "":
			cc.Reasons = append(cc.Reasons, "no tokenizer.json and the competition has no tokenizer")
		case ownTok:
			if _, err := comp.SequenceLimit(true); err != nil {
				cc.Reasons = append(cc.Reasons, err.Error())
			}
			if rep.Model != nil && int64(tok.MaxID()) >= rep.Model.EmbeddingRows {
				cc.Reasons = append(cc.Reasons, fmt.Sprintf("tokenizer max id %d is not below the %d embedding rows", tok.MaxID(), rep.Model.EmbeddingRows))
			}
			if fails := RoundTripFailures(tok); len(fails) > comp.MaxTokenizeFails {
				cc.Reasons = append(cc.Reasons, fmt.Sprintf("tokenizer fails the round trip on %d of %d probe texts (max_tokenize_fails %d), e.g. %q", len(fails), len(CheckTexts), comp.MaxTokenizeFails, fails[0]))
			}
		default:
			cc.Notes = append(cc.Notes, fmt.Sprintf("samples use the competition tokenizer %q; its ids are not checked offline", comp.Tokenizer))
		}
		cc.Accepted = len(cc.Reasons) == 0
		rep.Competitions = append(rep.Competitions, cc)
	}
	if only != "" && !found {
		return nil, fmt.Errorf("check model: competition %q is not in the competitions file (have %s)", only, strings.Join(cfg.Names(), ", "))
	}
	return rep, nil
}

// className is the Python class the validator would instantiate.
func className(info *modeldir.Info) string {
	if len(info.Architectures) > 0 {
		return info.Architectures[0]
	}
	if info.ModelType == "phi3" {
		return "Phi3ForCausalLM"
	}
	return "LlamaForCausalLM"
}

// RoundTripFailures returns the [CheckTexts] that tok does not give back
// exactly when encoded with its default special tokens and decoded without
// skipping any, as a validator does.
func RoundTripFailures(tok *tokenizer.Tokenizer) []string {
	var fails []string
	for _, text := range CheckTexts {
		// The validator tokenizes with the tokenizer's default special-token
		// behaviour (add_special_tokens=True) and decodes without skipping.
		ids, err := tok.Encode(text, true)
		if err != nil {
			fails = append(fails, text)
			continue
		}
		back, err := tok.Decode(ids, false)
		if err != nil || back != text {
			fails = append(fails, text)
		}
	}
	return fails
}

// finiteWeights reports the first tensor holding a NaN or an infinity.
func finiteWeights(dir string) error {
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return err
	}
	defer set.Close()
	for _, t := range set.Tensors() {
		if !t.DType.IsFloat() {
			continue
		}
		vals, _, err := set.ReadFloat32(t.Name)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %q holds a non-finite value (%v) at element %d", t.Name, v, i)
			}
		}
	}
	return nil
}
