package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiledNormalizer is the Precompiled normalizer: SentencePiece's
// precompiled_charsmap (T5, ALBERT, XLNet, mBART exports). The charsmap is a
// little-endian u32 trie size in bytes, a darts-clone double array of that
// many bytes, then the replacement strings, each ended by a NUL byte.
//
// Like the Rust library: each extended grapheme cluster shorter than 6
// bytes is looked up whole, and the shortest charsmap key that prefixes it
// replaces the whole cluster; otherwise each character is looked up alone
// and replaced when a key prefixes it.
type precompiledNormalizer struct {
	array      []uint32
	normalized string
}

func newPrecompiled(b64 string) (*precompiledNormalizer, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("parse normalizer Precompiled: precompiled_charsmap: %w", err)
	}
	if len(raw) < 4 {
		return nil, fmt.Errorf("parse normalizer Precompiled: precompiled_charsmap: %d bytes, want at least 4", len(raw))
	}
	size := int(binary.LittleEndian.Uint32(raw) / 4)
	rest := raw[4:]
	if size > len(rest)/4 {
		return nil, fmt.Errorf("parse normalizer Precompiled: precompiled_charsmap: trie of %d units does not fit in %d bytes", size, len(rest))
	}
	p := &precompiledNormalizer{array: make([]uint32, size)}
	for i := range p.array {
		p.array[i] = binary.LittleEndian.Uint32(rest[4*i:])
	}
	norm := rest[4*size:]
	if !utf8.Valid(norm) {
		return nil, fmt.Errorf("parse normalizer Precompiled: precompiled_charsmap: replacement strings are not valid UTF-8")
	}
	p.normalized = string(norm)
	return p, nil
}

func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// transform returns the replacement of the shortest key that prefixes
// chunk, or false when no key does.
func (p *precompiledNormalizer) transform(chunk string) (string, bool) {
	if len(p.array) == 0 {
		return "", false
	}
	pos := dartsOffset(p.array[0])
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if int(pos) >= len(p.array) {
			return "", false // the Rust library would index out of bounds
		}
		u := p.array[pos]
		if u&(1<<31|0xFF) != uint32(c) {
			return "", false
		}
		pos ^= dartsOffset(u)
		if (u>>8)&1 == 1 {
			if int(pos) >= len(p.array) {
				return "", false
			}
			return p.at(int(p.array[pos] & (1<<31 - 1)))
		}
	}
	return "", false
}

// at returns the NUL-terminated replacement starting at byte index.
func (p *precompiledNormalizer) at(index int) (string, bool) {
	if index > len(p.normalized) {
		return "", false
	}
	s := p.normalized[index:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if !utf8.ValidString(s) || (index < len(p.normalized) && !utf8.RuneStart(p.normalized[index])) {
		return "", false
	}
	return s, true
}

func (p *precompiledNormalizer) normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	state := -1
	for s != "" {
		var g string
		g, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		if len(g) < 6 {
			if r, ok := p.transform(g); ok {
				b.WriteString(r)
				continue
			}
		}
		for i := 0; i < len(g); {
			_, n := utf8.DecodeRuneInString(g[i:])
			if r, ok := p.transform(g[i : i+n]); ok {
				b.WriteString(r)
			} else {
				b.WriteString(g[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}
