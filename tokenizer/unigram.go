package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

// unigramPiece is one entry of a Unigram "vocab" list: [piece, score].
type unigramPiece struct {
	piece string
	score float64
}

// unkPenalty is how far below the lowest vocabulary score the Rust library
// scores a character that no piece covers (SentencePiece's kUnkPenalty).
const unkPenalty = 10.0

// errNoUnk is the Rust library's failure on a character no piece covers
// when the model has no unk_id.
var errNoUnk = errors.New("encountered an unknown token but the Unigram model has no unk_id")

// unigram is the SentencePiece Unigram model: the best-scoring segmentation
// of each pre-token into vocabulary pieces (Viterbi), as the HF tokenizers
// Rust library computes it.
type unigram struct {
	pieces []string
	scores []float64
	ids    map[string]int32 // piece → id; the last of duplicated pieces wins, as in HF
	// Byte trie of the pieces, nodes in breadth-first order: the children
	// of a node are count[n] consecutive nodes from first[n], sorted by
	// label; term[n] is the id of the piece ending at n (-1 for none).
	root         [256]int32 // children of the root, -1 for none
	first        []int32
	count        []uint16
	label        []byte
	term         []int32
	unk          int32 // -1: no unk_id
	unkScore     float64
	byteFallback bool
	fallbackIDs  [256]int32 // id of "<0xXX>", -1 if none
}

// uniScratch holds the Viterbi arrays of one word.
type uniScratch struct {
	score []float64
	from  []int32
	id    []int32
	path  []int32 // node ends, in reverse
}

// newUnigram builds the model from the "vocab" list, "unk_id" and
// "byte_fallback".
func newUnigram(m *modelJSON) (*unigram, error) {
	if m.Vocab.list == nil {
		if m.Vocab.m != nil {
			return nil, errors.New("load model: Unigram \"vocab\" must be a list of [piece, score] pairs, not an object")
		}
		return nil, errors.New("load model: Unigram model is missing \"vocab\"")
	}
	list := m.Vocab.list
	u := &unigram{
		pieces:       make([]string, len(list)),
		scores:       make([]float64, len(list)),
		ids:          make(map[string]int32, len(list)),
		unk:          -1,
		byteFallback: m.ByteFallback,
	}
	if m.UnkID != nil {
		if len(list) == 0 {
			return nil, errors.New("load model: Unigram \"vocab\" is empty but \"unk_id\" needs an entry")
		}
		if *m.UnkID < 0 || *m.UnkID >= len(list) {
			return nil, fmt.Errorf("load model: Unigram \"unk_id\" %d is outside the vocabulary (%d pieces)", *m.UnkID, len(list))
		}
		u.unk = int32(*m.UnkID)
	}
	if len(list) > 1<<22 {
		return nil, fmt.Errorf("load model: Unigram \"vocab\" has %d pieces, too many", len(list))
	}
	minScore := math.Inf(1)
	for i, p := range list {
		if math.IsNaN(p.score) || math.IsInf(p.score, 0) {
			return nil, fmt.Errorf("load model: Unigram \"vocab\" entry %d (%q): score %v is not finite", i, p.piece, p.score)
		}
		u.pieces[i] = p.piece
		u.scores[i] = p.score
		u.ids[p.piece] = int32(i)
		if p.score < minScore {
			minScore = p.score
		}
	}
	u.unkScore = minScore - unkPenalty
	u.buildTrie()
	for i := range u.fallbackIDs {
		u.fallbackIDs[i] = -1
	}
	for i := 0; i < 256; i++ {
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", i)]; ok {
			u.fallbackIDs[i] = id
		}
	}
	return u, nil
}

// buildTrie builds the byte trie of the distinct non-empty pieces (the
// library's prefix search never yields the empty piece).
func (u *unigram) buildTrie() {
	keys := make([]string, 0, len(u.ids))
	for p := range u.ids {
		if p != "" {
			keys = append(keys, p)
		}
	}
	sort.Strings(keys)
	for i := range u.root {
		u.root[i] = -1
	}
	u.first, u.count, u.label, u.term = []int32{0}, []uint16{0}, []byte{0}, []int32{-1}
	type item struct {
		node, lo, hi, depth int
	}
	queue := []item{{0, 0, len(keys), 0}}
	for q := 0; q < len(queue); q++ {
		it := queue[q]
		lo := it.lo
		if lo < it.hi && len(keys[lo]) == it.depth {
			u.term[it.node] = u.ids[keys[lo]]
			lo++
		}
		u.first[it.node] = int32(len(u.term))
		for lo < it.hi {
			c := keys[lo][it.depth]
			hi := lo + 1
			for hi < it.hi && keys[hi][it.depth] == c {
				hi++
			}
			n := len(u.term)
			u.first, u.count, u.label, u.term = append(u.first, 0), append(u.count, 0), append(u.label, c), append(u.term, -1)
			u.count[it.node]++
			if it.node == 0 {
				u.root[c] = int32(n)
			}
			queue = append(queue, item{n, lo, hi, it.depth + 1})
			lo = hi
		}
	}
}

func (u *unigram) child(node int32, b byte) (int32, bool) {
	if node == 0 {
		c := u.root[b]
		return c, c >= 0
	}
	f, n := int(u.first[node]), int(u.count[node])
	labels := u.label[f : f+n]
	if n <= 8 {
		for i, l := range labels {
			if l == b {
				return int32(f + i), true
			}
		}
		return -1, false
	}
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if labels[m] < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < n && labels[lo] == b {
		return int32(f + lo), true
	}
	return -1, false
}

// encodeWord appends the ids of one pre-token to out. Like the Rust
// library: among paths of equal score the first one found wins (the piece
// starting earliest, then the shortest from the same start); a character
// no piece of its own length covers gets an unk node scored min score − 10;
// consecutive unk nodes are fused into one string, which becomes its piece
// when the vocabulary has it, else its <0xXX> byte pieces (byte_fallback,
// when all exist), else unk.
func (u *unigram) encodeWord(w string, sc *uniScratch, out []int32) ([]int32, error) {
	n := len(w)
	if n == 0 {
		return out, nil
	}
	if cap(sc.score) < n+1 {
		sc.score = make([]float64, n+1, 2*n+2)
		sc.from = make([]int32, n+1, 2*n+2)
		sc.id = make([]int32, n+1, 2*n+2)
	}
	score, from, ids := sc.score[:n+1], sc.from[:n+1], sc.id[:n+1]
	for i := range from {
		from[i] = -1
		score[i] = 0
	}
	for i := 0; i < n; {
		_, mb := utf8.DecodeRuneInString(w[i:])
		base := score[i]
		single := false
		node := int32(0)
		for j := i; j < n; j++ {
			c, ok := u.child(node, w[j])
			if !ok {
				break
			}
			node = c
			tid := u.term[node]
			if tid < 0 {
				continue
			}
			e := j + 1
			cand := u.scores[tid] + base
			if from[e] < 0 || cand > score[e] {
				score[e], from[e], ids[e] = cand, int32(i), tid
			}
			if e-i == mb {
				single = true
			}
		}
		if !single {
			e := i + mb
			cand := u.unkScore + base
			if from[e] < 0 || cand > score[e] {
				if u.unk < 0 {
					return out, fmt.Errorf("%w (character %q)", errNoUnk, w[i:e])
				}
				score[e], from[e], ids[e] = cand, int32(i), u.unk
			}
		}
		i += mb
	}
	path := sc.path[:0]
	for e := int32(n); e > 0; e = from[e] {
		path = append(path, e)
	}
	sc.path = path
	start := 0
	for k := len(path) - 1; k >= 0; k-- {
		e := int(path[k])
		id := ids[e]
		if u.unk < 0 || id != u.unk {
			out = append(out, id)
			start = e
			continue
		}
		// A run of unk nodes is fused into one string.
		for k > 0 && ids[path[k-1]] == u.unk {
			k--
		}
		e = int(path[k])
		out = u.unknown(w[start:e], out)
		start = e
	}
	return out, nil
}

// unknown turns a fused unk string into ids.
func (u *unigram) unknown(s string, out []int32) []int32 {
	if id, ok := u.ids[s]; ok {
		return append(out, id)
	}
	if u.byteFallback {
		all := true
		for j := 0; j < len(s); j++ {
			if u.fallbackIDs[s[j]] < 0 {
				all = false
				break
			}
		}
		if all {
			for j := 0; j < len(s); j++ {
				out = append(out, u.fallbackIDs[s[j]])
			}
			return out
		}
	}
	return append(out, u.unk)
}
