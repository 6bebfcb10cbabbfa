package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf/dirhub"
)

// FuzzAuditCompetition audits whatever competition file parses, against an
// empty hub and a three-document corpus: the audit reports, never panics.
func FuzzAuditCompetition(f *testing.F) {
	h := eval.TextHash("alpha")
	f.Add([]byte(`{"format":"coldint-evalproof/1","name":"c","params":{"reward":1,"dataset":"x","model_types":["LlamaForCausalLM"],"model_size":1000,"parameters":10,"tokenizer":"none"},` +
		`"samples":[{"dataset":"local","config":"docs","split":"train","row":0,"text_sha256":"` + h + `"}],` +
		`"models":[{"uid":1,"hotkey":"hk","repo":"ns/m","commit":"abc","hash":"h","losses":[1.5]},{"uid":2,"losses":null}]}`))
	f.Add([]byte(`{"format":"coldint-evalproof/1","name":"c","samples":[{"dataset":"other","row":5,"text_sha256":"` + h + `"}],"models":[]}`))
	corpus := filepath.Join(f.TempDir(), "docs.txt")
	if err := os.WriteFile(corpus, []byte("alpha\n\nbeta\n\ngamma\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	hub, err := dirhub.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	o := Options{Hub: hub, Scorer: contentScorer{}, CacheDir: f.TempDir(),
		Texts: func(ctx context.Context, dataset string) (data.Source, error) {
			return data.OpenLocal(ctx, []string{corpus}, data.LocalOptions{})
		}}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := evalproof.ParseCompetition(b)
		if err != nil {
			return
		}
		s := &evalproof.Step{Competitions: []evalproof.Competition{*c}}
		if err := s.Seal(); err != nil {
			return
		}
		r, err := Run(context.Background(), s, o)
		if err != nil {
			return
		}
		var sink discard
		r.WriteText(&sink)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
