package data

import "unicode/utf8"

// CapSample applies the validator's cap_sample_len (docs/scoring.md#tokenisation): when capChars > 0
// and text has more than capChars characters (Unicode code points), it is cut
// at the last space within its first capChars characters (the space itself is
// dropped), or hard at capChars when that prefix has no space. It returns the
// text and whether it was capped. Invalid UTF-8 bytes count as one character
// each, as Python's surrogateescape decoding would.
func CapSample(text string, capChars int) (string, bool) {
	if capChars <= 0 || utf8.RuneCountInString(text) <= capChars {
		return text, false
	}
	// Byte offset of the capChars-th code point.
	end, n := 0, 0
	for n < capChars {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
		n++
	}
	prefix := text[:end]
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] == ' ' {
			return prefix[:i], true
		}
	}
	return prefix, true
}

// WithEOS returns ids with eos appended unless the sample was capped: a
// capped sample gets no EOS, an uncapped one does (docs/scoring.md#tokenisation). ids is not modified.
func WithEOS(ids []int, capped bool, eos int) []int {
	out := make([]int, len(ids), len(ids)+1)
	copy(out, ids)
	if !capped {
		out = append(out, eos)
	}
	return out
}

// Sample is a document prepared for tokenization.
type Sample struct {
	// Text is the (possibly capped) text the tokenizer must reproduce.
	Text string
	// Capped reports that the text was cut; such a sample gets no EOS.
	Capped bool
}

// Prepare caps every text with [CapSample].
func Prepare(texts []string, capChars int) []Sample {
	out := make([]Sample, len(texts))
	for i, t := range texts {
		out[i].Text, out[i].Capped = CapSample(t, capChars)
	}
	return out
}
