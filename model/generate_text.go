package model

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// TextDecoder turns token ids into text (a tokenizer).
type TextDecoder interface {
	Decode(ids []int, skipSpecial bool) (string, error)
}

// TextStream decodes generated tokens incrementally: [TextStream.Add] returns
// the text that a new token completes. The prompt is decoded together with
// the generated tokens, so that word-boundary rules (a leading space, byte
// fallback pieces) come out as in a full decode; text is held back while it
// ends in an incomplete UTF-8 sequence.
type TextStream struct {
	dec     TextDecoder
	ids     []int
	printed int // bytes of the full decode already emitted (prompt included)
	text    strings.Builder
}

// NewTextStream starts a stream after the prompt ids.
func NewTextStream(dec TextDecoder, prompt []int) (*TextStream, error) {
	s := &TextStream{dec: dec, ids: append([]int(nil), prompt...)}
	if len(prompt) > 0 {
		t, err := dec.Decode(s.ids, true)
		if err != nil {
			return nil, fmt.Errorf("decode prompt: %w", err)
		}
		s.printed = len(t)
	}
	return s, nil
}

// Add appends a generated token and returns the newly completed text.
func (s *TextStream) Add(id int) (string, error) {
	s.ids = append(s.ids, id)
	return s.emit(false)
}

// Flush returns the text held back (an incomplete character at the end).
func (s *TextStream) Flush() (string, error) { return s.emit(true) }

// Text returns everything emitted so far.
func (s *TextStream) Text() string { return s.text.String() }

func (s *TextStream) emit(final bool) (string, error) {
	full, err := s.dec.Decode(s.ids, true)
	if err != nil {
		return "", fmt.Errorf("decode tokens: %w", err)
	}
	if len(full) <= s.printed {
		return "", nil
	}
	if !final && (strings.HasSuffix(full, "\uFFFD") || !utf8.ValidString(full[s.printed:])) {
		return "", nil
	}
	out := full[s.printed:]
	// A decode that rewrote already printed text (rare: space clean-up) only
	// emits what lies beyond the printed length.
	s.printed = len(full)
	s.text.WriteString(out)
	return out, nil
}
