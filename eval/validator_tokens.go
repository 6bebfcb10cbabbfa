package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/tokenizer"
)

// ---- samples (§6.7, §6.8) ----

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
	if st, err := os.Stat(id); err == nil {
		if st.IsDir() || filepath.Ext(id) == ".json" {
			return tokenizer.Load(id)
		}
	}
	repo, err := hf.ParseRepoID(id)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: not a folder and %w", id, err)
	}
	info, err := v.opts.Hub.ModelInfo(ctx, repo, "")
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", id, err)
	}
	var files []string
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		if _, ok := info.File(f); ok {
			files = append(files, f)
		}
	}
	// Into the model folder itself: a Hugging Face cache, possibly shared
	// with other tools that have this tokenizer already.
	snap, err := v.opts.Hub.Download(ctx, repo, info.SHA, files, v.opts.ModelDir, hf.DownloadOptions{MaxTotalSize: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", id, err)
	}
	return tokenizer.Load(snap)
}

// tokAdapter adapts a tokenizer to [SampleTokenizer]: encode with the
// default special-token behaviour, decode without skipping special tokens.
type tokAdapter struct{ t *tokenizer.Tokenizer }

// NewSampleTokenizer adapts tok to [SampleTokenizer] the way a validator uses
// it: encode with the default special-token behaviour, decode without
// skipping special tokens.
func NewSampleTokenizer(tok *tokenizer.Tokenizer) SampleTokenizer { return tokAdapter{tok} }

func (a tokAdapter) Encode(s string) ([]int, error) { return a.t.Encode(s, true) }
func (a tokAdapter) Decode(ids []int) (string, error) {
	return a.t.Decode(ids, false)
}

type tokenized struct {
	rows  [][]int
	maxID int
	err   error
	desc  string
}
