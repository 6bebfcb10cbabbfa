package tokenizer

import "unicode/utf8"

// bytesChar maps each byte to the printable character GPT-2's byte-level
// alphabet uses for it; charBytes is the inverse (indexed by rune, < 324).
var (
	bytesChar [256]rune
	charBytes [324]int16
)

func init() {
	for i := range charBytes {
		charBytes[i] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			bytesChar[b] = rune(b)
		} else {
			bytesChar[b] = rune(256 + n)
			n++
		}
		charBytes[bytesChar[b]] = int16(b)
	}
}

// byteLevelDecodeToken maps a byte-level token to the bytes it stands for.
// ok is false when a character is outside the byte-level alphabet.
func byteLevelDecodeToken(tok string, buf []byte) ([]byte, bool) {
	for _, r := range tok {
		if r < 0 || int(r) >= len(charBytes) || charBytes[r] < 0 {
			return buf, false
		}
		buf = append(buf, byte(charBytes[r]))
	}
	return buf, true
}

// byteLevelEncode maps raw bytes to byte-level characters.
func byteLevelEncode(s string, buf []byte) []byte {
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, bytesChar[s[i]])
	}
	return buf
}

// appendLossy appends b to dst as valid UTF-8, replacing each maximal
// invalid subpart with U+FFFD, as Rust's String::from_utf8_lossy does.
func appendLossy(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[i:i+n]...)
			i += n
			continue
		}
		// Invalid: skip the longest prefix of a well-formed sequence.
		i += invalidPrefixLen(b[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// invalidPrefixLen returns the length (≥ 1) of the maximal subpart of an
// ill-formed UTF-8 sequence at the start of b.
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for k := 0; k < need && i < len(b); k++ {
		x := b[i]
		if k == 0 {
			if x < lo || x > hi {
				return i
			}
		} else if x < 0x80 || x > 0xBF {
			return i
		}
		i++
	}
	return i
}
