package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// bpe is the BPE model. In byte mode (the last pre-tokenizer is ByteLevel)
// words are raw bytes and the vocabulary is keyed by the bytes each
// byte-level token stands for; otherwise words and keys are the token strings.
type bpe struct {
	vocab        map[string]int32 // keys in the model's word space
	merges       *pairTable
	byteMode     bool
	byteIDs      [256]int32 // byte mode: id of each single byte, -1 if none
	fallbackIDs  [256]int32 // byte_fallback: id of "<0xXX>", -1 if none
	hasFallback  bool       // all 256 "<0xXX>" tokens exist
	unk          int32
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string
	suffix       string
	// SentencePiece-style words (no pre-tokenizer: a whole text is one word)
	// are cut before each "▁" whose previous character can never merge
	// with it: no vocabulary token holds that character followed by "▁".
	spSplit   bool
	noSplitAt map[rune]bool
}

const spaceMark = "▁"

const noRank = ^uint32(0)

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPE builds the model. vocab is keyed by the token strings as written in
// tokenizer.json.
func newBPE(m *modelJSON, byteMode bool) (*bpe, error) {
	if m.Type != "" && m.Type != "BPE" {
		return nil, fmt.Errorf("load model: type %q is not supported (only BPE and Unigram)", m.Type)
	}
	if m.Vocab.m == nil {
		if m.Vocab.list != nil {
			return nil, fmt.Errorf("load model: BPE \"vocab\" must be an object of token ids, not a list")
		}
		return nil, fmt.Errorf("load model: missing \"vocab\"")
	}
	b := &bpe{
		unk:          -1,
		fuseUnk:      m.FuseUnk,
		byteFallback: m.ByteFallback,
		ignoreMerges: m.IgnoreMerges,
	}
	if m.ContinuingSubwordPrefix != nil {
		b.prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		b.suffix = *m.EndOfWordSuffix
	}
	if b.prefix != "" || b.suffix != "" {
		byteMode = false
	}
	b.byteMode = byteMode
	orig := map[string]int32(m.Vocab.m)
	if byteMode {
		b.vocab = make(map[string]int32, len(orig))
		buf := make([]byte, 0, 64)
		for tok, id := range orig {
			raw, ok := byteLevelDecodeToken(tok, buf[:0])
			if !ok {
				continue
			}
			buf = raw
			if old, dup := b.vocab[string(raw)]; dup && old < id {
				continue
			}
			b.vocab[string(raw)] = id
		}
	} else {
		b.vocab = orig
	}
	for i := range b.byteIDs {
		b.byteIDs[i] = -1
		b.fallbackIDs[i] = -1
	}
	if byteMode {
		for i := 0; i < 256; i++ {
			if id, ok := b.vocab[string([]byte{byte(i)})]; ok {
				b.byteIDs[i] = id
			}
		}
	}
	b.hasFallback = true
	for i := 0; i < 256; i++ {
		if id, ok := orig[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.fallbackIDs[i] = id
		} else {
			b.hasFallback = false
		}
	}
	if !byteMode && b.prefix == "" && b.suffix == "" && !b.ignoreMerges {
		if _, ok := orig[spaceMark]; ok {
			b.spSplit = true
			b.noSplitAt = map[rune]bool{}
			for tok := range orig {
				for i := strings.Index(tok, spaceMark); i >= 0; {
					if i > 0 {
						if r, _ := utf8.DecodeLastRuneInString(tok[:i]); r != '▁' {
							b.noSplitAt[r] = true
						}
					}
					j := strings.Index(tok[i+len(spaceMark):], spaceMark)
					if j < 0 {
						break
					}
					i += len(spaceMark) + j
				}
			}
		}
	}
	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := orig[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("load model: unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		b.unk = id
	}
	b.merges = newPairTable(len(m.Merges))
	var cat []byte
	for rank, mg := range m.Merges {
		a, ok1 := orig[mg[0]]
		c, ok2 := orig[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("load model: merge %d (%q %q) uses a token missing from the vocabulary", rank, mg[0], mg[1])
		}
		// HF drops len(prefix) bytes of the second token unconditionally.
		second := mg[1]
		if len(second) < len(b.prefix) {
			return nil, fmt.Errorf("load model: merge %d (%q %q): second token shorter than continuing_subword_prefix", rank, mg[0], mg[1])
		}
		second = second[len(b.prefix):]
		cat = append(append(cat[:0], mg[0]...), second...)
		nid, ok := orig[string(cat)]
		if !ok {
			return nil, fmt.Errorf("load model: merge %d (%q %q) makes %q, which is not in the vocabulary", rank, mg[0], mg[1], mg[0]+second)
		}
		// The first (lowest) rank wins for a repeated pair, as in HF.
		b.merges.insert(pairKey(a, c), uint64(rank)<<32|uint64(uint32(nid)))
	}
	return b, nil
}

// word is a scratch buffer for one BPE word.
type word struct {
	ids   []int32
	ranks []uint32
	nids  []int32
	// heap path
	prev, next []int32
	heap       []heapEntry
	buf        []byte
}

type heapEntry struct {
	key uint64 // rank<<32 | pos
	nid int32
}

// encodeWord appends the ids of one pre-token w to out.
func (b *bpe) encodeWord(w string, ws *word, out []int32) []int32 {
	if len(w) == 0 {
		return out
	}
	if b.ignoreMerges {
		if id, ok := b.vocab[w]; ok {
			return append(out, id)
		}
	}
	ids := ws.ids[:0]
	if b.byteMode {
		for i := 0; i < len(w); i++ {
			id := b.byteIDs[w[i]]
			if id < 0 {
				// A byte-level vocabulary without this byte: fall back on the
				// byte's character as the slow path does.
				var tmp [4]byte
				n := utf8.EncodeRune(tmp[:], bytesChar[w[i]])
				ids = b.unknown(tmp[:n], ids, &ws.ids)
				continue
			}
			ids = append(ids, id)
		}
	} else {
		ids = b.initChars(w, ids, ws)
	}
	ws.ids = ids
	if len(ids) > 1 {
		if len(ids) <= 64 {
			ids = b.mergeSmall(ids, ws)
		} else {
			ids = b.mergeHeap(ids, ws)
		}
	}
	return append(out, ids...)
}

// pendingUnk marks a fused unk in ids: unk ids are appended once per run.
func (b *bpe) initChars(w string, ids []int32, ws *word) []int32 {
	lastUnk := false
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		end := i + n
		var id int32
		var ok bool
		key := w[i:end]
		if b.prefix != "" || b.suffix != "" {
			ws.buf = ws.buf[:0]
			if b.prefix != "" && i > 0 {
				ws.buf = append(ws.buf, b.prefix...)
			}
			ws.buf = append(ws.buf, key...)
			if b.suffix != "" && end == len(w) {
				ws.buf = append(ws.buf, b.suffix...)
			}
			id, ok = b.vocab[string(ws.buf)]
			if !ok {
				key = string(ws.buf)
			}
		} else {
			id, ok = b.vocab[key]
		}
		i = end
		if ok {
			ids = append(ids, id)
			lastUnk = false
			continue
		}
		if b.byteFallback {
			all := true
			for j := 0; j < len(key); j++ {
				if b.fallbackIDs[key[j]] < 0 {
					all = false
					break
				}
			}
			if all {
				for j := 0; j < len(key); j++ {
					ids = append(ids, b.fallbackIDs[key[j]])
				}
				lastUnk = false
				continue
			}
		}
		if b.unk >= 0 {
			if b.fuseUnk && lastUnk {
				continue
			}
			ids = append(ids, b.unk)
			lastUnk = true
		}
	}
	return ids
}

// unknown handles a symbol that is not in the vocabulary (byte mode only).
func (b *bpe) unknown(key []byte, ids []int32, _ *[]int32) []int32 {
	if b.byteFallback {
		all := true
		for _, c := range key {
			if b.fallbackIDs[c] < 0 {
				all = false
			}
		}
		if all {
			for _, c := range key {
				ids = append(ids, b.fallbackIDs[c])
			}
			return ids
		}
	}
	if b.unk >= 0 {
		if b.fuseUnk && len(ids) > 0 && ids[len(ids)-1] == b.unk {
			return ids
		}
		ids = append(ids, b.unk)
	}
	return ids
}

func (b *bpe) pairRank(a, c int32) (uint32, int32) {
	if v, ok := b.merges.get(pairKey(a, c)); ok {
		return uint32(v >> 32), int32(uint32(v))
	}
	return noRank, -1
}

// mergeSmall applies merges by repeated scans: the lowest rank first, the
// leftmost among equal ranks, which is the order of HF's Word::merge_all.
func (b *bpe) mergeSmall(ids []int32, ws *word) []int32 {
	n := len(ids)
	ranks := ws.ranks[:0]
	nids := ws.nids[:0]
	for i := 0; i+1 < n; i++ {
		r, nid := b.pairRank(ids[i], ids[i+1])
		ranks = append(ranks, r)
		nids = append(nids, nid)
	}
	for n > 1 {
		best := noRank
		bi := -1
		for i := 0; i < n-1; i++ {
			if ranks[i] < best {
				best = ranks[i]
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		ids[bi] = nids[bi]
		copy(ids[bi+1:n-1], ids[bi+2:n])
		copy(ranks[bi:n-2], ranks[bi+1:n-1])
		copy(nids[bi:n-2], nids[bi+1:n-1])
		n--
		if bi > 0 {
			ranks[bi-1], nids[bi-1] = b.pairRank(ids[bi-1], ids[bi])
		}
		if bi < n-1 {
			ranks[bi], nids[bi] = b.pairRank(ids[bi], ids[bi+1])
		}
	}
	ws.ranks, ws.nids = ranks, nids
	return ids[:n]
}

// mergeHeap is HF's priority-queue merge for long words.
func (b *bpe) mergeHeap(ids []int32, ws *word) []int32 {
	n := len(ids)
	prev := growInt32(ws.prev, n)
	next := growInt32(ws.next, n)
	for i := 0; i < n; i++ {
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
	}
	next[n-1] = -1
	h := ws.heap[:0]
	for i := 0; i+1 < n; i++ {
		if r, nid := b.pairRank(ids[i], ids[i+1]); r != noRank {
			h = append(h, heapEntry{key: uint64(r)<<32 | uint64(i), nid: nid})
		}
	}
	sort.Slice(h, func(i, j int) bool { return h[i].key < h[j].key }) // a sorted slice is a heap
	alive := func(p int32) bool { return ids[p] >= 0 }
	for len(h) > 0 {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		heapDown(h, 0)
		pos := int32(uint32(top.key))
		if !alive(pos) {
			continue
		}
		right := next[pos]
		if right < 0 {
			continue
		}
		if _, nid := b.pairRank(ids[pos], ids[right]); nid != top.nid || nid < 0 {
			continue
		}
		ids[pos] = top.nid
		ids[right] = -1
		nr := next[right]
		next[pos] = nr
		if nr >= 0 {
			prev[nr] = pos
		}
		if p := prev[pos]; p >= 0 {
			if r, nid := b.pairRank(ids[p], ids[pos]); r != noRank {
				h = heapPush(h, heapEntry{key: uint64(r)<<32 | uint64(p), nid: nid})
			}
		}
		if nr >= 0 {
			if r, nid := b.pairRank(ids[pos], ids[nr]); r != noRank {
				h = heapPush(h, heapEntry{key: uint64(r)<<32 | uint64(pos), nid: nid})
			}
		}
	}
	ws.heap, ws.prev, ws.next = h, prev, next
	out := ids[:0]
	for i := 0; i < n; i++ {
		if ids[i] >= 0 {
			out = append(out, ids[i])
		}
	}
	return out
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n, n*2)
	}
	return s[:n]
}

func heapPush(h []heapEntry, e heapEntry) []heapEntry {
	h = append(h, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= h[i].key {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func heapDown(h []heapEntry, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			m = r
		}
		if h[i].key <= h[m].key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// pairTable is an open-addressing hash table from a token pair to its merge
// (rank<<32 | new id), faster than a Go map on the hot path.
type pairTable struct {
	keys  []uint64 // pairKey+1; 0 = empty
	vals  []uint64
	mask  uint64
	shift uint
}

func newPairTable(n int) *pairTable {
	size := 16
	bits := uint(4)
	for size < 2*n+16 {
		size <<= 1
		bits++
	}
	return &pairTable{keys: make([]uint64, size), vals: make([]uint64, size), mask: uint64(size - 1), shift: 64 - bits}
}

func (p *pairTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> p.shift }

// insert adds k unless it is present.
func (p *pairTable) insert(k, v uint64) {
	k++
	for i := p.slot(k); ; i = (i + 1) & p.mask {
		switch p.keys[i] {
		case 0:
			p.keys[i], p.vals[i] = k, v
			return
		case k:
			return
		}
	}
}

func (p *pairTable) get(k uint64) (uint64, bool) {
	k++
	for i := p.slot(k); ; i = (i + 1) & p.mask {
		switch p.keys[i] {
		case k:
			return p.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// splitPoint returns the end of the first part of w that merges cannot cross
// (see spSplit), or len(w).
func (b *bpe) splitPoint(w string) int {
	for off := 1; off < len(w); {
		i := strings.Index(w[off:], spaceMark)
		if i < 0 {
			return len(w)
		}
		i += off
		r, n := utf8.DecodeLastRuneInString(w[:i])
		if r != '▁' && !b.noSplitAt[r] {
			if _, known := b.vocab[w[i-n:i]]; known {
				return i
			}
		}
		off = i + len(spaceMark)
	}
	return len(w)
}
