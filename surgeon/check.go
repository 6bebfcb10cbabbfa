package surgeon

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/hf/modeldir"
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

// CompetitionCheck is the verdict of one competition on a model: Reasons
// are the broken admission rules, in the words a validator logs (the first
// is what it reports); Notes are what will hurt the model at evaluation
// without being an admission rule.
type CompetitionCheck struct {
	Competition string                      `json:"competition"`
	Accepted    bool                        `json:"accepted"`
	Tokenizer   competition.TokenizerChoice `json:"tokenizer"`
	Reasons     []string                    `json:"reasons,omitempty"`
	Rules       []competition.Rule          `json:"rules,omitempty"`
	Notes       []string                    `json:"notes,omitempty"`
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

// Check applies the competition admission rules ([competition.Competition.Admit],
// the same a validator applies) to the model folder dir, for every
// competition of cfg, or only the competition named only when it is not
// empty. It also notes what would hurt the model at evaluation: weights
// that are not finite, and, when the model's own tokenizer is used, token
// ids beyond the embedding and round-trip failures on probe texts.
func Check(ctx context.Context, dir string, cfg *competition.Config, only string) (*CheckReport, error) {
	m := competition.Inspect(ctx, dir)
	rep := &CheckReport{Model: m.Info, RepoBytes: m.RepoBytes}
	var notes []string
	for _, err := range []error{m.FilesErr, m.LoadErr, m.TokenizerErr} {
		if err != nil {
			rep.ModelErrors = append(rep.ModelErrors, err.Error())
		}
	}
	if m.Info != nil {
		rep.ClassName = competition.ClassName(m.Info.ModelType)
		if err := finiteWeights(dir); err != nil {
			notes = append(notes, fmt.Sprintf("every loss will be NaN: %v", err))
		}
	}
	var tok *tokenizer.Tokenizer
	if m.HasTokenizer && m.TokenizerErr == nil {
		tok, _ = tokenizer.Load(dir)
	}
	found := false
	for i := range cfg.Competitions {
		comp := &cfg.Competitions[i]
		if only != "" && comp.Name != only {
			continue
		}
		found = true
		v := comp.Admit(m)
		cc := CompetitionCheck{Competition: comp.Name, Accepted: v.Admitted(), Tokenizer: v.Tokenizer, Notes: notes}
		for _, r := range v.Reasons {
			cc.Reasons = append(cc.Reasons, r.Text)
			cc.Rules = append(cc.Rules, r.Rule)
		}
		switch {
		case v.Tokenizer.Own && tok != nil:
			cc.Notes = append(cc.Notes, ownTokenizerNotes(tok, m.Info, comp)...)
		case v.Tokenizer.Competition != "":
			cc.Notes = append(cc.Notes, fmt.Sprintf("samples use the competition tokenizer %q; its ids are not checked offline", comp.Tokenizer))
		}
		rep.Competitions = append(rep.Competitions, cc)
	}
	if only != "" && !found {
		return nil, fmt.Errorf("check model: competition %q is not in the competitions file (have %s)", only, strings.Join(cfg.Names(), ", "))
	}
	return rep, nil
}

// ownTokenizerNotes are the evaluation risks of a model's own tokenizer.
func ownTokenizerNotes(tok *tokenizer.Tokenizer, info *modeldir.Info, comp *competition.Competition) []string {
	var out []string
	if info != nil && int64(tok.MaxID()) >= info.EmbeddingRows {
		out = append(out, fmt.Sprintf("tokenizer max id %d is not below the %d embedding rows: a sample holding such an id makes the validator reject the model", tok.MaxID(), info.EmbeddingRows))
	}
	if fails := RoundTripFailures(tok); len(fails) > comp.MaxTokenizeFails {
		out = append(out, fmt.Sprintf("tokenizer fails the round trip on %d of %d probe texts (max_tokenize_fails %d), e.g. %q: the validator would likely reject it", len(fails), len(CheckTexts), comp.MaxTokenizeFails, fails[0]))
	}
	return out
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
