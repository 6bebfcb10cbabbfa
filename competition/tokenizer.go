package competition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/tokenizer"
)

// TokenizerChoice is which tokenizer a model's samples are tokenized with.
type TokenizerChoice struct {
	// Own is true when the model's own tokenizer.json is used.
	Own bool `json:"own"`
	// Competition is the competition tokenizer used, or the fallback when
	// the model's own fails ("" when there is none).
	Competition string `json:"competition,omitempty"`
}

// ErrNoTokenizer means no tokenizer can be used for a model's samples.
var ErrNoTokenizer = errors.New("no usable tokenizer")

// UsesOwnTokenizer reports whether a model with (hasTokenizer) or without
// tokenizer.json tokenizes with its own: only when it has one and the
// competition names no tokenizer or sets free_tokenizer.
func (c *Competition) UsesOwnTokenizer(hasTokenizer bool) bool {
	return hasTokenizer && (c.Tokenizer == "" || c.FreeTokenizer)
}

// ChooseTokenizer decides the tokenizer of a model with or without
// tokenizer.json (ownErr: why it does not load). The model's own is used
// when [Competition.UsesOwnTokenizer]; when it cannot be (it does not load,
// or the competition lacks the max_sequence_len it needs) the competition
// tokenizer takes over. With neither, the error wraps [ErrNoTokenizer].
func (c *Competition) ChooseTokenizer(hasTokenizer bool, ownErr error) (TokenizerChoice, error) {
	ch := TokenizerChoice{Competition: c.Tokenizer}
	if c.UsesOwnTokenizer(hasTokenizer) {
		if ownErr == nil {
			_, ownErr = c.SequenceLimit(true)
		}
		if ownErr == nil {
			ch.Own = true
			return ch, nil
		}
		if c.Tokenizer == "" {
			return ch, fmt.Errorf("the model's tokenizer.json cannot be used (%v) and the competition names no tokenizer: %w", ownErr, ErrNoTokenizer)
		}
		return ch, nil
	}
	if c.Tokenizer == "" {
		return ch, fmt.Errorf("no tokenizer.json and the competition names no tokenizer: %w", ErrNoTokenizer)
	}
	return ch, nil
}

// TokenizerFiles are the files of a tokenizer repo that are fetched.
var TokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// LoadTokenizer loads the competition tokenizer id: a local folder or
// tokenizer.json file when one exists at that path, else a hub repo whose
// tokenizer files are downloaded from h into cacheDir (a Hugging Face cache
// layout, shareable with other tools). Never the model's own tokenizer.
func LoadTokenizer(ctx context.Context, h hf.Hub, id, cacheDir string) (*tokenizer.Tokenizer, error) {
	if st, err := os.Stat(id); err == nil && (st.IsDir() || filepath.Ext(id) == ".json") {
		return tokenizer.Load(id)
	}
	repo, err := hf.ParseRepoID(id)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: not a folder and %w", id, err)
	}
	if h == nil {
		return nil, fmt.Errorf("load tokenizer %q: not a local folder and no hub to fetch it from", id)
	}
	info, err := h.ModelInfo(ctx, repo, "")
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", id, err)
	}
	var files []string
	for _, f := range TokenizerFiles {
		if _, ok := info.File(f); ok {
			files = append(files, f)
		}
	}
	snap, err := h.Download(ctx, repo, info.SHA, files, cacheDir, hf.DownloadOptions{MaxTotalSize: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", id, err)
	}
	return tokenizer.Load(snap)
}

// Tokenize tokenizes texts for the competition the validator's way
// ([TokenizeSamples]) with tok, which is the model's own tokenizer when own
// is true: the sequence limit and character cap depend on that.
func (c *Competition) Tokenize(texts []string, tok *tokenizer.Tokenizer, own bool) ([][]int, int, TokenizeStats, error) {
	maxLen, err := c.SequenceLimit(own)
	if err != nil {
		return nil, -1, TokenizeStats{}, err
	}
	return TokenizeSamples(texts, FromTokenizer(tok), tok.Roles().EOS, maxLen, c.CharCap(own), c.MaxTokenizeFails)
}

// FromTokenizer adapts tok to [SampleTokenizer] the way a validator uses
// it: encode with the default special-token behaviour, decode without
// skipping special tokens.
func FromTokenizer(tok *tokenizer.Tokenizer) SampleTokenizer { return tokAdapter{tok} }

type tokAdapter struct{ t *tokenizer.Tokenizer }

func (a tokAdapter) Encode(s string) ([]int, error)   { return a.t.Encode(s, true) }
func (a tokAdapter) Decode(ids []int) (string, error) { return a.t.Decode(ids, false) }
