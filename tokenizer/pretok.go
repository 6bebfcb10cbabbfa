package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// matcher finds the non-overlapping matches of a pattern, left to right, as
// byte spans.
type matcher interface {
	findAll(s string, dst [][2]int) [][2]int
}

type literalMatcher struct{ lit string }

func (m literalMatcher) findAll(s string, dst [][2]int) [][2]int {
	if m.lit == "" {
		return dst
	}
	off := 0
	for {
		i := strings.Index(s[off:], m.lit)
		if i < 0 {
			return dst
		}
		dst = append(dst, [2]int{off + i, off + i + len(m.lit)})
		off += i + len(m.lit)
	}
}

// scanMatcher uses a hand-coded scanner that matches at every position.
type scanMatcher struct{ scan func(string) int }

func (m scanMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		n := m.scan(s[i:])
		if n <= 0 {
			_, n = utf8.DecodeRuneInString(s[i:])
		}
		dst = append(dst, [2]int{i, i + n})
		i += n
	}
	return dst
}

// regexTimeout bounds one regex search (a hostile pattern can backtrack for
// ever); the text left after a timeout counts as not matched.
var regexTimeout = 10 * time.Second

// regexMatcher is the general fallback, with look-around (regexp2).
type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) findAll(s string, dst [][2]int) [][2]int {
	if s == "" {
		return dst
	}
	runes := []rune(s)
	offs := make([]int, len(runes)+1)
	o := 0
	for i, r := range runes {
		offs[i] = o
		if r == utf8.RuneError {
			_, n := utf8.DecodeRuneInString(s[o:])
			o += n
		} else {
			o += utf8.RuneLen(r)
		}
	}
	offs[len(runes)] = o
	mt, err := m.re.FindRunesMatch(runes)
	for err == nil && mt != nil {
		dst = append(dst, [2]int{offs[mt.Index], offs[mt.Index+mt.Length]})
		mt, err = m.re.FindNextMatch(mt)
	}
	return dst
}

// predMatcher makes every character for which pred holds a match.
type predMatcher struct{ pred func(rune) bool }

func (m predMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i, r := range s {
		if m.pred(r) {
			dst = append(dst, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	return dst
}

func newMatcher(p patternJSON) (matcher, error) {
	switch {
	case p.String != nil:
		return literalMatcher{*p.String}, nil
	case p.Regex != nil:
		return compileRegex(*p.Regex)
	}
	return nil, fmt.Errorf("pattern: want {\"String\": …} or {\"Regex\": …}")
}

func compileRegex(pat string) (matcher, error) {
	if f := knownScanner(pat); f != nil {
		return scanMatcher{f}, nil
	}
	re, err := regexp2.Compile(pat, regexp2.Unicode)
	if err != nil {
		return nil, fmt.Errorf("compile regex %q: %w", pat, err)
	}
	re.MatchTimeout = regexTimeout
	return regexMatcher{re}, nil
}

// behavior is a SplitDelimiterBehavior.
type behavior int

const (
	bRemoved behavior = iota
	bIsolated
	bMergedWithPrevious
	bMergedWithNext
	bContiguous
)

func parseBehavior(s string) (behavior, error) {
	switch s {
	case "Removed":
		return bRemoved, nil
	case "Isolated":
		return bIsolated, nil
	case "MergedWithPrevious":
		return bMergedWithPrevious, nil
	case "MergedWithNext":
		return bMergedWithNext, nil
	case "Contiguous":
		return bContiguous, nil
	}
	return 0, fmt.Errorf("split behavior %q is not supported", s)
}

// piece is one pre-token: a string and whether it starts the original text.
type piece struct {
	s     string
	start bool
}

// preTok is one pre-tokenizer step.
type preTok interface {
	apply(in []piece, out []piece, ws *workspace) []piece
}

// span is a part of a string marked as a match (of the pattern) or not.
type span struct {
	a, b  int
	match bool
}

// splitPiece splits p by the matches of m with behavior b, appending the
// non-empty parts to out (HF's NormalizedString::split).
func splitPiece(p piece, m matcher, b behavior, invert bool, out []piece, ws *workspace) []piece {
	s := p.s
	if s == "" {
		return out
	}
	ws.spans = m.findAll(s, ws.spans[:0])
	parts := ws.parts[:0]
	prev := 0
	for _, sp := range ws.spans {
		if sp[0] != prev {
			parts = append(parts, span{prev, sp[0], invert})
		}
		parts = append(parts, span{sp[0], sp[1], !invert})
		prev = sp[1]
	}
	if prev != len(s) {
		parts = append(parts, span{prev, len(s), invert})
	}
	res := ws.parts2[:0]
	switch b {
	case bRemoved:
		for _, x := range parts {
			if !x.match {
				res = append(res, x)
			}
		}
	case bIsolated:
		res = append(res, parts...)
	case bMergedWithPrevious:
		prevMatch := false
		for _, x := range parts {
			if x.match && !prevMatch && len(res) > 0 {
				res[len(res)-1].b = x.b
			} else {
				res = append(res, span{x.a, x.b, false})
			}
			prevMatch = x.match
		}
	case bMergedWithNext:
		prevMatch := false
		for i := len(parts) - 1; i >= 0; i-- {
			x := parts[i]
			if x.match && !prevMatch && len(res) > 0 {
				res[len(res)-1].a = x.a
			} else {
				res = append(res, span{x.a, x.b, false})
			}
			prevMatch = x.match
		}
		for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
			res[i], res[j] = res[j], res[i]
		}
	case bContiguous:
		prevMatch := false
		for i, x := range parts {
			if i > 0 && x.match == prevMatch {
				res[len(res)-1].b = x.b
			} else {
				res = append(res, span{x.a, x.b, false})
			}
			prevMatch = x.match
		}
	}
	for _, x := range res {
		if x.b > x.a {
			out = append(out, piece{s: s[x.a:x.b], start: p.start && x.a == 0})
		}
	}
	ws.parts, ws.parts2 = parts, res
	return out
}

type splitPre struct {
	m      matcher
	b      behavior
	invert bool
}

func (sp splitPre) apply(in, out []piece, ws *workspace) []piece {
	// A scanner matches everywhere, so Isolated and inverted Removed both
	// give exactly its matches.
	if sm, ok := sp.m.(scanMatcher); ok && (sp.b == bIsolated || (sp.b == bRemoved && sp.invert)) {
		for _, p := range in {
			s := p.s
			for i := 0; i < len(s); {
				n := sm.scan(s[i:])
				if n <= 0 {
					_, n = utf8.DecodeRuneInString(s[i:])
				}
				out = append(out, piece{s: s[i : i+n], start: p.start && i == 0})
				i += n
			}
		}
		return out
	}
	for _, p := range in {
		out = splitPiece(p, sp.m, sp.b, sp.invert, out, ws)
	}
	return out
}

// byteLevelPre is the ByteLevel pre-tokenizer. In byte mode (last step) it
// keeps raw bytes; otherwise it maps them to the byte-level alphabet.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
	mapChars       bool
}

var gpt2Matcher = scanMatcher{scanGPT2}

func (bl byteLevelPre) apply(in, out []piece, ws *workspace) []piece {
	for _, p := range in {
		if bl.addPrefixSpace && !strings.HasPrefix(p.s, " ") {
			p.s = " " + p.s
		}
		n := len(out)
		if bl.useRegex {
			out = splitPiece(p, gpt2Matcher, bIsolated, false, out, ws)
		} else if p.s != "" {
			out = append(out, p)
		}
		if bl.mapChars {
			for i := n; i < len(out); i++ {
				out[i].s = string(byteLevelEncode(out[i].s, nil))
			}
		}
	}
	return out
}

// metaspacePre is the Metaspace pre-tokenizer.
type metaspacePre struct {
	rep    string
	scheme string // always, first, never
	split  bool
}

func (ms metaspacePre) apply(in, out []piece, ws *workspace) []piece {
	lm := literalMatcher{ms.rep}
	for _, p := range in {
		s := strings.ReplaceAll(p.s, " ", ms.rep)
		switch ms.scheme {
		case "always":
			if !strings.HasPrefix(s, ms.rep) {
				s = ms.rep + s
			}
		case "first":
			if !strings.HasPrefix(s, ms.rep) && p.start {
				s = ms.rep + s
			}
		}
		np := piece{s: s, start: p.start}
		if ms.split {
			out = splitPiece(np, lm, bMergedWithNext, false, out, ws)
		} else if s != "" {
			out = append(out, np)
		}
	}
	return out
}

func isWordChar(r rune) bool {
	return class(r)&cWord != 0 || unicode.Is(unicode.Pc, r)
}

func isPunctuation(r rune) bool {
	if r < 128 {
		return r > ' ' && r < 0x7f && !(r >= '0' && r <= '9') && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z')
	}
	return unicode.IsPunct(r)
}

// whitespaceMatcher matches \w+|[^\w\s]+ (the Whitespace pre-tokenizer).
type whitespaceMatcher struct{}

func (whitespaceMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isWordChar(r):
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !isWordChar(r2) {
					break
				}
				j += n2
			}
			dst = append(dst, [2]int{i, j})
			i = j
		case !unicode.IsSpace(r):
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if isWordChar(r2) || unicode.IsSpace(r2) {
					break
				}
				j += n2
			}
			dst = append(dst, [2]int{i, j})
			i = j
		default:
			i += n
		}
	}
	return dst
}

func parsePreTokenizer(raw json.RawMessage, depth int) ([]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("parse pre_tokenizer: nested too deep")
	}
	t, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("parse pre_tokenizer: %w", err)
	}
	if t != "Sequence" {
		return []json.RawMessage{raw}, nil
	}
	var v struct {
		Pretokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("parse pre_tokenizer Sequence: %w", err)
	}
	var flat []json.RawMessage
	for _, r := range v.Pretokenizers {
		f, err := parsePreTokenizer(r, depth+1)
		if err != nil {
			return nil, err
		}
		flat = append(flat, f...)
	}
	return flat, nil
}

// buildPreTok makes one step; last tells whether ByteLevel may keep raw bytes.
func buildPreTok(raw json.RawMessage, byteMode bool) (preTok, error) {
	t, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("parse pre_tokenizer: %w", err)
	}
	switch t {
	case "Split":
		var v struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Split: %w", err)
		}
		m, err := newMatcher(v.Pattern)
		if err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Split: %w", err)
		}
		b, err := parseBehavior(v.Behavior)
		if err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Split: %w", err)
		}
		return splitPre{m: m, b: b, invert: v.Invert}, nil
	case "ByteLevel":
		v := struct {
			AddPrefixSpace bool  `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer ByteLevel: %w", err)
		}
		return byteLevelPre{addPrefixSpace: v.AddPrefixSpace, useRegex: v.UseRegex == nil || *v.UseRegex, mapChars: !byteMode}, nil
	case "Metaspace":
		v := struct {
			Replacement    string `json:"replacement"`
			AddPrefixSpace *bool  `json:"add_prefix_space"`
			PrependScheme  string `json:"prepend_scheme"`
			Split          *bool  `json:"split"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Metaspace: %w", err)
		}
		if v.Replacement == "" {
			v.Replacement = "▁"
		}
		scheme := v.PrependScheme
		if scheme == "" {
			scheme = "always"
			if v.AddPrefixSpace != nil && !*v.AddPrefixSpace {
				scheme = "never"
			}
		}
		switch scheme {
		case "always", "first", "never":
		default:
			return nil, fmt.Errorf("parse pre_tokenizer Metaspace: prepend_scheme %q is not supported", scheme)
		}
		return metaspacePre{rep: v.Replacement, scheme: scheme, split: v.Split == nil || *v.Split}, nil
	case "Whitespace":
		return splitPre{m: whitespaceMatcher{}, b: bRemoved, invert: true}, nil
	case "WhitespaceSplit":
		return splitPre{m: predMatcher{unicode.IsSpace}, b: bRemoved}, nil
	case "Digits":
		var v struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Digits: %w", err)
		}
		b := bContiguous
		if v.Individual {
			b = bIsolated
		}
		return splitPre{m: predMatcher{func(r rune) bool { return class(r)&cN != 0 }}, b: b}, nil
	case "Punctuation":
		var v struct {
			Behavior string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse pre_tokenizer Punctuation: %w", err)
		}
		b := bIsolated
		if v.Behavior != "" {
			if b, err = parseBehavior(v.Behavior); err != nil {
				return nil, fmt.Errorf("parse pre_tokenizer Punctuation: %w", err)
			}
		}
		return splitPre{m: predMatcher{isPunctuation}, b: b}, nil
	}
	return nil, fmt.Errorf("parse pre_tokenizer: type %q is not supported", t)
}
