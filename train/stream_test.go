package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/coldint/coldint/data"
)

type shardRow struct {
	Text string `parquet:"text"`
}

// streamDocs writes shards of documents "i n" (document i of n tokens)
// with a few rows per row group into a folder and returns it and the
// documents' lengths in stream order.
func streamDocs(t *testing.T) (string, []int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ds")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lens []int
	for s := 0; s < 4; s++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.parquet", s)))
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewGenericWriter[shardRow](f, parquet.MaxRowsPerRowGroup(int64(3+s)), parquet.Compression(&parquet.Snappy))
		for j := 0; j < 25; j++ {
			i := len(lens)
			n := 1 + (i*7)%13
			lens = append(lens, n)
			if _, err := w.Write([]shardRow{{Text: fmt.Sprintf("%d %d", i, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir, lens
}

// docTokens is the tokenizer of the test documents: "i n" is n tokens
// 1000·(i+1)+j, so that every token names its document and place.
func docTokens(text string) ([]int32, error) {
	f := strings.Fields(text)
	if len(f) != 2 {
		return nil, fmt.Errorf("bad document %q", text)
	}
	i, _ := strconv.Atoi(f[0])
	n, _ := strconv.Atoi(f[1])
	out := make([]int32, n)
	for j := range out {
		out[j] = int32(1000*(i+1) + j)
	}
	return out, nil
}

func streamSource(t *testing.T, dir string) *StreamData {
	t.Helper()
	store := &data.LocalShards{Paths: []string{dir}}
	sc := StreamConfig{Dataset: "test", Column: "text", EOS: 0, Encode: docTokens,
		Open: func(ctx context.Context, resume *data.Checkpoint, split data.RankSplit) (DocStream, error) {
			return data.OpenStream(ctx, store, data.StreamOptions{Resume: resume, Ranks: split})
		}}
	d, err := NewStreamData(sc, DataConfig{SeqLen: 8, Pack: true, EvalDocs: 3, PadID: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// trained returns the tokens of the recorded micro-batches (EOS left out).
func trained(rows ...[][]int32) []int32 {
	var out []int32
	for _, rs := range rows {
		for _, r := range rs {
			for _, id := range r {
				if id > 0 {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// expectedTokens is every token of the training documents before the
// checkpoint c (all but the held-out first 3), the partial ones up to
// their recorded count, in stream order.
func expectedTokens(t *testing.T, dir string, lens []int, ss *StreamState) []int32 {
	t.Helper()
	s, err := data.OpenStream(context.Background(), &data.LocalShards{Paths: []string{dir}}, data.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	part := map[data.Position]int{}
	for _, p := range ss.Partial {
		part[p.key()] = p.Tokens
	}
	var out []int32
	for i := range lens {
		doc, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := docTokens(doc.Text)
		if k, ok := part[posKey(doc.Pos)]; ok {
			ids = ids[:min(k, len(ids))]
		} else if !ss.Checkpoint.Seen(doc.Pos) {
			continue
		}
		if i >= 3 {
			out = append(out, ids...)
		}
	}
	return out
}

func sortedCopy(v []int32) []int32 { v = slices.Clone(v); slices.Sort(v); return v }

// TestStreamResumeEqualsUninterrupted: a streamed run interrupted between
// checkpoints and resumed trains on exactly the tokens of an uninterrupted
// one, in the same order; the held-out documents are never trained on; the
// checkpoint's position names every token trained on.
func TestStreamResumeEqualsUninterrupted(t *testing.T) {
	ctx := context.Background()
	dir, lens := streamDocs(t)
	cfg := testConfig(filepath.Join(t.TempDir(), "full"))
	cfg.Steps, cfg.LR = 20, 1e-4
	full := &recModel{}
	st, err := Run(ctx, full, streamSource(t, dir), cfg, nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	want := trained(full.rows)
	if exp := expectedTokens(t, dir, lens, st.Stream); !slices.Equal(want, exp) {
		t.Fatalf("trained %d tokens; the checkpoint's position %+v covers %d", len(want), st.Stream, len(exp))
	}

	out := filepath.Join(t.TempDir(), "part")
	cctx, cancel := context.WithCancel(ctx)
	part := &recModel{}
	cfg.Out = out
	_, err = Run(cctx, part, streamSource(t, dir), cfg, nil, Hooks{Step: func(s StepInfo) {
		if s.Step == 11 {
			cancel()
		}
	}})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	mid, _, err := LoadState(out)
	if err != nil || mid.Step != 11 || mid.Stream == nil || len(mid.Stream.Partial) != 1 {
		t.Fatalf("checkpoint after the interrupt: %v; step %d, stream %+v", err, mid.Step, mid.Stream)
	}
	rest := &recModel{}
	if _, err := Run(ctx, rest, streamSource(t, dir), cfg, mid, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if got := trained(part.rows[:11*cfg.Accum], rest.rows); !slices.Equal(got, want) {
		t.Fatalf("interrupted at step 11 and resumed: %d tokens %v…, uninterrupted %d tokens %v…", len(got), got[:10], len(want), want[:10])
	}
}

// board is an in-process rendezvous store shared by the ranks of a test.
type board struct {
	mu   sync.Mutex
	cond *sync.Cond
	kv   map[string][]byte
}

func newBoard() *board { b := &board{kv: map[string][]byte{}}; b.cond = sync.NewCond(&b.mu); return b }

// boardGroup is one rank of an in-process group.
type boardGroup struct {
	rank, world int
	b           *board
}

func (g *boardGroup) Rank() int                                   { return g.rank }
func (g *boardGroup) World() int                                  { return g.world }
func (g *boardGroup) Agree(context.Context, string, string) error { return nil }
func (g *boardGroup) Post(_ context.Context, k string, v []byte) error {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	g.b.kv[k] = v
	g.b.cond.Broadcast()
	return nil
}
func (g *boardGroup) Read(_ context.Context, k string) ([]byte, error) {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	for g.b.kv[k] == nil {
		g.b.cond.Wait()
	}
	return g.b.kv[k], nil
}
func (g *boardGroup) Remove(_ context.Context, k string) error {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	delete(g.b.kv, k)
	return nil
}

// syncModel is a recModel whose steps wait for every rank (as the gradient
// all-reduce makes them).
type syncModel struct {
	recModel
	wg *stepBarrier
}

func (m *syncModel) TrainStep(ctx context.Context, micro []Batch, p OptimParams) (StepStats, error) {
	s, err := m.recModel.TrainStep(ctx, micro, p)
	m.wg.wait()
	return s, err
}

type stepBarrier struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n, in int
	gen   int
}

func newStepBarrier(n int) *stepBarrier {
	b := &stepBarrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *stepBarrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.gen
	b.in++
	if b.in == b.n {
		b.in, b.gen = 0, b.gen+1
		b.cond.Broadcast()
		return
	}
	for g == b.gen {
		b.cond.Wait()
	}
}

// TestStreamTwoRanksThenOne: two ranks read disjoint parts of the stream;
// rank 0's checkpoint gathers both positions, and one rank resumed from it
// trains on every remaining token once: nothing repeated, nothing skipped.
func TestStreamTwoRanksThenOne(t *testing.T) {
	ctx := context.Background()
	dir, lens := streamDocs(t)
	out := filepath.Join(t.TempDir(), "run")
	cfg := testConfig(out)
	cfg.Steps, cfg.CheckpointEvery, cfg.LR = 9, 0, 1e-4
	b, bar := newBoard(), newStepBarrier(2)
	var ranks [2]*syncModel
	errs := make(chan error, 2)
	for r := range ranks {
		ranks[r] = &syncModel{wg: bar}
		rc := cfg
		rc.Group = &boardGroup{rank: r, world: 2, b: b}
		if r == 1 {
			rc.Out = ""
		}
		src := streamSource(t, dir)
		go func() { _, err := Run(ctx, ranks[r], src, rc, nil, Hooks{}); errs <- err }()
	}
	for range ranks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	a, b1 := trained(ranks[0].rows), trained(ranks[1].rows)
	for _, id := range a {
		if slices.Contains(b1, id) {
			t.Fatalf("token %d trained on by both ranks", id)
		}
	}
	mid, _, err := LoadState(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mid.Stream.Checkpoint.Generations); n != 1 || mid.World != 2 {
		t.Fatalf("2-rank checkpoint: world %d, %d generations", mid.World, n)
	}
	if exp := expectedTokens(t, dir, lens, mid.Stream); !slices.Equal(sortedCopy(append(a, b1...)), sortedCopy(exp)) {
		t.Fatalf("2 ranks trained %d tokens; their checkpoint covers %d", len(a)+len(b1), len(exp))
	}
	one := &recModel{}
	cfg.Steps = 13
	final, err := Run(ctx, one, streamSource(t, dir), cfg, mid, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(a, b1...), trained(one.rows)...)
	sorted := sortedCopy(all)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			t.Fatalf("token %d (document %d) trained on twice", sorted[i], docOf(sorted[i]))
		}
	}
	if exp := expectedTokens(t, dir, lens, final.Stream); !slices.Equal(sorted, sortedCopy(exp)) {
		t.Fatalf("2 ranks then 1 trained %d tokens; the dataset up to the final position %+v holds %d", len(sorted), final.Stream.Checkpoint, len(exp))
	}
	t.Logf("2 ranks: %d+%d tokens in 9 steps; 1 rank: %d more in 4; final position %s, %d partial",
		len(a), len(b1), len(all)-len(a)-len(b1), final.Stream.Checkpoint.Start, len(final.Stream.Partial))
}
