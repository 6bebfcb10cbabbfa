package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/coldint/coldint/data"
)

// StreamState is where a streamed run stands: the documents handed out to
// every rank (a merged [data.Checkpoint]) and the documents of which only
// the first tokens were trained on.
type StreamState struct {
	// Dataset, Files and Column name what was streamed; a resumed run must
	// stream the same.
	Dataset string `json:"dataset"`
	Files   string `json:"files,omitempty"`
	Column  string `json:"column"`
	// Checkpoint is the position of the whole group: every document it
	// counts as handed out was trained on, except for the Partial ones.
	Checkpoint data.Checkpoint `json:"checkpoint"`
	// Partial lists documents cut by the end of a step: their first Tokens
	// tokens (the end-of-sequence token counted) were trained on, and the
	// checkpoint counts them as not handed out, so that a resumed run reads
	// them again and skips those tokens.
	Partial []PartialDoc `json:"partial,omitempty"`
}

// PartialDoc is a document of which the first Tokens tokens were used.
type PartialDoc struct {
	data.Position
	Tokens int `json:"tokens"`
}

// String formats the position as shard:path/row-group:row+tokens.
func (p PartialDoc) String() string { return fmt.Sprintf("%s+%d", p.Position, p.Tokens) }

// DocStream is one rank's stream of documents ([data.Stream]).
type DocStream interface {
	Next(ctx context.Context) (data.Doc, error)
	Checkpoint() data.Checkpoint
	CheckpointBefore(p data.Position) data.Checkpoint
	Close() error
}

// StreamConfig describes a streamed dataset.
type StreamConfig struct {
	// Dataset, Files and Column are recorded in the state (see StreamState).
	Dataset, Files, Column string
	// Open opens a stream of the dataset with the given resume checkpoint
	// (nil: from the start) and rank split.
	Open func(ctx context.Context, resume *data.Checkpoint, split data.RankSplit) (DocStream, error)
	// Split is the unit dealt to the ranks ("": row groups).
	Split data.SplitUnit
	// Encode tokenizes a document; EOS (when >= 0) is appended to each.
	Encode func(text string) ([]int32, error)
	EOS    int32
}

// StreamData produces a rank's rows from a streamed dataset: the first
// EvalDocs documents of the dataset are held out, and the rest is read in
// order, each rank reading its own part (data.RankSplit) and packing it
// into rows. It is not safe for concurrent use.
type StreamData struct {
	cfg  DataConfig
	sc   StreamConfig
	eval [][]int32

	s          DocStream
	rank       int
	world      int
	board      Board
	start      StreamState // the state the run started from
	startStep  int
	skip       map[data.Position]int
	carry      []int32
	carryDoc   data.Position
	carryLen   int // tokens of carryDoc in all
	records    map[int]streamRecord
	docs       int64
	lastRecord streamRecord
}

// streamRecord is one rank's position after a step.
type streamRecord struct {
	Checkpoint data.Checkpoint `json:"checkpoint"`
	Partial    *PartialDoc     `json:"partial,omitempty"`
}

// Board is the part of a data-parallel [Group] through which ranks share
// small records (the rendezvous store); streamed runs need it to gather the
// ranks' data positions into rank 0's checkpoint.
type Board interface {
	Post(ctx context.Context, key string, value []byte) error
	Read(ctx context.Context, key string) ([]byte, error)
	Remove(ctx context.Context, key string) error
}

// NewStreamData returns a streamed source; nothing is read before Run.
func NewStreamData(sc StreamConfig, cfg DataConfig) (*StreamData, error) {
	if cfg.SeqLen < 2 {
		return nil, fmt.Errorf("new stream data: sequence length %d, want at least 2", cfg.SeqLen)
	}
	if sc.Open == nil || sc.Encode == nil {
		return nil, errors.New("new stream data: no stream or tokenizer")
	}
	if cfg.EvalDocs < 0 {
		return nil, fmt.Errorf("new stream data: %d held-out documents", cfg.EvalDocs)
	}
	return &StreamData{cfg: cfg, sc: sc, records: map[int]streamRecord{}}, nil
}

// Config implements Source.
func (d *StreamData) Config() DataConfig { return d.cfg }

// Close closes the stream (deleting downloaded shards).
func (d *StreamData) Close() error {
	if d.s == nil {
		return nil
	}
	err := d.s.Close()
	d.s = nil
	return err
}

// tokens tokenizes a document's text, EOS appended.
func (d *StreamData) tokens(doc data.Doc) ([]int32, error) {
	ids, err := d.sc.Encode(doc.Text)
	if err != nil {
		return nil, fmt.Errorf("tokenize document %s: %w", doc.Pos, err)
	}
	if d.sc.EOS >= 0 {
		ids = append(ids[:len(ids):len(ids)], d.sc.EOS)
	}
	return ids, nil
}

// readEval reads the held-out documents (the first EvalDocs of the whole
// dataset) and returns the checkpoint after them.
func (d *StreamData) readEval(ctx context.Context) (data.Checkpoint, error) {
	s, err := d.sc.Open(ctx, nil, data.RankSplit{})
	if err != nil {
		return data.Checkpoint{}, err
	}
	defer s.Close()
	d.eval = d.eval[:0]
	for len(d.eval) < d.cfg.EvalDocs {
		doc, err := s.Next(ctx)
		if err == io.EOF {
			return data.Checkpoint{}, fmt.Errorf("hold out %d documents of %s: it has only %d: %w", d.cfg.EvalDocs, d.sc.Dataset, len(d.eval), ErrNoData)
		}
		if err != nil {
			return data.Checkpoint{}, err
		}
		ids, err := d.tokens(doc)
		if err != nil {
			return data.Checkpoint{}, err
		}
		d.eval = append(d.eval, ids)
	}
	return s.Checkpoint(), nil
}

func (d *StreamData) begin(ctx context.Context, st *State, cfg Config) error {
	d.rank, d.world = rankOf(cfg.Group)
	if d.world > 1 {
		b, ok := cfg.Group.(Board)
		if !ok {
			return errors.New("stream data: the data-parallel group cannot share data positions")
		}
		d.board = b
	}
	if st.Stream == nil && st.Step > 0 {
		return errors.New("resume: the checkpoint's run trained on local files (--data), not a streamed dataset")
	}
	if ss := st.Stream; ss != nil && (ss.Dataset != d.sc.Dataset || ss.Files != d.sc.Files || ss.Column != d.sc.Column) {
		return fmt.Errorf("resume: the checkpoint streamed %s (files %q, column %q); now %s (files %q, column %q)",
			ss.Dataset, ss.Files, ss.Column, d.sc.Dataset, d.sc.Files, d.sc.Column)
	}
	if st.Stream == nil || d.rank == 0 {
		after, err := d.readEval(ctx)
		if err != nil {
			return err
		}
		if st.Stream == nil {
			st.Stream = &StreamState{Dataset: d.sc.Dataset, Files: d.sc.Files, Column: d.sc.Column, Checkpoint: data.Checkpoint{Commit: after.Commit, ShuffleSeed: after.ShuffleSeed, Start: after.Start}}
		}
	}
	d.start = *st.Stream
	d.startStep = st.Step
	d.skip = map[data.Position]int{}
	for _, p := range st.Stream.Partial {
		d.skip[p.key()] = p.Tokens
	}
	resume := st.Stream.Checkpoint
	s, err := d.sc.Open(ctx, &resume, data.RankSplit{Rank: d.rank, World: d.world, Unit: d.sc.Split})
	if err != nil {
		return err
	}
	d.s = s
	d.lastRecord = streamRecord{Checkpoint: resume}
	return nil
}

// key is the position without its path (positions compare by numbers).
func (p PartialDoc) key() data.Position { q := p.Position; q.Path = ""; return q }

func posKey(p data.Position) data.Position { p.Path = ""; return p }

// EvalBatches implements Source (rank 0, after Run has begun).
func (d *StreamData) EvalBatches(ctx context.Context, batchRows int) ([]Batch, error) {
	return evalBatches(d.eval, d.cfg, batchRows), nil
}

// row returns the next row of this rank.
func (d *StreamData) row(ctx context.Context) ([]int32, error) {
	T := d.cfg.SeqLen
	for {
		if d.cfg.Pack && len(d.carry) >= T {
			r := slices.Clone(d.carry[:T])
			d.carry = d.carry[T:]
			return r, nil
		}
		doc, err := d.s.Next(ctx)
		if err == io.EOF {
			return nil, fmt.Errorf("stream %s: rank %d of %d has read all its documents (%d this run): %w", d.sc.Dataset, d.rank, d.world, d.docs, ErrNoData)
		}
		if err != nil {
			return nil, err
		}
		d.docs++
		ids, err := d.tokens(doc)
		if err != nil {
			return nil, err
		}
		full := len(ids)
		if k, ok := d.skip[posKey(doc.Pos)]; ok {
			ids = ids[min(k, len(ids)):]
			delete(d.skip, posKey(doc.Pos))
		}
		if !d.cfg.Pack {
			if len(ids) >= 2 {
				return ids[:min(len(ids), T)], nil
			}
			continue
		}
		d.carry = append(slices.Clip(d.carry), ids...)
		d.carryDoc, d.carryLen = doc.Pos, full
	}
}

func (d *StreamData) next(ctx context.Context, st *State, cfg Config) ([]Batch, func(*State), error) {
	micro := make([]Batch, cfg.Accum)
	for i := range micro {
		seqs := make([][]int32, cfg.Batch)
		for r := range seqs {
			row, err := d.row(ctx)
			if err != nil {
				return nil, nil, err
			}
			seqs[r] = row
		}
		micro[i] = layout(seqs, d.cfg.PadID)
	}
	rec := streamRecord{Checkpoint: d.s.Checkpoint()}
	if len(d.carry) > 0 {
		rec.Checkpoint = d.s.CheckpointBefore(d.carryDoc)
		rec.Partial = &PartialDoc{Position: d.carryDoc, Tokens: d.carryLen - len(d.carry)}
	}
	step := st.Step + 1
	if d.board != nil {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, nil, err
		}
		if err := d.board.Post(ctx, recordKey(step, d.rank), b); err != nil {
			return nil, nil, fmt.Errorf("share the data position: %w", err)
		}
		if step-2 > d.startStep {
			_ = d.board.Remove(ctx, recordKey(step-2, d.rank))
		}
	}
	if d.rank == 0 {
		d.records[step] = rec
		delete(d.records, step-2)
	}
	return micro, func(*State) { d.lastRecord = rec }, nil
}

func recordKey(step, rank int) string { return fmt.Sprintf("stream/%d/%d", step, rank) }

// settle merges the positions of every rank after step st.Step into
// st.Stream.
func (d *StreamData) settle(ctx context.Context, st *State) error {
	if st.Step == d.startStep {
		return nil
	}
	own, ok := d.records[st.Step]
	if !ok {
		return fmt.Errorf("save the data position: no record of step %d", st.Step)
	}
	recs := []streamRecord{own}
	for r := 1; r < d.world; r++ {
		b, err := d.board.Read(ctx, recordKey(st.Step, r))
		if err != nil {
			return fmt.Errorf("gather the data position of rank %d at step %d: %w", r, st.Step, err)
		}
		var rec streamRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("gather the data position of rank %d at step %d: %w", r, st.Step, err)
		}
		recs = append(recs, rec)
	}
	ss, err := mergeRecords(d.start, recs)
	if err != nil {
		return err
	}
	st.Stream = ss
	return nil
}

// mergeRecords joins the ranks' records into the group's state: the merged
// checkpoint, the ranks' partial documents, and those partial documents of
// the start state that no rank has reached yet.
func mergeRecords(start StreamState, recs []streamRecord) (*StreamState, error) {
	parts := make([]data.Checkpoint, len(recs))
	for i, r := range recs {
		parts[i] = r.Checkpoint
	}
	c, err := data.MergeCheckpoints(parts...)
	if err != nil {
		return nil, fmt.Errorf("save the data position: %w", err)
	}
	out := start
	out.Checkpoint = c
	out.Partial = nil
	have := map[data.Position]bool{}
	for _, r := range recs {
		if r.Partial != nil {
			out.Partial = append(out.Partial, *r.Partial)
			have[r.Partial.key()] = true
		}
	}
	for _, p := range start.Partial {
		if !have[p.key()] && !c.Seen(p.Position) {
			out.Partial = append(out.Partial, p)
		}
	}
	slices.SortFunc(out.Partial, func(a, b PartialDoc) int { return a.Position.Compare(b.Position) })
	return &out, nil
}

func (d *StreamData) where(*State) string {
	r := d.lastRecord
	if r.Partial != nil {
		return r.Partial.String()
	}
	if g := r.Checkpoint.Generations; len(g) > 0 && g[len(g)-1].Next[d.rank] != nil {
		return g[len(g)-1].Next[d.rank].String()
	}
	return r.Checkpoint.Start.String()
}
