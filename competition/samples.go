package competition

import (
	"errors"
	"fmt"
	"strings"
)

// CapSample applies the character cap of the validator: when cap > 0 and text has
// more than cap characters (Unicode code points), it is cut at the last space
// in its first cap characters (the space itself dropped), or hard at cap
// when there is none. capped reports whether a cut happened; a capped sample
// gets no EOS.
//
// Quirk fix: when the only space in the first cap characters is the very
// first one, the reference cuts to an empty sample, whose summed loss is 0
// for every model; here the cut is then hard at cap.
func CapSample(text string, cap int) (out string, capped bool) {
	if cap <= 0 {
		return text, false
	}
	n, cut := 0, -1 // cut: byte offset of the cap-th code point
	for i := range text {
		if n == cap {
			cut = i
			break
		}
		n++
	}
	if cut < 0 {
		return text, false
	}
	head := text[:cut]
	if sp := strings.LastIndexByte(head, ' '); sp > 0 {
		return head[:sp], true
	}
	return head, true
}

// SampleTokenizer is what sample preparation needs from a tokenizer: Encode
// with the tokenizer's default special-token behaviour and no truncation, and
// Decode without skipping special tokens.
type SampleTokenizer interface {
	Encode(text string) ([]int, error)
	Decode(ids []int) (string, error)
}

// ErrTokenizerRejected means a tokenizer failed the round trip on more than
// max_tokenize_fails samples: it cannot be used for the competition.
var ErrTokenizerRejected = errors.New("tokenizer rejected")

// TokenizeStats counts what happened to the samples.
type TokenizeStats struct {
	Capped, Invalid, TooLong int
}

// TokenizeSamples prepares samples for the loss: each text is
// capped ([CapSample] with capLen), encoded, and must decode back to the
// (capped) text exactly, else it becomes nil (+Inf loss); more than maxFails
// such failures reject the tokenizer ([ErrTokenizerRejected]). An uncapped
// sample gets eos appended (when eos ≥ 0); a sample longer than maxLen
// tokens (EOS included; maxLen 0 = no limit) becomes nil. maxID is the
// largest token id over the kept samples (−1 when none), to be checked
// against the embedding rows ([CheckVocab]).
func TokenizeSamples(texts []string, tok SampleTokenizer, eos, maxLen, capLen, maxFails int) (rows [][]int, maxID int, st TokenizeStats, err error) {
	rows = make([][]int, len(texts))
	maxID = -1
	for i, text := range texts {
		row, capped := CapSample(text, capLen)
		ids, err := tok.Encode(row)
		if err == nil {
			var back string
			back, err = tok.Decode(ids)
			if err == nil && back != row {
				err = fmt.Errorf("decodes to a different text")
			}
		}
		if err != nil {
			st.Invalid++
			if st.Invalid > maxFails {
				return nil, -1, st, fmt.Errorf("tokenize sample %d: %v; %d round-trip failures, over %d: %w", i, err, st.Invalid, maxFails, ErrTokenizerRejected)
			}
			continue
		}
		if capped {
			st.Capped++
		} else if eos >= 0 {
			ids = append(ids, eos)
		}
		if maxLen > 0 && len(ids) > maxLen {
			st.TooLong++
			continue
		}
		for _, id := range ids {
			maxID = max(maxID, id)
		}
		rows[i] = ids
	}
	return rows, maxID, st, nil
}

// ErrVocabMismatch means samples hold token ids the model has no embedding for.
var ErrVocabMismatch = errors.New("token id beyond the embedding")

// CheckVocab rejects a model whose embedding has no row for maxID (the
// validator's vocabulary check, which prevents device index errors).
func CheckVocab(maxID, embeddingRows int) error {
	if maxID >= embeddingRows {
		return fmt.Errorf("check vocabulary: max token id %d ≥ %d embedding rows: %w", maxID, embeddingRows, ErrVocabMismatch)
	}
	return nil
}
