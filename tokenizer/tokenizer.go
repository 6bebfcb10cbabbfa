package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Tokenizer is a loaded tokenizer.json pipeline. It is safe for concurrent use.
type Tokenizer struct {
	model    *bpe     // BPE model, nil for Unigram
	uni      *unigram // Unigram model, nil for BPE
	added    []addedToken
	rawTrie  *trie // added tokens matched on the raw text
	normTrie *trie // added tokens matched on normalized text (normalized: true)
	norm     normalizer
	pre      []preTok
	post     *postProcessor
	dec      decoder

	idToTok  []string // by id; "" where no token has that id
	hasTok   []bool
	special  []bool
	decBytes [][]byte // ByteLevel-only decoder: bytes of each id
	decFast  bool

	vocabSize int
	maxID     int
	roles     Roles
	cleanUp   bool

	pool sync.Pool
}

// Roles holds the ids of the special tokens with a role, -1 when absent.
type Roles struct {
	BOS, EOS, PAD, UNK int
	// AddBOS and AddEOS are tokenizer_config.json's add_bos_token and
	// add_eos_token (transformers' slow-tokenizer flags), false when unset.
	AddBOS, AddEOS bool
}

// workspace holds per-goroutine scratch buffers and the pre-token cache.
type workspace struct {
	w      word
	u      uniScratch
	err    error // first model error of the current text
	segs   []segment
	segs2  []segment
	p1, p2 []piece
	spans  [][2]int
	parts  []span
	parts2 []span
	ids    []int32
	cache  map[string]uint64
	arena  []int32
}

// The per-workspace cache of pre-token ids: keys up to cacheMaxKey bytes,
// emptied when it holds cacheMaxEntries words or cacheMaxArena ids (a few MB).
const (
	cacheMaxKey     = 64
	cacheMaxEntries = 1 << 17
	cacheMaxArena   = 1 << 20
)

// Load reads a tokenizer from a model folder (tokenizer.json and, when
// present, tokenizer_config.json) or from a tokenizer.json file (with a
// tokenizer_config.json beside it, when present).
func Load(dirOrFile string) (*Tokenizer, error) {
	st, err := os.Stat(dirOrFile)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", dirOrFile, err)
	}
	file := dirOrFile
	if st.IsDir() {
		file = filepath.Join(dirOrFile, "tokenizer.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", file, err)
	}
	cfg, err := os.ReadFile(filepath.Join(filepath.Dir(file), "tokenizer_config.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load tokenizer config beside %q: %w", file, err)
	}
	t, err := FromBytes(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", file, err)
	}
	return t, nil
}

// FromBytes builds a tokenizer from the contents of tokenizer.json and of
// tokenizer_config.json (config may be nil).
func FromBytes(tokenizerJSON, configJSON []byte) (t *Tokenizer, err error) {
	// A last guard: the fuzz target (FuzzLoad) calls fromBytes without it.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("parse tokenizer.json: internal error: %v", r)
		}
	}()
	return fromBytes(tokenizerJSON, configJSON)
}

func fromBytes(tokenizerJSON, configJSON []byte) (t *Tokenizer, err error) {
	var f fileJSON
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	if f.Model == nil {
		return nil, errors.New("parse tokenizer.json: missing \"model\"")
	}
	m := *f.Model
	t = &Tokenizer{}
	if t.norm, err = parseNormalizer(f.Normalizer, 0); err != nil {
		return nil, err
	}
	flat, err := parsePreTokenizer(f.PreTokenizer, 0)
	if err != nil {
		return nil, err
	}
	byteMode := false
	if n := len(flat); n > 0 {
		if typ, _ := componentType(flat[n-1]); typ == "ByteLevel" {
			byteMode = true
		}
	}
	isUnigram := m.Type == "Unigram" || (m.Type == "" && m.Vocab.list != nil)
	if isUnigram {
		// Unigram pieces are strings: ByteLevel maps bytes to its alphabet.
		byteMode = false
		if t.uni, err = newUnigram(&m); err != nil {
			return nil, err
		}
	} else if t.model, err = newBPE(&m, byteMode); err != nil {
		return nil, err
	} else {
		byteMode = t.model.byteMode
	}
	for _, raw := range flat {
		p, err := buildPreTok(raw, byteMode)
		if err != nil {
			return nil, err
		}
		if bl, ok := p.(byteLevelPre); ok && !bl.addPrefixSpace && !bl.useRegex && !bl.mapChars {
			continue // keeps raw bytes as they are: nothing to do
		}
		t.pre = append(t.pre, p)
	}
	if t.dec, err = parseDecoder(f.Decoder, 0); err != nil {
		return nil, err
	}

	// Id table: model vocabulary, then added tokens (which win on decode).
	maxID := -1
	for _, id := range m.Vocab.m {
		maxID = max(maxID, int(id))
	}
	if t.uni != nil {
		maxID = len(t.uni.pieces) - 1
	}
	if maxID > 1<<22 {
		return nil, fmt.Errorf("parse model: token id %d is too large", maxID)
	}
	for _, a := range f.AddedTokens {
		if a.ID == nil || *a.ID < 0 || *a.ID > 1<<22 {
			return nil, fmt.Errorf("parse added token %q: missing or bad id", a.Content)
		}
		maxID = max(maxID, *a.ID)
	}
	t.maxID = maxID
	t.idToTok = make([]string, maxID+1)
	t.hasTok = make([]bool, maxID+1)
	t.special = make([]bool, maxID+1)
	for tok, id := range m.Vocab.m {
		t.idToTok[id] = tok
		t.hasTok[id] = true
	}
	if t.uni != nil {
		for id, tok := range t.uni.pieces {
			t.idToTok[id] = tok
			t.hasTok[id] = true
		}
	}
	t.rawTrie, t.normTrie = newTrie(), newTrie()
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("parse added token %d: empty content", *a.ID)
		}
		at := addedToken{content: a.Content, id: int32(*a.ID), special: a.Special, lstrip: a.LStrip,
			rstrip: a.RStrip, singleWord: a.SingleWord, normalized: !a.Special}
		if a.Normalized != nil {
			at.normalized = *a.Normalized
		}
		idx := int32(len(t.added))
		t.added = append(t.added, at)
		t.idToTok[at.id] = at.content
		t.hasTok[at.id] = true
		t.special[at.id] = at.special
		if at.normalized {
			// HF matches these in a second pass, on normalized text, by their
			// normalized form, which is also what decoding gives back.
			c := at.content
			if t.norm != nil {
				c = t.norm.normalize(c)
				t.idToTok[at.id] = c
			}
			if c != "" {
				t.normTrie.insert(c, idx)
			}
		} else {
			t.rawTrie.insert(at.content, idx)
		}
	}
	if len(t.normTrie.nodes) == 1 {
		t.normTrie = nil
	}
	if len(t.rawTrie.nodes) == 1 {
		t.rawTrie = nil
	}
	for id, ok := range t.hasTok {
		if ok {
			t.vocabSize++
		}
		_ = id
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, t.tokenID, 0); err != nil {
		return nil, err
	}
	if _, ok := t.dec.(byteLevelDec); ok {
		t.decFast = true
		t.decBytes = make([][]byte, len(t.idToTok))
		for id, tok := range t.idToTok {
			if !t.hasTok[id] {
				continue
			}
			if b, ok := byteLevelDecodeToken(tok, nil); ok {
				t.decBytes[id] = b
			} else {
				t.decBytes[id] = []byte(tok)
			}
		}
	}
	if err := t.loadConfig(configJSON); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tokenizer) loadConfig(data []byte) error {
	t.roles = Roles{BOS: -1, EOS: -1, PAD: -1, UNK: -1}
	if t.model != nil {
		t.roles.UNK = int(t.model.unk)
	} else {
		t.roles.UNK = int(t.uni.unk)
	}
	var c configJSON
	if len(data) > 0 {
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("parse tokenizer_config.json: %w", err)
		}
	}
	set := func(dst *int, raw json.RawMessage) {
		if s, ok := tokenString(raw); ok {
			if id, ok := t.tokenID(s); ok {
				*dst = int(id)
			}
		}
	}
	set(&t.roles.BOS, c.BosToken)
	set(&t.roles.EOS, c.EosToken)
	set(&t.roles.PAD, c.PadToken)
	set(&t.roles.UNK, c.UnkToken)
	if t.post != nil {
		if t.roles.BOS < 0 && len(t.post.before) == 1 {
			t.roles.BOS = int(t.post.before[0])
		}
		if t.roles.EOS < 0 && len(t.post.after) == 1 {
			t.roles.EOS = int(t.post.after[0])
		}
	}
	if c.AddBosToken != nil {
		t.roles.AddBOS = *c.AddBosToken
	}
	if c.AddEosToken != nil {
		t.roles.AddEOS = *c.AddEosToken
	}
	t.cleanUp = cleanUpDefault(c.TokenizerClass)
	if c.CleanUpTokenizationSpaces != nil {
		t.cleanUp = *c.CleanUpTokenizationSpaces
	}
	return nil
}

// tokenID resolves a token string: added tokens first, then the vocabulary.
func (t *Tokenizer) tokenID(s string) (int32, bool) {
	for _, a := range t.added {
		if a.content == s {
			return a.id, true
		}
	}
	if t.uni != nil {
		id, ok := t.uni.ids[s]
		return id, ok
	}
	for id, tok := range t.idToTok {
		if t.hasTok[id] && tok == s {
			return int32(id), true
		}
	}
	return -1, false
}

// TokenID returns the id of a token string (added tokens first), or false.
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	id, ok := t.tokenID(tok)
	return int(id), ok
}

// Token returns the string of an id, or false when no token has it.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.idToTok) || !t.hasTok[id] {
		return "", false
	}
	return t.idToTok[id], true
}

// VocabSize is the number of distinct tokens (vocabulary plus added tokens
// with ids outside it).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// MaxID is the largest token id; an embedding needs MaxID()+1 rows.
func (t *Tokenizer) MaxID() int { return t.maxID }

// Roles returns the special-token roles.
func (t *Tokenizer) Roles() Roles { return t.roles }

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// CleanUpSpaces reports clean_up_tokenization_spaces: tokenizer_config.json's
// value, or transformers 4.44's default for the tokenizer class.
func (t *Tokenizer) CleanUpSpaces() bool { return t.cleanUp }

func (t *Tokenizer) getWS() *workspace {
	if ws, ok := t.pool.Get().(*workspace); ok {
		return ws
	}
	return &workspace{cache: make(map[string]uint64, 4096)}
}

// Encode tokenizes text. addSpecial applies the post-processor (BOS/EOS
// templates), like HF's add_special_tokens. Added tokens found in the text
// (special or not) always become their ids, as in HF. It fails only where
// the library does: a Unigram model without unk_id meets a character that
// no piece covers.
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int, error) {
	ws := t.getWS()
	ws.err = nil
	ids := t.encode(ws, text, ws.ids[:0])
	if err := ws.err; err != nil {
		ws.err = nil
		ws.ids = ids[:0]
		t.pool.Put(ws)
		return nil, fmt.Errorf("encode text: %w", err)
	}
	if addSpecial {
		ids = t.post.apply(ids)
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	ws.ids = ids[:0]
	t.pool.Put(ws)
	return out, nil
}

// EncodeBatch encodes texts in parallel on all cores. Like the library, it
// fails as a whole when one text fails.
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) ([][]int, error) {
	out := make([][]int, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			ids, err := t.Encode(s, addSpecial)
			if err != nil {
				return nil, err
			}
			out[i] = ids
		}
		return out, nil
	}
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(texts))
	const chunk = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				a := int(next)
				next += chunk
				mu.Unlock()
				if a >= len(texts) {
					return
				}
				for i := a; i < min(a+chunk, len(texts)); i++ {
					out[i], errs[i] = t.Encode(texts[i], addSpecial)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *Tokenizer) encode(ws *workspace, text string, out []int32) []int32 {
	segs := t.rawTrie.split(text, t.added, true, ws.segs[:0])
	ws.segs = segs
	for _, sg := range segs {
		if sg.tok >= 0 {
			out = append(out, t.added[sg.tok].id)
			continue
		}
		s := sg.s
		if t.norm != nil {
			s = t.norm.normalize(s)
		}
		if t.normTrie == nil {
			out = t.encodeText(ws, s, sg.start, out)
			continue
		}
		sub := t.normTrie.split(s, t.added, sg.start, ws.segs2[:0])
		ws.segs2 = sub
		for _, x := range sub {
			if x.tok >= 0 {
				out = append(out, t.added[x.tok].id)
			} else {
				out = t.encodeText(ws, x.s, x.start, out)
			}
		}
	}
	return out
}

func (t *Tokenizer) encodeText(ws *workspace, s string, start bool, out []int32) []int32 {
	if s == "" {
		return out
	}
	pieces := append(ws.p1[:0], piece{s: s, start: start})
	other := ws.p2[:0]
	for _, p := range t.pre {
		other = p.apply(pieces, other[:0], ws)
		pieces, other = other, pieces
	}
	for _, p := range pieces {
		out = t.encodeWord(ws, p.s, out)
	}
	ws.p1, ws.p2 = pieces[:0], other[:0]
	return out
}

func (t *Tokenizer) encodeWord(ws *workspace, w string, out []int32) []int32 {
	if t.model != nil && t.model.spSplit && len(w) > 16 {
		for w != "" {
			k := t.model.splitPoint(w)
			out = t.encodeCached(ws, w[:k], out)
			w = w[k:]
		}
		return out
	}
	return t.encodeCached(ws, w, out)
}

func (t *Tokenizer) encodeCached(ws *workspace, w string, out []int32) []int32 {
	if len(w) > cacheMaxKey {
		return t.modelEncode(ws, w, out)
	}
	if v, ok := ws.cache[w]; ok {
		return append(out, ws.arena[v>>32:v>>32+v&0xffffffff]...)
	}
	n := len(out)
	out = t.modelEncode(ws, w, out)
	if ws.err != nil {
		return out // not cached
	}
	if len(ws.arena) > cacheMaxArena || len(ws.cache) >= cacheMaxEntries {
		clear(ws.cache)
		ws.arena = ws.arena[:0]
	}
	off := len(ws.arena)
	ws.arena = append(ws.arena, out[n:]...)
	ws.cache[strings.Clone(w)] = uint64(off)<<32 | uint64(len(out)-n)
	return out
}

// modelEncode runs the model on one pre-token. A Unigram error (an unknown
// character and no unk_id) is kept in ws.err, as the Rust library fails the
// whole text.
func (t *Tokenizer) modelEncode(ws *workspace, w string, out []int32) []int32 {
	if t.uni == nil {
		return t.model.encodeWord(w, &ws.w, out)
	}
	if ws.err != nil {
		return out
	}
	out, err := t.uni.encodeWord(w, &ws.u, out)
	if err != nil {
		ws.err = err
	}
	return out
}

// Decode turns ids back into text as transformers does: the decoder chain
// of tokenizer.json, then clean_up_tokenization_spaces when
// tokenizer_config.json sets it. skipSpecial drops special added tokens.
// Ids that are not tokens are skipped, as in HF.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	s := t.DecodeRaw(ids, skipSpecial)
	if t.cleanUp {
		s = cleanUpTokenization(s)
	}
	return s, nil
}

// DecodeRaw decodes like the HF tokenizers library (no clean-up step).
func (t *Tokenizer) DecodeRaw(ids []int, skipSpecial bool) string {
	if t.decFast {
		var raw []byte
		for _, id := range ids {
			if id < 0 || id >= len(t.idToTok) || !t.hasTok[id] || (skipSpecial && t.special[id]) {
				continue
			}
			raw = append(raw, t.decBytes[id]...)
		}
		return string(appendLossy(make([]byte, 0, len(raw)), raw))
	}
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(t.idToTok) || !t.hasTok[id] || (skipSpecial && t.special[id]) {
			continue
		}
		toks = append(toks, t.idToTok[id])
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.chain(toks), "")
}

// noCleanUpClasses are the tokenizer classes whose constructor in
// transformers 4.44 (the reference validator's version) defaults
// clean_up_tokenization_spaces to false.
var noCleanUpClasses = map[string]bool{
	"LlamaTokenizer": true, "LlamaTokenizerFast": true,
	"CodeLlamaTokenizer": true, "CodeLlamaTokenizerFast": true,
	"GemmaTokenizer": true, "GemmaTokenizerFast": true,
}

// cleanUpDefault is clean_up_tokenization_spaces when tokenizer_config.json
// does not set it: transformers 4.44 defaults it to true (with a warning that
// 4.45 will change that), except in the classes that default it to false.
func cleanUpDefault(class string) bool { return !noCleanUpClasses[class] }
