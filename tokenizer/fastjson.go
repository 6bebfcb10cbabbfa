package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for the two big parts of tokenizer.json (the vocabulary
// object and the merges array), several times faster than encoding/json's
// reflection. encoding/json has already validated the syntax.

type jreader struct {
	b []byte
	i int
}

var errJSON = errors.New("malformed JSON")

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jreader) expect(c byte) error {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != c {
		return fmt.Errorf("%w: want %q at byte %d", errJSON, c, r.i)
	}
	r.i++
	return nil
}

// peek returns the next non-space byte (0 at the end).
func (r *jreader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *jreader) str() (string, error) {
	if err := r.expect('"'); err != nil {
		return "", err
	}
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			s := string(r.b[start:r.i])
			r.i++
			return s, nil
		}
		if c == '\\' {
			return r.strSlow(start)
		}
		r.i++
	}
	return "", fmt.Errorf("%w: unterminated string", errJSON)
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(v), err == nil
}

func (r *jreader) strSlow(start int) (string, error) {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			break
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			v, ok := hex4(r.b[r.i:])
			if !ok {
				return "", fmt.Errorf("%w: bad \\u escape", errJSON)
			}
			r.i += 4
			if utf16.IsSurrogate(v) {
				if r.i+6 <= len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					if v2, ok := hex4(r.b[r.i+2:]); ok {
						if d := utf16.DecodeRune(v, v2); d != utf8.RuneError {
							r.i += 6
							out = utf8.AppendRune(out, d)
							continue
						}
					}
				}
				v = utf8.RuneError
			}
			out = utf8.AppendRune(out, v)
		default:
			return "", fmt.Errorf("%w: bad escape \\%c", errJSON, e)
		}
	}
	return "", fmt.Errorf("%w: unterminated string", errJSON)
}

func (r *jreader) int() (int, error) {
	r.ws()
	start := r.i
	for r.i < len(r.b) && (r.b[r.i] == '-' || (r.b[r.i] >= '0' && r.b[r.i] <= '9')) {
		r.i++
	}
	v, err := strconv.Atoi(string(r.b[start:r.i]))
	if err != nil {
		return 0, fmt.Errorf("%w: want an integer at byte %d", errJSON, start)
	}
	return v, nil
}

// vocabMap is the "vocab" object: token → id.
type vocabMap map[string]int32

func (v *vocabMap) UnmarshalJSON(b []byte) error {
	r := &jreader{b: b}
	if r.peek() == 'n' {
		*v = nil
		return nil
	}
	if err := r.expect('{'); err != nil {
		return fmt.Errorf("parse vocab: %w", err)
	}
	m := make(map[string]int32, len(b)/16)
	if r.peek() == '}' {
		*v = m
		return nil
	}
	for {
		k, err := r.str()
		if err != nil {
			return fmt.Errorf("parse vocab: %w", err)
		}
		if err := r.expect(':'); err != nil {
			return fmt.Errorf("parse vocab: %w", err)
		}
		id, err := r.int()
		if err != nil {
			return fmt.Errorf("parse vocab entry %q: %w", k, err)
		}
		if id < 0 || id > 1<<30 {
			return fmt.Errorf("parse vocab entry %q: id %d out of range", k, id)
		}
		m[k] = int32(id)
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			*v = m
			return nil
		default:
			return fmt.Errorf("parse vocab: %w at byte %d", errJSON, r.i)
		}
	}
}

// mergeList accepts merges as "a b" strings or as ["a","b"] pairs.
type mergeList [][2]string

func (m *mergeList) UnmarshalJSON(b []byte) error {
	r := &jreader{b: b}
	if r.peek() == 'n' {
		*m = nil
		return nil
	}
	if err := r.expect('['); err != nil {
		return fmt.Errorf("parse merges: %w", err)
	}
	var out [][2]string
	if r.peek() == ']' {
		*m = out
		return nil
	}
	for n := 0; ; n++ {
		var pair [2]string
		switch r.peek() {
		case '"':
			s, err := r.str()
			if err != nil {
				return fmt.Errorf("parse merge %d: %w", n, err)
			}
			sp := -1
			for i := 0; i < len(s); i++ {
				if s[i] == ' ' {
					if sp >= 0 {
						return fmt.Errorf("parse merge %d %q: more than two tokens", n, s)
					}
					sp = i
				}
			}
			if sp < 0 {
				return fmt.Errorf("parse merge %d %q: want two tokens separated by a space", n, s)
			}
			pair = [2]string{s[:sp], s[sp+1:]}
		case '[':
			r.i++
			for k := 0; k < 2; k++ {
				if k == 1 {
					if err := r.expect(','); err != nil {
						return fmt.Errorf("parse merge %d: want 2 tokens: %w", n, err)
					}
				}
				s, err := r.str()
				if err != nil {
					return fmt.Errorf("parse merge %d: %w", n, err)
				}
				pair[k] = s
			}
			if err := r.expect(']'); err != nil {
				return fmt.Errorf("parse merge %d: want 2 tokens: %w", n, err)
			}
		default:
			return fmt.Errorf("parse merge %d: want a string or a pair: %w", n, errJSON)
		}
		out = append(out, pair)
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			*m = out
			return nil
		default:
			return fmt.Errorf("parse merges: %w at byte %d", errJSON, r.i)
		}
	}
}

// vocabJSON is a model's "vocab": an object of token ids (BPE) or a list of
// [piece, score] pairs (Unigram).
type vocabJSON struct {
	m    vocabMap
	list []unigramPiece
}

func (v *vocabJSON) UnmarshalJSON(b []byte) error {
	r := &jreader{b: b}
	switch r.peek() {
	case 'n':
		*v = vocabJSON{}
		return nil
	case '[':
		list, err := parseUnigramVocab(r)
		if err != nil {
			return err
		}
		*v = vocabJSON{list: list}
		return nil
	}
	*v = vocabJSON{}
	return v.m.UnmarshalJSON(b)
}

// num reads a JSON number as a float64 the way serde_json does without its
// float_roundtrip feature (the HF tokenizers library's build): the decimal
// digits go into a u64 (digits past its range are dropped), then one
// multiplication or division by a power of ten. This can be one ulp off the
// correctly rounded value, and Unigram scores must be bit-identical to the
// library's for its ties to break the same way.
func (r *jreader) num() (float64, error) {
	r.ws()
	start := r.i
	b := r.b
	bad := func() (float64, error) {
		return 0, fmt.Errorf("%w: want a finite number at byte %d", errJSON, start)
	}
	digit := func(i int) bool { return i < len(b) && b[i] >= '0' && b[i] <= '9' }
	i := r.i
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if !digit(i) || (b[i] == '0' && digit(i+1)) {
		return bad()
	}
	const maxU = ^uint64(0)
	var sig uint64
	exp := int64(0)
	full := false // the significand stopped taking digits
	for ; digit(i); i++ {
		d := uint64(b[i] - '0')
		if !full && (sig > maxU/10 || (sig == maxU/10 && d > maxU%10)) {
			full = true
		}
		if full {
			exp++ // an integer digit past the u64 range
			continue
		}
		sig = sig*10 + d
	}
	isInt := !full
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if !digit(i) {
			return bad()
		}
		full = false // fraction digits are checked again, then dropped once one does not fit
		for ; digit(i); i++ {
			d := uint64(b[i] - '0')
			if !full && (sig > maxU/10 || (sig == maxU/10 && d > maxU%10)) {
				full = true
			}
			if !full {
				sig = sig*10 + d
				exp--
			}
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		posExp := true
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			posExp = b[i] == '+'
			i++
		}
		if !digit(i) {
			return bad()
		}
		var e int64
		for ; digit(i); i++ {
			e = e*10 + int64(b[i]-'0')
			if e > math.MaxInt32 {
				if sig != 0 && posExp {
					return bad() // out of range
				}
				for digit(i) {
					i++
				}
				r.i = i
				if neg {
					return math.Copysign(0, -1), nil
				}
				return 0, nil
			}
		}
		if posExp {
			exp += e
		} else {
			exp -= e
		}
		exp = max(math.MinInt32, min(math.MaxInt32, exp))
	}
	r.i = i
	f := float64(sig)
	if !isInt {
		for {
			a := exp
			if a < 0 {
				a = -a
			}
			if a < int64(len(pow10)) {
				if exp >= 0 {
					f *= pow10[a]
				} else {
					f /= pow10[a]
				}
				break
			}
			if f == 0 {
				break
			}
			if exp >= 0 {
				return bad() // out of range
			}
			f /= 1e308
			exp += 308
		}
	}
	if math.IsInf(f, 0) {
		return bad()
	}
	if neg {
		f = -f
	}
	return f, nil
}

// pow10 holds the correctly rounded powers of ten 1e0 … 1e308.
var pow10 = func() []float64 {
	p := make([]float64, 309)
	for i := range p {
		p[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return p
}()

// parseUnigramVocab reads [[piece, score], ...].
func parseUnigramVocab(r *jreader) ([]unigramPiece, error) {
	if err := r.expect('['); err != nil {
		return nil, fmt.Errorf("parse vocab: %w", err)
	}
	out := make([]unigramPiece, 0, len(r.b)/24)
	if r.peek() == ']' {
		return out, nil
	}
	for n := 0; ; n++ {
		if err := r.expect('['); err != nil {
			return nil, fmt.Errorf("parse vocab entry %d: want [piece, score]: %w", n, err)
		}
		s, err := r.str()
		if err != nil {
			return nil, fmt.Errorf("parse vocab entry %d: piece: %w", n, err)
		}
		if err := r.expect(','); err != nil {
			return nil, fmt.Errorf("parse vocab entry %d (%q): want [piece, score]: %w", n, s, err)
		}
		f, err := r.num()
		if err != nil {
			return nil, fmt.Errorf("parse vocab entry %d (%q): score: %w", n, s, err)
		}
		if err := r.expect(']'); err != nil {
			return nil, fmt.Errorf("parse vocab entry %d (%q): want [piece, score]: %w", n, s, err)
		}
		out = append(out, unigramPiece{piece: s, score: f})
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			return out, nil
		default:
			return nil, fmt.Errorf("parse vocab: %w at byte %d", errJSON, r.i)
		}
	}
}
