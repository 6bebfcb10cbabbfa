package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Hand-coded scanners for the common pre-tokenizer regexes. Each returns the
// length in bytes (> 0) of the match that Oniguruma's leftmost-first search
// finds at the start of a non-empty s; these patterns match at every position.

// Regexes recognised by exact text.
const (
	patGPT2   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	patCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patO200K  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownScanner returns the scanner for a known regex, or nil.
func knownScanner(pat string) func(string) int {
	switch pat {
	case patGPT2:
		return scanGPT2
	case patCL100K:
		return scanCL100K
	case patQwen2:
		return scanQwen2
	case patO200K:
		return scanO200K
	}
	return nil
}

// Character classes.
const (
	cL    uint8 = 1 << iota // \p{L}
	cN                      // \p{N}
	cS                      // \s (Unicode White_Space)
	cNL                     // \r or \n
	cUp                     // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cLow                    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	cWord                   // \w: Alphabetic, M, Nd, Pc, Join_Control
)

var asciiClass [128]uint8

func init() {
	for r := rune(0); r < 128; r++ {
		asciiClass[r] = slowClass(r)
	}
}

func slowClass(r rune) uint8 {
	var c uint8
	if unicode.IsLetter(r) {
		c |= cL | cWord
		switch {
		case unicode.Is(unicode.Lu, r), unicode.Is(unicode.Lt, r):
			c |= cUp
		case unicode.Is(unicode.Ll, r):
			c |= cLow
		default: // Lm, Lo
			c |= cUp | cLow
		}
	} else if unicode.IsMark(r) {
		c |= cUp | cLow | cWord
	}
	if unicode.IsNumber(r) {
		c |= cN
		if unicode.In(r, unicode.Nd, unicode.Nl) {
			c |= cWord
		}
	}
	if unicode.Is(unicode.Other_Alphabetic, r) {
		c |= cWord
	}
	if unicode.IsSpace(r) {
		c |= cS
	}
	if r == '\r' || r == '\n' {
		c |= cNL
	}
	if unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D { // Pc, Join_Control
		c |= cWord
	}
	if c == 0 && r >= 0x897 {
		c = class16(r)
	}
	return c
}

// class16 classifies the characters Unicode 15.1 and 16.0 added, which Go's
// tables (15.0) do not know and Oniguruma does.
func class16(r rune) uint8 {
	switch {
	case unicode.In(r, new16Lu, new16Lt):
		return cL | cWord | cUp
	case unicode.Is(new16Ll, r):
		return cL | cWord | cLow
	case unicode.In(r, new16Lm, new16Lo):
		return cL | cWord | cUp | cLow
	case unicode.In(r, new16Mn, new16Mc, new16Me):
		return cUp | cLow | cWord
	case unicode.In(r, new16Nd, new16Nl):
		return cN | cWord
	case unicode.Is(new16No, r):
		return cN
	case unicode.Is(new16Pc, r):
		return cWord
	}
	return 0
}

func class(r rune) uint8 {
	if r < 128 {
		return asciiClass[r]
	}
	return slowClass(r)
}

// next decodes the rune at s[i:], returning its class and width.
func next(s string, i int) (rune, uint8, int) {
	c := s[i]
	if c < 0x80 {
		return rune(c), asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, slowClass(r), n
}

// runWhile returns the end of the run of characters from i that have any of
// the bits in want and none of the bits in not.
func runWhile(s string, i int, want, not uint8) int {
	for i < len(s) {
		_, c, n := next(s, i)
		if c&want == 0 || c&not != 0 {
			return i
		}
		i += n
	}
	return i
}

// runOther returns the end of the run of [^\s\p{L}\p{N}] from i.
func runOther(s string, i int) int {
	for i < len(s) {
		_, c, n := next(s, i)
		if c&(cS|cL|cN) != 0 {
			return i
		}
		i += n
	}
	return i
}

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) (or its case-sensitive
// form) at s[i:], returning the match length or 0.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	c := s[i+1]
	if fold {
		if c == 0xC5 && i+2 < len(s) && s[i+2] == 0xBF { // U+017F LONG S folds to s
			return 3
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
	}
	switch c {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 >= len(s) {
		return 0
	}
	d := s[i+2]
	if fold && d >= 'A' && d <= 'Z' {
		d += 'a' - 'A'
	}
	switch {
	case c == 'r' && d == 'e', c == 'v' && d == 'e', c == 'l' && d == 'l':
		return 3
	}
	return 0
}

// scanSpace handles the shared tail `\s*[\r\n]+|\s+(?!\S)|\s+` (with or
// without the first alternative) for s starting with whitespace.
func scanSpace(s string, withNL bool) int {
	j := 0
	lastNL := -1
	lastStart := 0
	for j < len(s) {
		_, c, n := next(s, j)
		if c&cS == 0 {
			break
		}
		if c&cNL != 0 {
			lastNL = j
		}
		lastStart = j
		j += n
	}
	if withNL && lastNL >= 0 {
		return lastNL + 1
	}
	if j == len(s) || lastStart == 0 {
		return j
	}
	return lastStart
}

func scanCL100K(s string) int { return scanCLFamily(s, 3) }
func scanQwen2(s string) int  { return scanCLFamily(s, 1) }

func scanCLFamily(s string, maxDigits int) int {
	r0, c0, n0 := next(s, 0)
	if r0 == '\'' {
		if n := contraction(s, 0, true); n > 0 {
			return n
		}
	}
	if c0&cL != 0 {
		return runWhile(s, n0, cL, 0)
	}
	if c0&(cNL|cN) == 0 && n0 < len(s) {
		if _, c1, n1 := next(s, n0); c1&cL != 0 {
			return runWhile(s, n0+n1, cL, 0)
		}
	}
	if c0&cN != 0 {
		i := n0
		for k := 1; k < maxDigits && i < len(s); k++ {
			_, c, n := next(s, i)
			if c&cN == 0 {
				break
			}
			i += n
		}
		return i
	}
	start := -1
	if c0&(cS|cL|cN) == 0 {
		start = 0
	} else if r0 == ' ' && n0 < len(s) {
		if _, c1, _ := next(s, n0); c1&(cS|cL|cN) == 0 {
			start = 1
		}
	}
	if start >= 0 {
		i := runOther(s, start)
		for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
			i++
		}
		return i
	}
	return scanSpace(s, true)
}

func scanGPT2(s string) int {
	r0, c0, n0 := next(s, 0)
	if r0 == '\'' {
		if n := contraction(s, 0, false); n > 0 {
			return n
		}
	}
	i := 0
	c := c0
	if r0 == ' ' && n0 < len(s) {
		_, c1, _ := next(s, n0)
		if c1&cS == 0 {
			i, c = 1, c1
		}
	}
	switch {
	case c&cL != 0:
		return runWhile(s, i, cL, 0)
	case c&cN != 0:
		return runWhile(s, i, cN, 0)
	case c&cS == 0:
		return runOther(s, i)
	}
	return scanSpace(s, false)
}

func scanO200K(s string) int {
	_, c0, n0 := next(s, 0)
	pfx := c0&(cNL|cL|cN) == 0
	if pfx {
		if e := o200kAlt1(s, n0); e > 0 {
			return e
		}
	}
	if e := o200kAlt1(s, 0); e > 0 {
		return e
	}
	if pfx {
		if e := o200kAlt2(s, n0); e > 0 {
			return e
		}
	}
	if e := o200kAlt2(s, 0); e > 0 {
		return e
	}
	if c0&cN != 0 {
		i := n0
		for k := 1; k < 3 && i < len(s); k++ {
			_, c, n := next(s, i)
			if c&cN == 0 {
				break
			}
			i += n
		}
		return i
	}
	start := -1
	if c0&(cS|cL|cN) == 0 {
		start = 0
	} else if s[0] == ' ' && n0 < len(s) {
		if _, c1, _ := next(s, n0); c1&(cS|cL|cN) == 0 {
			start = 1
		}
	}
	if start >= 0 {
		i := runOther(s, start)
		for i < len(s) && (s[i] == '\r' || s[i] == '\n' || s[i] == '/') {
			i++
		}
		return i
	}
	return scanSpace(s, true)
}

// o200kAlt1 matches [Up]*[Low]+('s…)? at j; returns the end or 0.
func o200kAlt1(s string, j int) int {
	if j >= len(s) {
		return 0
	}
	k := runWhile(s, j, cUp, 0)
	e := 0
	if k < len(s) {
		if _, c, _ := next(s, k); c&cLow != 0 {
			e = runWhile(s, k, cLow, 0)
		}
	}
	if e == 0 {
		// Backtrack [Up]* to the last character that is also in [Low].
		for m := k; m > j; {
			r, n := utf8.DecodeLastRuneInString(s[j:m])
			m -= n
			if class(r)&cLow != 0 {
				e = m + n
				break
			}
		}
		if e == 0 {
			return 0
		}
	}
	return e + contraction(s, e, true)
}

// o200kAlt2 matches [Up]+[Low]*('s…)? at j; returns the end or 0.
func o200kAlt2(s string, j int) int {
	if j >= len(s) {
		return 0
	}
	k := runWhile(s, j, cUp, 0)
	if k == j {
		return 0
	}
	e := runWhile(s, k, cLow, 0)
	return e + contraction(s, e, true)
}
