package eval

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/tokenizer"
)

// ---- samples (docs/scoring.md#tokenisation, docs/validator.md#the-eval-cache) ----

func (v *Validator) fetchSamples(ctx context.Context, n, rowsPerPage int) ([]Sample, error) {
	if v.opts.Source == nil {
		return nil, fmt.Errorf("fetch samples: no text source")
	}
	if rowsPerPage < 1 {
		rowsPerPage = 1
	}
	pages := (n + rowsPerPage - 1) / rowsPerPage
	fetched, err := data.Fetch(ctx, v.opts.Source, v.rng, pages, rowsPerPage)
	var out []Sample
	for _, f := range fetched {
		for i, t := range f.Texts {
			out = append(out, Sample{Page: PageRef{Config: f.Page.Config, Offset: int(f.Page.Offset), Split: f.Page.Split}, Ofs: i, Text: t})
		}
	}
	if len(out) == 0 && err != nil {
		return nil, fmt.Errorf("fetch samples: %w", err)
	}
	if err != nil {
		v.log.Warn("fetch samples: some pages failed", "err", err)
	}
	return ShuffleTruncate(out, n, v.rng), nil
}

// competitionTokenizer resolves a competition tokenizer id.
func (v *Validator) tokenizerFor(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
	if t, ok := v.toks[id]; ok {
		return t, nil
	}
	var t *tokenizer.Tokenizer
	var err error
	if v.opts.Tokenizer != nil {
		t, err = v.opts.Tokenizer(ctx, id)
	} else {
		t, err = v.defaultTokenizer(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	v.toks[id] = t
	return t, nil
}

func (v *Validator) defaultTokenizer(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
	// Into the model folder itself: a Hugging Face cache, possibly shared
	// with other tools that have this tokenizer already.
	return competition.LoadTokenizer(ctx, v.opts.Hub, id, v.opts.ModelDir)
}

// NewSampleTokenizer is [competition.FromTokenizer].
func NewSampleTokenizer(tok *tokenizer.Tokenizer) SampleTokenizer {
	return competition.FromTokenizer(tok)
}

type tokenized struct {
	rows  [][]int
	maxID int
	err   error
	desc  string
}
