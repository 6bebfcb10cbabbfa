package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of "added_tokens".
type addedToken struct {
	content    string
	id         int32
	special    bool
	lstrip     bool
	rstrip     bool
	singleWord bool
	normalized bool
}

// trie is a byte trie over added-token contents for leftmost-longest search.
type trie struct {
	root  [256]int32 // child of the root per byte, 0 = none
	nodes []trieNode
}

type trieNode struct {
	edges []trieEdge
	tok   int32 // index into the token list, -1 if none
}

type trieEdge struct {
	b  byte
	to int32
}

func newTrie() *trie {
	return &trie{nodes: []trieNode{{tok: -1}}}
}

func (t *trie) child(n int32, b byte) int32 {
	if n == 0 {
		return t.root[b]
	}
	for _, e := range t.nodes[n].edges {
		if e.b == b {
			return e.to
		}
	}
	return 0
}

func (t *trie) insert(key string, tok int32) {
	n := int32(0)
	for i := 0; i < len(key); i++ {
		c := t.child(n, key[i])
		if c == 0 {
			c = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{tok: -1})
			if n == 0 {
				t.root[key[i]] = c
			} else {
				t.nodes[n].edges = append(t.nodes[n].edges, trieEdge{key[i], c})
			}
		}
		n = c
	}
	if t.nodes[n].tok < 0 {
		t.nodes[n].tok = tok
	}
}

// longestAt returns the token index and end of the longest key starting at
// s[i:], or -1.
func (t *trie) longestAt(s string, i int) (int32, int) {
	n := t.root[s[i]]
	if n == 0 {
		return -1, 0
	}
	best, end := int32(-1), 0
	j := i + 1
	for {
		if tk := t.nodes[n].tok; tk >= 0 {
			best, end = tk, j
		}
		if j >= len(s) {
			break
		}
		n = t.child(n, s[j])
		if n == 0 {
			break
		}
		j++
	}
	return best, end
}

// segment is a part of the input: text (tok < 0) or an added token.
type segment struct {
	s     string
	tok   int32 // index into tokens, -1 for text
	start bool  // starts at offset 0 of the original text
}

// split finds the added tokens of t in s (HF AddedVocabulary::find_matches)
// and appends the segments to out.
func (t *trie) split(s string, tokens []addedToken, start bool, out []segment) []segment {
	if t == nil || len(t.nodes) == 1 {
		return append(out, segment{s: s, tok: -1, start: start})
	}
	startOff := 0
	for i := 0; i < len(s); {
		tk, end := t.longestAt(s, i)
		if tk < 0 {
			i++
			continue
		}
		a, b := i, end
		i = end
		at := &tokens[tk]
		if at.singleWord {
			startSpace := a == 0 || !endsWithWord(s[:a])
			stopSpace := b == len(s) || !startsWithWord(s[b:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if at.lstrip {
			na := a
			for na > 0 {
				r, n := utf8.DecodeLastRuneInString(s[:na])
				if !unicode.IsSpace(r) {
					break
				}
				na -= n
			}
			a = max(na, startOff)
		}
		if at.rstrip {
			for b < len(s) {
				r, n := utf8.DecodeRuneInString(s[b:])
				if !unicode.IsSpace(r) {
					break
				}
				b += n
			}
			// HF goes on searching from the end of the match itself, so a
			// token may start inside the whitespace just taken.
		}
		if a > startOff {
			out = append(out, segment{s: s[startOff:a], tok: -1, start: start && startOff == 0})
		}
		out = append(out, segment{s: s[min(a, b):b], tok: tk, start: start && a == 0})
		startOff = b
	}
	if startOff < len(s) {
		out = append(out, segment{s: s[startOff:], tok: -1, start: start && startOff == 0})
	}
	return out
}

// isRegexWord is Rust regex's \w: Alphabetic, M, Nd, Pc and Join_Control.
func isRegexWord(r rune) bool {
	return class(r)&cWord != 0
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isRegexWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isRegexWord(r)
}
