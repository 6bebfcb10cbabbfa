package surgeon

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/coldint/coldint/tokenizer"
)

// SwapReport counts how the rows of a tokenizer swap were made.
type SwapReport struct {
	// Copied rows come from a token whose text the old tokenizer encodes as one token.
	Copied int `json:"copied"`
	// Composed rows are the mean of the old rows of the token's text encoded by the old tokenizer.
	Composed int `json:"composed"`
	// Special rows are special tokens mapped by role (bos, eos, pad, unk).
	Special int `json:"special"`
	// New rows had no usable text (partial UTF-8 bytes, unknown specials) and got the mean of all old rows.
	New int `json:"new"`
	// OldVocab and NewVocab are the embedding row counts before and after.
	OldVocab int `json:"old_vocab"`
	NewVocab int `json:"new_vocab"`
	// ParamsBefore and ParamsAfter count parameters (tied weights once).
	ParamsBefore int64 `json:"params_before"`
	ParamsAfter  int64 `json:"params_after"`
	// TokenizerPatched is true when the new tokenizer was made validator-safe
	// (no special tokens inserted by default); see [ValidatorSafeTokenizer].
	TokenizerPatched bool `json:"tokenizer_patched"`
	// RoundTripFailures are the probe texts the new tokenizer does not give back.
	RoundTripFailures []string `json:"round_trip_failures,omitempty"`
}

// SwapTokenizer rebuilds the embedding (and an untied lm_head) for the new
// tokenizer: a new token whose text the old tokenizer encodes as a single
// token keeps that token's row; any other text gets the mean of the rows of
// its old sub-tokens; special tokens are mapped by role; tokens with no text
// of their own get the mean of all old rows. The model's tokenizer files
// become those of newDir. This is coldint's design (docs/surgery.md#swap-tokenizer).
func SwapTokenizer(m *Model, oldTok, newTok *tokenizer.Tokenizer, newDir string) (*Model, *SwapReport, error) {
	newRows := newTok.MaxID() + 1
	if v := newTok.VocabSize(); v > newRows {
		newRows = v
	}
	rep := &SwapReport{OldVocab: m.Config.VocabSize, NewVocab: newRows, ParamsBefore: m.Config.ParamCount()}
	oldRoles, newRoles := oldTok.Roles(), newTok.Roles()
	roleMap := map[int]int{}
	for _, p := range [][2]int{{newRoles.BOS, oldRoles.BOS}, {newRoles.EOS, oldRoles.EOS}, {newRoles.PAD, oldRoles.PAD}, {newRoles.UNK, oldRoles.UNK}} {
		if p[0] >= 0 && p[1] >= 0 && p[1] < m.Config.VocabSize {
			roleMap[p[0]] = p[1]
		}
	}
	prefix := textPrefix(newTok)
	// sources[id] lists the old rows whose mean becomes row id; nil means "mean of all".
	sources := make([][]int, newRows)
	for id := 0; id < newRows; id++ {
		if old, ok := roleMap[id]; ok {
			sources[id] = []int{old}
			rep.Special++
			continue
		}
		if _, ok := newTok.Token(id); !ok || newTok.IsSpecial(id) {
			rep.New++
			continue
		}
		text, err := tokenText(newTok, prefix, id)
		if err != nil || text == "" || strings.ContainsRune(text, utf8.RuneError) {
			rep.New++
			continue
		}
		ids, err := oldTok.Encode(text, false)
		if err != nil || len(ids) == 0 {
			rep.New++
			continue
		}
		ok := true
		for _, o := range ids {
			if o < 0 || o >= m.Config.VocabSize {
				ok = false
			}
		}
		if !ok {
			rep.New++
			continue
		}
		sources[id] = ids
		if len(ids) == 1 {
			rep.Copied++
		} else {
			rep.Composed++
		}
	}
	out := m.Clone()
	out.Config.VocabSize = newRows
	if newRoles.BOS >= 0 {
		b := newRoles.BOS
		out.Config.BosTokenID = &b
	}
	if newRoles.EOS >= 0 {
		e := newRoles.EOS
		out.Config.EosTokenID = &e
		delete(out.Config.Raw, "eos_token_id")
	}
	for _, name := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		t, ok := m.Tensors[name]
		if !ok {
			continue
		}
		mean := rowMean(t)
		cols := t.Cols()
		nt := &Tensor{Shape: []int64{int64(newRows), int64(cols)}, Data: make([]float32, newRows*cols)}
		for id, src := range sources {
			row := nt.Data[id*cols : (id+1)*cols]
			if src == nil {
				copy(row, mean)
				continue
			}
			for _, o := range src {
				for c, v := range t.Data[o*cols : (o+1)*cols] {
					row[c] += v
				}
			}
			if len(src) > 1 {
				inv := 1 / float32(len(src))
				for c := range row {
					row[c] *= inv
				}
			}
		}
		out.Tensors[name] = nt
	}
	out.TokenizerDir = newDir
	rep.ParamsAfter = out.Config.ParamCount()
	if err := out.Check(); err != nil {
		return nil, nil, fmt.Errorf("swap tokenizer: %w", err)
	}
	return out, rep, nil
}

// textPrefix returns a token that decodes to a plain word, used to decode
// other tokens in the middle of a text: decoders treat the first token
// specially (Metaspace and Strip drop its leading space), so "▁the" alone
// decodes to "the" while it stands for " the". Returns -1 if there is none.
func textPrefix(tok *tokenizer.Tokenizer) []int {
	for _, w := range []string{"a", "x", "I"} {
		ids, err := tok.Encode(w, false)
		if err != nil || len(ids) != 1 {
			continue
		}
		if d, err := tok.Decode(ids, false); err == nil && d == w {
			return ids
		}
	}
	return nil
}

// tokenText is the text token id stands for inside a text: the decoding of
// prefix+id minus the decoding of prefix.
func tokenText(tok *tokenizer.Tokenizer, prefix []int, id int) (string, error) {
	if prefix != nil {
		p, err1 := tok.Decode(prefix, false)
		both, err2 := tok.Decode(append(append([]int(nil), prefix...), id), false)
		if err1 == nil && err2 == nil && strings.HasPrefix(both, p) {
			return both[len(p):], nil
		}
	}
	return tok.Decode([]int{id}, false)
}
