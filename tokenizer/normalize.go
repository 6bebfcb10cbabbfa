package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/rangetable"
)

// normalizer rewrites one text segment.
type normalizer interface {
	normalize(s string) string
}

type seqNormalizer []normalizer

func (q seqNormalizer) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string {
	if isASCII(s) {
		return s
	}
	for _, r := range s {
		if r >= 0x1000 && (r == 0x11930 || newDecomp()[r]) {
			return u.normalizeOld(s)
		}
	}
	return u.form.String(s)
}

// newDecomp holds the characters assigned after Unicode 11.0 that have a
// (canonical or compatibility) decomposition. HF's normalizer
// (unicode-normalization-alignments) uses Unicode tables from before 12.0,
// where these characters have none; x/text (15.0) has them.
var newDecomp = sync.OnceValue(func() map[rune]bool {
	m := map[rune]bool{}
	old := rangetable.Assigned("11.0.0")
	rangetable.Visit(rangetable.Assigned(norm.Version), func(r rune) {
		if !unicode.Is(old, r) {
			if s := string(r); norm.NFKD.String(s) != s {
				m[r] = true
			}
		}
	})
	return m
})

// normalizeOld emulates those older tables: characters of newDecomp are kept
// as they are, and the text is cut before each U+11930 so that U+11935
// U+11930 never composes to U+11938 (Unicode 13).
func (u unicodeNormalizer) normalizeOld(s string) string {
	var b strings.Builder
	start := 0
	for i, r := range s {
		switch {
		case r == 0x11930:
			b.WriteString(u.form.String(s[start:i]))
			start = i
		case newDecomp()[r]:
			b.WriteString(u.form.String(s[start:i]))
			b.WriteRune(r)
			start = i + utf8.RuneLen(r)
		}
	}
	b.WriteString(u.form.String(s[start:]))
	return b.String()
}

type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type replaceNormalizer struct {
	m       matcher
	content string
}

func (r replaceNormalizer) normalize(s string) string {
	return replaceAll(s, r.m, r.content)
}

func replaceAll(s string, m matcher, content string) string {
	if lm, ok := m.(literalMatcher); ok {
		return strings.ReplaceAll(s, lm.lit, content)
	}
	spans := m.findAll(s, nil)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		b.WriteString(s[prev:sp[0]])
		b.WriteString(content)
		prev = sp[1]
	}
	b.WriteString(s[prev:])
	return b.String()
}

type lowercaseNormalizer struct{}

// normalize lowercases rune by rune with the full mapping of U+0130 (as
// Rust's char::to_lowercase does).
func (lowercaseNormalizer) normalize(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 0x130:
			b.WriteString("i\u0307")
		case r >= 0x10d50 && r <= 0x10d65: // Garay (Unicode 16), unknown to Go 15.0
			b.WriteRune(r + 0x20)
		case lower16[r] != 0:
			b.WriteRune(lower16[r])
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

type stripNormalizer struct{ left, right bool }

func (st stripNormalizer) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// stripAccentsNormalizer is StripAccents: it drops combining marks
// (General_Category M) by the Rust library's Unicode 9.0 tables.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(s string) string {
	if isASCII(s) {
		return s
	}
	marks := oldMarks()
	return strings.Map(func(r rune) rune {
		if r >= 0x300 && unicode.Is(marks, r) {
			return -1
		}
		return r
	}, s)
}

// nmtNormalizer is Nmt (SentencePiece's nmt rules): it drops ASCII/C1
// control characters and turns other whitespace-like characters into ' '.
type nmtNormalizer struct{}

func (nmtNormalizer) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0x1 && r <= 0x8, r == 0xb, r >= 0xe && r <= 0x1f, r == 0x7f, r == 0x8f, r == 0x9f:
			return -1
		case r == '\t', r == '\n', r == '\f', r == '\r', r == 0x1680, r >= 0x200b && r <= 0x200f,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xfeff, r == 0xfffd:
			return ' '
		}
		return r
	}, s)
}

// oldMarks is General_Category M as of Unicode 9.0: Go's marks assigned by
// 9.0, with the two Vedic signs that were marks until 10.0 and without
// U+111C9, a mark only since 11.0.
var oldMarks = sync.OnceValue(func() *unicode.RangeTable {
	v9 := rangetable.Assigned("9.0.0")
	rs := []rune{0x1cf2, 0x1cf3}
	rangetable.Visit(unicode.M, func(r rune) {
		if r != 0x111c9 && unicode.Is(v9, r) {
			rs = append(rs, r)
		}
	})
	return rangetable.New(rs...)
})

// lower16 holds the other lowercase mappings Unicode 16 added.
var lower16 = map[rune]rune{0x1c89: 0x1c8a, 0xa7cb: 0x264, 0xa7cc: 0xa7cd, 0xa7da: 0xa7db, 0xa7dc: 0x19b}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func parseNormalizer(raw json.RawMessage, depth int) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("parse normalizer: nested too deep")
	}
	t, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("parse normalizer: %w", err)
	}
	switch t {
	case "Sequence":
		var v struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse normalizer Sequence: %w", err)
		}
		var q seqNormalizer
		for _, r := range v.Normalizers {
			n, err := parseNormalizer(r, depth+1)
			if err != nil {
				return nil, err
			}
			if n != nil {
				q = append(q, n)
			}
		}
		return q, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse normalizer Prepend: %w", err)
		}
		return prependNormalizer{v.Prepend}, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse normalizer Replace: %w", err)
		}
		m, err := newMatcher(v.Pattern)
		if err != nil {
			return nil, fmt.Errorf("parse normalizer Replace: %w", err)
		}
		return replaceNormalizer{m: m, content: v.Content}, nil
	case "Strip":
		var v struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse normalizer Strip: %w", err)
		}
		return stripNormalizer{v.Left, v.Right}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "Nmt":
		return nmtNormalizer{}, nil
	case "Precompiled":
		var v struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse normalizer Precompiled: %w", err)
		}
		if v.Charsmap == nil {
			return nil, fmt.Errorf("parse normalizer Precompiled: missing \"precompiled_charsmap\"")
		}
		return newPrecompiled(*v.Charsmap)
	}
	return nil, fmt.Errorf("parse normalizer: type %q is not supported", t)
}
