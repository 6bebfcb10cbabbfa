package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decoder turns token strings back into text pieces (HF decode_chain).
type decoder interface {
	chain(toks []string) []string
}

type byteLevelDec struct{}

func (byteLevelDec) chain(toks []string) []string {
	var raw []byte
	for _, t := range toks {
		n := len(raw)
		b, ok := byteLevelDecodeToken(t, raw)
		if ok {
			raw = b
		} else {
			raw = append(b[:n], t...)
		}
	}
	return []string{string(appendLossy(nil, raw))}
}

type metaspaceDec struct {
	rep         rune
	prependNone bool
}

func (m metaspaceDec) chain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var b strings.Builder
		for _, r := range t {
			if r == m.rep {
				if i == 0 && !m.prependNone {
					continue
				}
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
		out[i] = b.String()
	}
	return out
}

type replaceDec struct {
	m       matcher
	content string
}

func (r replaceDec) chain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = replaceAll(t, r.m, r.content)
	}
	return out
}

type byteFallbackDec struct{}

// parseByteToken reads "<0xXX>".
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>' {
		return 0, false
	}
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		}
		return 0, false
	}
	hi, ok1 := h(t[3])
	lo, ok2 := h(t[4])
	return hi<<4 | lo, ok1 && ok2
}

func (byteFallbackDec) chain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDec struct{}

func (fuseDec) chain(toks []string) []string { return []string{strings.Join(toks, "")} }

type stripDec struct {
	content     rune
	start, stop int
}

func (s stripDec) chain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		runes := []rune(t)
		a := 0
		for a < len(runes) && a < s.start && runes[a] == s.content {
			a++
		}
		b := len(runes)
		for k := 0; b > a && k < s.stop && runes[b-1] == s.content; k++ {
			b--
		}
		out[i] = string(runes[a:b])
	}
	return out
}

type seqDec []decoder

func (q seqDec) chain(toks []string) []string {
	for _, d := range q {
		toks = d.chain(toks)
	}
	return toks
}

type bpeDec struct{ suffix string }

func (d bpeDec) chain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

type wordPieceDec struct {
	prefix  string
	cleanup bool
}

func (d wordPieceDec) chain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = t[len(d.prefix):]
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanUpTokenization(t)
		}
		out[i] = t
	}
	return out
}

// cleanUpTokenization is transformers' clean_up_tokenization.
func cleanUpTokenization(s string) string {
	for _, p := range [...][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

func parseDecoder(raw json.RawMessage, depth int) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("parse decoder: nested too deep")
	}
	t, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("parse decoder: %w", err)
	}
	switch t {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		v := struct {
			Replacement    string `json:"replacement"`
			AddPrefixSpace *bool  `json:"add_prefix_space"`
			PrependScheme  string `json:"prepend_scheme"`
		}{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder Metaspace: %w", err)
		}
		rep := '▁'
		if v.Replacement != "" {
			rep, _ = utf8.DecodeRuneInString(v.Replacement)
		}
		none := v.PrependScheme == "never" || (v.PrependScheme == "" && v.AddPrefixSpace != nil && !*v.AddPrefixSpace)
		return metaspaceDec{rep: rep, prependNone: none}, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder Replace: %w", err)
		}
		m, err := newMatcher(v.Pattern)
		if err != nil {
			return nil, fmt.Errorf("parse decoder Replace: %w", err)
		}
		return replaceDec{m: m, content: v.Content}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder Strip: %w", err)
		}
		r, _ := utf8.DecodeRuneInString(v.Content)
		return stripDec{content: r, start: v.Start, stop: v.Stop}, nil
	case "BPEDecoder":
		v := struct {
			Suffix string `json:"suffix"`
		}{Suffix: "</w>"}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder BPEDecoder: %w", err)
		}
		return bpeDec{suffix: v.Suffix}, nil
	case "WordPiece":
		v := struct {
			Prefix  string `json:"prefix"`
			Cleanup *bool  `json:"cleanup"`
		}{Prefix: "##"}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder WordPiece: %w", err)
		}
		return wordPieceDec{prefix: v.Prefix, cleanup: v.Cleanup == nil || *v.Cleanup}, nil
	case "Sequence":
		var v struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse decoder Sequence: %w", err)
		}
		var q seqDec
		for _, r := range v.Decoders {
			d, err := parseDecoder(r, depth+1)
			if err != nil {
				return nil, err
			}
			if d != nil {
				q = append(q, d)
			}
		}
		return q, nil
	}
	return nil, fmt.Errorf("parse decoder: type %q is not supported", t)
}
