package train

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// IgnoreLabel marks a position whose label is not scored.
const IgnoreLabel = -100

// ErrNoData means the corpus yields no training rows.
var ErrNoData = errors.New("no training data")

// Batch is Rows sequences of SeqLen tokens, row-major. Labels[i] is the token
// that position i must predict (the next token of its row), or IgnoreLabel.
type Batch struct {
	Rows, SeqLen int
	IDs          []int32
	Labels       []int32
}

// Tokens is the number of scored positions.
func (b Batch) Tokens() int {
	n := 0
	for _, l := range b.Labels {
		if l != IgnoreLabel {
			n++
		}
	}
	return n
}

// Corpus is a list of tokenized documents.
type Corpus interface {
	// Len is the number of documents.
	Len() int
	// Doc returns the tokens of document i (EOS included when wanted). The
	// caller does not modify the slice.
	Doc(ctx context.Context, i int) ([]int32, error)
}

// TextCorpus tokenizes texts on first use and caches the result. It is safe
// for concurrent use.
type TextCorpus struct {
	Texts  []string
	Encode func(text string) ([]int32, error)
	// EOS is appended to every document when it is >= 0.
	EOS int32

	mu    sync.Mutex
	cache map[int][]int32
}

// Len implements Corpus.
func (c *TextCorpus) Len() int { return len(c.Texts) }

// Doc implements Corpus.
func (c *TextCorpus) Doc(_ context.Context, i int) ([]int32, error) {
	c.mu.Lock()
	if ids, ok := c.cache[i]; ok {
		c.mu.Unlock()
		return ids, nil
	}
	c.mu.Unlock()
	ids, err := c.Encode(c.Texts[i])
	if err != nil {
		return nil, fmt.Errorf("tokenize document %d: %w", i, err)
	}
	if c.EOS >= 0 {
		ids = append(ids[:len(ids):len(ids)], c.EOS)
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[int][]int32{}
	}
	c.cache[i] = ids
	c.mu.Unlock()
	return ids, nil
}

// DataConfig shapes the rows the loop trains on.
type DataConfig struct {
	// SeqLen is the row length in tokens (at least 2).
	SeqLen int
	// Pack joins documents (each ending in EOS) into one stream cut into
	// SeqLen windows; otherwise every document is one row, truncated to
	// SeqLen and padded to the longest row of its batch.
	Pack bool
	// Seed draws the held-out split and the order of every epoch.
	Seed uint64
	// EvalDocs documents are held out for evaluation (never trained on).
	EvalDocs int
	// EvalRows caps the held-out rows (0: all).
	EvalRows int
	// PadID fills padding positions (their labels are ignored).
	PadID int32
}

// DataState is the position of the data stream: it restores the exact
// sequence of rows on resume.
type DataState struct {
	Epoch  uint64  `json:"epoch"`
	Cursor int     `json:"cursor"`          // next document of the epoch order
	Carry  []int32 `json:"carry,omitempty"` // packed tokens not yet in a row
}

// Data produces training and held-out rows from a corpus.
type Data struct {
	corpus Corpus
	cfg    DataConfig
	train  []int
	eval   []int
	mu     sync.Mutex
	orders map[uint64][]int
}

// NewData splits the corpus into held-out and training documents with a
// permutation drawn from cfg.Seed.
func NewData(corpus Corpus, cfg DataConfig) (*Data, error) {
	if cfg.SeqLen < 2 {
		return nil, fmt.Errorf("new data: sequence length %d, want at least 2", cfg.SeqLen)
	}
	n := corpus.Len()
	if cfg.EvalDocs < 0 || cfg.EvalDocs >= n {
		return nil, fmt.Errorf("new data: %d held-out documents of %d: %w", cfg.EvalDocs, n, ErrNoData)
	}
	perm := permutation(n, cfg.Seed, 0)
	return &Data{corpus: corpus, cfg: cfg, eval: perm[:cfg.EvalDocs], train: perm[cfg.EvalDocs:], orders: map[uint64][]int{}}, nil
}

// Config returns the data configuration.
func (d *Data) Config() DataConfig { return d.cfg }

// TrainDocs is the number of training documents.
func (d *Data) TrainDocs() int { return len(d.train) }

func permutation(n int, seed, stream uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := rand.New(rand.NewPCG(seed, stream))
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// order returns the training documents in the order of epoch e.
func (d *Data) order(e uint64) []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o, ok := d.orders[e]; ok {
		return o
	}
	p := permutation(len(d.train), d.cfg.Seed, e+1)
	o := make([]int, len(p))
	for i, j := range p {
		o[i] = d.train[j]
	}
	if len(d.orders) > 4 {
		clear(d.orders)
	}
	d.orders[e] = o
	return o
}

// Next returns a batch of rows starting at st and the state after it. st is
// not modified.
func (d *Data) Next(ctx context.Context, st DataState, rows int) (Batch, DataState, error) {
	if rows < 1 {
		return Batch{}, st, fmt.Errorf("next batch: %d rows", rows)
	}
	cur := DataState{Epoch: st.Epoch, Cursor: st.Cursor, Carry: append([]int32(nil), st.Carry...)}
	T := d.cfg.SeqLen
	var seqs [][]int32
	idle := 0 // documents in a row that gave nothing
	for len(seqs) < rows {
		if err := ctx.Err(); err != nil {
			return Batch{}, st, err
		}
		if d.cfg.Pack && len(cur.Carry) >= T {
			seqs = append(seqs, append([]int32(nil), cur.Carry[:T]...))
			cur.Carry = append([]int32(nil), cur.Carry[T:]...)
			continue
		}
		o := d.order(cur.Epoch)
		if len(o) == 0 {
			return Batch{}, st, fmt.Errorf("next batch: %w", ErrNoData)
		}
		if cur.Cursor >= len(o) {
			cur.Epoch++
			cur.Cursor = 0
			continue
		}
		doc, err := d.corpus.Doc(ctx, o[cur.Cursor])
		if err != nil {
			return Batch{}, st, err
		}
		cur.Cursor++
		switch {
		case d.cfg.Pack && len(doc) > 0:
			cur.Carry = append(cur.Carry, doc...)
			idle = 0
		case !d.cfg.Pack && len(doc) >= 2:
			seqs = append(seqs, doc[:min(len(doc), T)])
			idle = 0
		default:
			idle++
			if idle > len(o) {
				return Batch{}, st, fmt.Errorf("next batch: a whole epoch of documents gives no row: %w", ErrNoData)
			}
		}
	}
	return layout(seqs, d.cfg.PadID), cur, nil
}

// layout lays rows out, padding to the longest with pad.
func layout(seqs [][]int32, pad int32) Batch {
	T := 0
	for _, s := range seqs {
		T = max(T, len(s))
	}
	b := Batch{Rows: len(seqs), SeqLen: T, IDs: make([]int32, len(seqs)*T), Labels: make([]int32, len(seqs)*T)}
	for r, s := range seqs {
		row := b.IDs[r*T : (r+1)*T]
		lab := b.Labels[r*T : (r+1)*T]
		for t := range row {
			if t < len(s) {
				row[t] = s[t]
			} else {
				row[t] = pad
			}
			if t+1 < len(s) {
				lab[t] = s[t+1]
			} else {
				lab[t] = IgnoreLabel
			}
		}
	}
	return b
}

// EvalBatches returns the held-out rows (packed SeqLen windows of the
// held-out documents, the last partial window included) in batches of at
// most batchRows rows.
func (d *Data) EvalBatches(ctx context.Context, batchRows int) ([]Batch, error) {
	docs := make([][]int32, 0, len(d.eval))
	for _, i := range d.eval {
		doc, err := d.corpus.Doc(ctx, i)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	return evalBatches(docs, d.cfg, batchRows), nil
}

// evalBatches packs the held-out documents into SeqLen windows (the last
// partial one included), at most cfg.EvalRows of them, in batches of at most
// batchRows rows.
func evalBatches(docs [][]int32, cfg DataConfig, batchRows int) []Batch {
	if batchRows < 1 {
		batchRows = 1
	}
	T := cfg.SeqLen
	var stream []int32
	for _, doc := range docs {
		stream = append(stream, doc...)
	}
	var seqs [][]int32
	for off := 0; off+1 < len(stream); off += T {
		seqs = append(seqs, stream[off:min(off+T, len(stream))])
		if cfg.EvalRows > 0 && len(seqs) == cfg.EvalRows {
			break
		}
	}
	var out []Batch
	for i := 0; i < len(seqs); i += batchRows {
		out = append(out, layout(seqs[i:min(i+batchRows, len(seqs))], cfg.PadID))
	}
	return out
}
