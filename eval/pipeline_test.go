package eval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
)

// gateScorer is the random scorer made slow on purpose: once held, every
// forward pass waits until release is closed.
type gateScorer struct {
	held    atomic.Bool
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gateScorer {
	return &gateScorer{blocked: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gateScorer) open() { g.once.Do(func() { close(g.release) }) }

func (g *gateScorer) Score(ctx context.Context, job *eval.EvalJob, progress func(done, total int)) ([]float64, error) {
	if g.held.Load() {
		select {
		case g.blocked <- struct{}{}:
		default:
		}
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return eval.RandomScorer{}.Score(ctx, job, progress)
}

// recSetter records the weight calls that the chain accepted.
type recSetter struct {
	chain.Chain
	mu      sync.Mutex
	sets    []time.Time
	reveals [][]uint16             // salts of accepted reveals
	rows    []map[chain.UID]uint16 // rows of attempted reveals (recorded before the call)
}

func (r *recSetter) SetWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values []uint16, vk uint64) (chain.BlockNumber, error) {
	b, err := r.Chain.SetWeights(ctx, netuid, uids, values, vk)
	if err == nil {
		r.mu.Lock()
		r.sets = append(r.sets, time.Now())
		r.mu.Unlock()
	}
	return b, err
}

func (r *recSetter) RevealWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values, salt []uint16, vk uint64) (chain.BlockNumber, error) {
	r.mu.Lock()
	r.rows = append(r.rows, nonZeroRow(uids, values))
	r.mu.Unlock()
	b, err := r.Chain.RevealWeights(ctx, netuid, uids, values, salt, vk)
	if err == nil {
		r.mu.Lock()
		r.reveals = append(r.reveals, salt)
		r.mu.Unlock()
	}
	return b, err
}

func (r *recSetter) setsSince(t0 time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.sets {
		if t.After(t0) {
			n++
		}
	}
	return n
}

func (r *recSetter) revealed(salt []uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.reveals, func(s []uint16) bool { return slices.Equal(s, salt) })
}

// serveHub serves the env's hub over HTTP (what `coldint hub serve` runs)
// and returns a client of it.
func serveHub(t *testing.T, e *vEnv) *hub.Client {
	t.Helper()
	hs, err := hubserver.New(e.hub, hubserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	c, err := hub.New(hub.WithEndpoint(srv.URL), hub.WithToken(""))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeComps writes the env's competitions.json without the eval cache (so
// every pass runs forward passes) and with the extra competitions.
func writeComps(t *testing.T, e *vEnv, extra ...string) {
	t.Helper()
	comp := func() map[string]any {
		return map[string]any{"reward": 1.0, "dataset": "fineweb2", "model_types": []string{"LlamaForCausalLM"},
			"model_size": 10_000_000, "parameters": 2_000_000, "tokenizer": e.tokDir, "pool_size": 3, "pend_size": 5}
	}
	comps := map[string]any{
		"default": map[string]any{"rows_per_page": 10, "eval_samples": 10, "use_eval_cache": false},
		"c00":     comp(),
	}
	for _, name := range extra {
		comps[name] = comp()
	}
	b, _ := json.Marshal(comps)
	if err := os.WriteFile(e.comps, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reports collects the passes' reports.
type reports struct {
	mu   sync.Mutex
	list []*eval.StepReport
}

func (r *reports) add(x *eval.StepReport) { r.mu.Lock(); r.list = append(r.list, x); r.mu.Unlock() }

func (r *reports) len() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.list) }

// get waits for report i (0-based).
func (r *reports) get(t *testing.T, i int) *eval.StepReport {
	t.Helper()
	waitFor(t, fmt.Sprintf("evaluation pass report %d", i), func() bool { return r.len() > i })
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list[i]
}

// runPipeline starts v.Run and returns its reports; the test's cleanup
// stops it.
func runPipeline(t *testing.T, v *eval.Validator, g *gateScorer) *reports {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reps := &reports{}
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx, 0, 50*time.Millisecond, reps.add) }()
	t.Cleanup(func() {
		cancel()
		g.open()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return reps
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBlocked holds the scorer and waits until an evaluation pass sits in a
// forward pass.
func waitBlocked(t *testing.T, g *gateScorer) {
	t.Helper()
	g.held.Store(true)
	select {
	case <-g.blocked:
	case <-time.After(60 * time.Second):
		t.Fatal("no forward pass started within 60 s")
	}
}

func noReport(t *testing.T, reps *reports, n int, when string) {
	t.Helper()
	if got := reps.len(); got != n {
		t.Fatalf("%s: %d evaluation passes ended while a forward pass was held, want none", when, got-n)
	}
}

func inCState(v *eval.Validator, comp string, uid chain.UID) bool {
	ok := false
	v.Inspect(func(s *eval.ValidatorState) { cs := s.CState[comp]; ok = cs != nil && cs.Has(uid) })
	return ok
}

// TestRunPipeline runs the concurrent validator on the embedded chain and a
// served hub with an evaluation held in a forward pass: a model committed
// meanwhile is downloaded and hash-checked before that pass ends and
// evaluated in the next; a changed competitions.json is applied within its
// refresh interval; weights are set on their timer.
func TestRunPipeline(t *testing.T) {
	e := newVEnv(t, nil)
	writeComps(t, e)
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	g := newGate()
	setter := &recSetter{Chain: e.as(e.val)}
	hc := serveHub(t, e)
	v := e.validator(func(o *eval.Options) {
		o.Hub, o.Scorer, o.Setter = hc, g, setter
		o.Loader = eval.NewLoader(e.comps, "")
		o.Loader.Interval = 300 * time.Millisecond
		o.ChainInterval, o.SyncTick, o.WeightsTick = 200*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
	})
	reps := runPipeline(t, v, g)
	if r1 := reps.get(t, 0); r1.Evaluated != 2 {
		t.Fatalf("first pass evaluated %d models, want 2", r1.Evaluated)
	}
	waitBlocked(t, g)
	held, k := time.Now(), reps.len()

	cat := e.miner("Cat", 3)
	waitFor(t, "the model committed during the evaluation is synced", func() bool { return inCState(v, "c00", cat.uid) })
	snaps, _ := filepath.Glob(filepath.Join(e.modelDir, "models--cat--m", "snapshots", "*", "config.json"))
	if len(snaps) != 1 {
		t.Fatalf("snapshot of the new model on disk: %v, want one", snaps)
	}
	writeComps(t, e, "c01")
	waitFor(t, "the changed competitions.json is applied", func() bool {
		ok := false
		v.Inspect(func(s *eval.ValidatorState) { ok = s.CState["c01"] != nil })
		return ok
	})
	waitFor(t, "weights are set while the evaluation runs", func() bool { return setter.setsSince(held) > 0 })
	if w, err := e.reader.Weights(context.Background(), vNetuid, e.valUID); err != nil || len(w) == 0 {
		t.Fatalf("chain weights of the validator: %v, %v", w, err)
	}
	noReport(t, reps, k, "after the sync, config and weights checks")

	g.open()
	r2 := reps.get(t, k)
	if report(r2, cat.uid) != nil {
		t.Fatalf("the held pass evaluated uid %d, which was committed after it started", cat.uid)
	}
	r3 := reps.get(t, k+1)
	if u := report(r3, cat.uid); u == nil || u.Status != "ok" {
		t.Fatalf("the pass after: uid %d report %+v, want evaluated", cat.uid, u)
	}
	if !slices.Contains(r3.Competitions, "c01") {
		t.Errorf("the pass after lists competitions %v, want c01", r3.Competitions)
	}
}

// TestRunHashCommitReveal: on a commit-reveal subnet the weights timer
// commits, keeps a second commit next to the first, and reveals the first in
// its reveal epoch while an evaluation is held; the row is read back.
func TestRunHashCommitReveal(t *testing.T) {
	// Commit-reveal version 2: the hash variant only.
	e := newVEnv(t, func(p *devchain.SubnetParams) {
		p.CommitReveal, p.Tempo, p.RevealPeriodEpochs, p.CommitRevealVersion = true, 9, 1, 2
	})
	writeComps(t, e)
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	g := newGate()
	setter := &recSetter{Chain: e.as(e.val)}
	v := e.validator(func(o *eval.Options) {
		o.Scorer, o.Setter = g, setter
		o.SyncTick, o.WeightsTick, o.WeightInterval = 50*time.Millisecond, 50*time.Millisecond, 150*time.Millisecond
	})
	reps := runPipeline(t, v, g)
	reps.get(t, 0)
	waitBlocked(t, g)
	k := reps.len()

	first, _ := waitTwoCommits(t, v)
	ctx := context.Background()
	// Into the first commit's reveal epoch (epoch(b) = (b+netuid+1)/(tempo+1)).
	startBlock := first.RevealEpoch*10 - uint64(vNetuid) - 1
	if head, _ := e.node.BlockNumber(ctx); uint64(head) < startBlock {
		if _, err := e.node.Advance(ctx, startBlock-uint64(head)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the first commit is revealed", func() bool { return setter.revealed(first.Salt) })
	// The row on chain is one the validator committed and revealed: every
	// commit of the first commit's epoch is revealed in this epoch, and the
	// last reveal's row stands.
	wantRevealedRow(t, e.reader, e.valUID, setter)
	noReport(t, reps, k, "after the reveal")
}

// wantRevealedRow checks that the validator's weight row on chain is one
// of the rows it revealed.
func wantRevealedRow(t *testing.T, r chain.Reader, valUID chain.UID, setter *recSetter) {
	t.Helper()
	got, err := r.Weights(context.Background(), vNetuid, valUID)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Map()
	setter.mu.Lock()
	defer setter.mu.Unlock()
	for _, row := range setter.rows {
		if len(g) > 0 && reflect.DeepEqual(g, row) {
			return
		}
	}
	t.Fatalf("chain weights %v are none of the revealed rows %v", g, setter.rows)
}

func nonZeroRow(uids []chain.UID, values []uint16) map[chain.UID]uint16 {
	m := map[chain.UID]uint16{}
	for i, u := range uids {
		if values[i] > 0 {
			m[u] = values[i]
		}
	}
	return m
}

// waitTwoCommits waits until the validator holds two queued weight commits,
// the first with its reveal epoch and the second from a later block, and
// returns them.
func waitTwoCommits(t *testing.T, v *eval.Validator) (first, second eval.PendingReveal) {
	t.Helper()
	waitFor(t, "two commits queued", func() bool {
		n := 0
		v.Inspect(func(s *eval.ValidatorState) {
			if n = len(s.PendingReveals); n >= 2 {
				first, second = s.PendingReveals[0], s.PendingReveals[1]
			}
		})
		return n >= 2
	})
	if first.RevealEpoch == 0 || second.Block <= first.Block {
		t.Fatalf("queued commits %+v then %+v", first, second)
	}
	return first, second
}
