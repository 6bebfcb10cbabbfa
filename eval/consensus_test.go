package eval_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
)

// These tests run validators on shared samples (eval_seed block) and
// weighted tasks over the embedded devchain, a hub server and a
// datasets-server that serves the test corpus.

// contentScorer gives RandomScorer's losses keyed by the model's weights
// instead of its folder, so two validators with their own model folders
// compute the same loss for the same model and sample.
type contentScorer struct{}

func (contentScorer) Score(ctx context.Context, job *eval.EvalJob, progress func(done, total int)) ([]float64, error) {
	b, err := os.ReadFile(filepath.Join(job.Dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	j := *job
	j.Dir = hex.EncodeToString(sum[:])
	return eval.RandomScorer{}.Score(ctx, &j, progress)
}

const dataName = "test/corpus"

// serveData serves the env's corpus as a datasets-server whose /rows
// answers HTTP 500 where fail says so, and returns a client of it.
func serveData(t *testing.T, e *vEnv, fail func(config string, offset string) bool) *data.Server {
	t.Helper()
	src, err := data.OpenLocal(context.Background(), []string{e.corpus}, data.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := data.Handler(src, dataName)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path == "/rows" && fail != nil && fail(q.Get("config"), q.Get("offset")) {
			http.Error(w, "page unavailable", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &data.Server{BaseURL: srv.URL, Dataset: dataName, Client: srv.Client(), Attempts: 1}
}

// writeCompsWith writes competitions.json with c00 holding extra keys.
func writeCompsWith(t *testing.T, e *vEnv, extra map[string]any) {
	t.Helper()
	c00 := map[string]any{"reward": 1.0, "dataset": "fineweb2", "model_types": []string{"LlamaForCausalLM"},
		"model_size": 10_000_000, "parameters": 2_000_000, "tokenizer": e.tokDir, "pool_size": 8, "pend_size": 8}
	for k, v := range extra {
		c00[k] = v
	}
	comps := map[string]any{
		"default": map[string]any{"rows_per_page": 5, "db_min_samples": 40, "db_max_samples": 100,
			"db_extend_samples": 10, "db_extend_interval": 1e9, "eval_samples": 30},
		"c00": c00,
	}
	b, _ := json.Marshal(comps)
	if err := os.WriteFile(e.comps, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// advanceTo advances the chain to block b.
func advanceTo(t *testing.T, e *vEnv, b chain.BlockNumber) {
	t.Helper()
	ctx := context.Background()
	head, err := e.node.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head >= b {
		t.Fatalf("head %d is already at or past %d", head, b)
	}
	if _, err := e.node.Advance(ctx, uint64(b-head)); err != nil {
		t.Fatal(err)
	}
}

// peer returns a second validator hotkey, registered and staked.
func (e *vEnv) peer(name string) (*keys.Pair, chain.UID) {
	e.t.Helper()
	k, _ := keys.FromURI("//" + name)
	uid := e.register(k)
	if err := e.node.SetStake(context.Background(), e.netuid, k.AccountID(), 1e12); err != nil {
		e.t.Fatal(err)
	}
	return k, uid
}

// consensusValidator is a validator with its own folder and seed on the
// shared chain, hub server and datasets-server.
func (e *vEnv) consensusValidator(name string, seed uint64, key *keys.Pair, mod func(*eval.Options)) *eval.Validator {
	return e.validator(func(o *eval.Options) {
		o.ModelDir = filepath.Join(e.root, "vali-"+name)
		o.Seed, o.Scorer = seed, contentScorer{}
		o.Setter, o.Hotkey = e.as(key), key.AccountID()
		if mod != nil {
			mod(o)
		}
	})
}

func step(t *testing.T, v *eval.Validator) *eval.StepReport {
	t.Helper()
	r, err := v.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSharedSamples: two validators with different seeds and folders choose
// the same samples and set the same weights under eval_seed block, and
// different ones under eval_seed random (the negative control). Samples
// are grouped in pairs, so the grouping must be shared too.
func TestSharedSamples(t *testing.T) {
	for _, tc := range []struct {
		seed string
		same bool
	}{{"block", true}, {"random", false}} {
		t.Run(tc.seed, func(t *testing.T) {
			e := newVEnv(t, nil)
			writeCompsWith(t, e, map[string]any{"eval_seed": tc.seed, "sync_cadence": 50, "eval_delay": 5, "group_samples": 2})
			for i, n := range []string{"Ann", "Ben", "Cat"} {
				e.miner(n, uint64(i+1))
			}
			bob, bobUID := e.peer("Bob")
			advanceTo(t, e, 50)
			src, hubc := serveData(t, e, nil), serveHub(t, e)
			withServers := func(o *eval.Options) { o.Source, o.Hub = src, hubc }
			v1 := e.consensusValidator("alice", 7, e.val, withServers)
			v2 := e.consensusValidator("bob", 99, bob, withServers)
			r1, r2 := step(t, v1), step(t, v2)
			s1, s2 := r1.Samples["c00"], r2.Samples["c00"]
			if len(s1) != 30 || len(s2) != 30 {
				t.Fatalf("samples %d and %d, want 30 each (sample errors %v %v)", len(s1), len(s2), r1.SampleErrors, r2.SampleErrors)
			}
			for _, r := range []*eval.StepReport{r1, r2} {
				if len(r.UIDs) != 3 || !r.WeightsSet {
					t.Fatalf("%d models evaluated, weights set %v (%s), want 3 and set", len(r.UIDs), r.WeightsSet, r.WeightsError)
				}
			}
			if tc.same && (r1.Rounds["c00"].Block != 50 || r1.Rounds["c00"] != r2.Rounds["c00"]) {
				t.Errorf("sync rounds %+v and %+v, want block 50 for both", r1.Rounds["c00"], r2.Rounds["c00"])
			}
			if got := reflect.DeepEqual(s1, s2); got != tc.same {
				t.Errorf("eval_seed %s: same samples %v, want %v:\n%v\n%v", tc.seed, got, tc.same, s1, s2)
			}
			if got := reflect.DeepEqual(r1.Weights, r2.Weights); got != tc.same {
				t.Errorf("eval_seed %s: same weights %v, want %v: %v vs %v", tc.seed, got, tc.same, r1.Weights, r2.Weights)
			}
			w1, _ := e.node.Weights(context.Background(), e.netuid, e.valUID)
			w2, _ := e.node.Weights(context.Background(), e.netuid, bobUID)
			if got := reflect.DeepEqual(w1.Map(), w2.Map()); got != tc.same || len(w1.Map()) == 0 {
				t.Errorf("eval_seed %s: same chain weights %v, want %v: %v vs %v", tc.seed, got, tc.same, w1.Map(), w2.Map())
			}
		})
	}
}

// TestEvalDelay: a model committed after the sync block minus eval_delay
// waits (pending) and is evaluated in the next round.
func TestEvalDelay(t *testing.T) {
	ctx := context.Background()
	e := newVEnv(t, nil)
	writeCompsWith(t, e, map[string]any{"eval_seed": "block", "sync_cadence": 50, "eval_delay": 10})
	ann, ben := e.miner("Ann", 1), e.miner("Ben", 2)
	advanceTo(t, e, 44)
	cat := e.miner("Cat", 3)
	cm, err := e.node.Commitment(ctx, e.netuid, cat.key.AccountID())
	if err != nil || cm.Block <= 40 || cm.Block > 50 {
		t.Fatalf("Cat's commitment at block %d (%v), want in (40, 50]", cm.Block, err)
	}
	advanceTo(t, e, 50)
	v := e.consensusValidator("alice", 7, e.val, func(o *eval.Options) { o.Source = serveData(t, e, nil) })
	r := step(t, v)
	if report(r, ann.uid) == nil || report(r, ben.uid) == nil {
		t.Fatalf("round 50: Ann and Ben not both evaluated: %v", r.UIDOrder)
	}
	if report(r, cat.uid) != nil {
		t.Errorf("round 50: Cat (committed at %d, after 50 − 10) was evaluated", cm.Block)
	}
	if _, ok := v.State().CState["c00"].Pending[cat.uid]; !ok {
		t.Errorf("round 50: Cat is not pending: %+v", v.State().CState["c00"])
	}
	first := r.Samples["c00"]
	advanceTo(t, e, 100)
	r = step(t, v)
	if u := report(r, cat.uid); u == nil || u.Status != "ok" {
		t.Errorf("round 100: Cat not evaluated: %v (%+v)", r.UIDOrder, u)
	}
	if reflect.DeepEqual(first, r.Samples["c00"]) {
		t.Error("round 100 evaluates the samples of round 50")
	}
}

// TestPageFallback: where the datasets-server fails for a page, validators
// take the next page of the same seeded sequence, all alike.
func TestPageFallback(t *testing.T) {
	e := newVEnv(t, nil)
	task := func(pages int) map[string]any {
		return map[string]any{"eval_seed": "block", "sync_cadence": 50,
			"tasks": []map[string]any{{"name": "corpus", "dataset": dataName, "weight": 1, "pages": pages}}}
	}
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	bob, _ := e.peer("Bob")
	advanceTo(t, e, 50)
	// The sequence of candidate pages, read without failures.
	writeCompsWith(t, e, task(6))
	probe := e.consensusValidator("probe", 1, e.val, func(o *eval.Options) { o.Source = serveData(t, e, nil) })
	seq := pagesOf(step(t, probe).Samples["c00"])
	if len(seq) != 6 {
		t.Fatalf("probe read pages %v, want 6", seq)
	}
	bad := seq[0]
	var want []string
	for _, p := range seq {
		if p != bad && len(want) < 3 {
			want = append(want, p)
		}
	}
	writeCompsWith(t, e, task(3))
	src := serveData(t, e, func(config, offset string) bool { return config+"@"+offset == bad })
	v1 := e.consensusValidator("alice", 7, e.val, func(o *eval.Options) { o.Source = src })
	v2 := e.consensusValidator("bob", 99, bob, func(o *eval.Options) { o.Source = src })
	r1, r2 := step(t, v1), step(t, v2)
	got1, got2 := pagesOf(r1.Samples["c00"]), pagesOf(r2.Samples["c00"])
	if !reflect.DeepEqual(got1, want) || !reflect.DeepEqual(got2, want) {
		t.Errorf("with page %s failing: pages %v and %v, want %v (the candidates after it)", bad, got1, got2, want)
	}
	if !reflect.DeepEqual(r1.Samples["c00"], r2.Samples["c00"]) || !reflect.DeepEqual(r1.Weights, r2.Weights) {
		t.Errorf("with a failing page the validators differ: weights %v vs %v", r1.Weights, r2.Weights)
	}
}

// pagesOf lists the distinct pages (config@offset of the first row) of
// sample refs of 5-row pages, in order.
func pagesOf(refs []eval.SampleRef) []string {
	var out []string
	for i := 0; i < len(refs); i += 5 {
		out = append(out, fmt.Sprintf("%s@%d", refs[i].Config, refs[i].Row))
	}
	return out
}

// TestTasksWeighted: a competition with tasks a (weight 3) and b (weight 1)
// evaluates the pages of the two single-task competitions, and each model's
// win rate is ¾ of its rate on a plus ¼ of its rate on b. Tasks read local
// sources (Options.TaskSources, validate --data NAME=PATH).
func TestTasksWeighted(t *testing.T) {
	ctx := context.Background()
	e := newVEnv(t, nil)
	for i, n := range []string{"Ann", "Ben", "Cat"} {
		e.miner(n, uint64(i+1))
	}
	advanceTo(t, e, 50)
	b, err := os.ReadFile(e.corpus)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	sources := map[string]data.Source{}
	for name, part := range map[string][]string{"a": lines[:30], "b": lines[30:]} {
		p := filepath.Join(e.root, name+".jsonl")
		if err := os.WriteFile(p, []byte(strings.Join(part, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		if sources[name], err = data.OpenLocal(ctx, []string{p}, data.LocalOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	taskA := map[string]any{"name": "a", "dataset": "local/a", "weight": 3, "pages": 2}
	taskB := map[string]any{"name": "b", "dataset": "local/b", "weight": 1, "pages": 2}
	run := func(name string, tasks ...map[string]any) *eval.StepReport {
		writeCompsWith(t, e, map[string]any{"eval_seed": "block", "sync_cadence": 50, "tasks": tasks})
		v := e.consensusValidator(name, 7, e.val, func(o *eval.Options) { o.TaskSources = sources })
		r := step(t, v)
		if len(r.UIDs) != 3 || len(r.SampleErrors) > 0 {
			t.Fatalf("%s: %d models evaluated, sample errors %v", name, len(r.UIDs), r.SampleErrors)
		}
		return r
	}
	ra, rb, rab := run("a", taskA), run("b", taskB), run("ab", taskA, taskB)
	if want := append(append([]eval.SampleRef{}, ra.Samples["c00"]...), rb.Samples["c00"]...); !reflect.DeepEqual(rab.Samples["c00"], want) {
		t.Errorf("two-task samples are not those of a then b")
	}
	for _, m := range e.miners {
		a, b, ab := report(ra, m.uid), report(rb, m.uid), report(rab, m.uid)
		t.Logf("uid %d: a %v b %v ab %v", m.uid, a.WinRate, b.WinRate, ab.WinRate)
		if want := 0.75*a.WinRate + 0.25*b.WinRate; math.Abs(ab.WinRate-want) > 1e-12 {
			t.Errorf("uid %d: win rate %v, want ¾·%v + ¼·%v = %v", m.uid, ab.WinRate, a.WinRate, b.WinRate, want)
		}
		if want := append(append([]eval.JSONFloat{}, a.Losses...), b.Losses...); !reflect.DeepEqual(ab.Losses, want) {
			t.Errorf("uid %d: two-task losses are not those of a then b", m.uid)
		}
	}
}

// TestOwnSamplesErrors: a competition whose samples cannot be drawn is
// skipped for the step with the reason in sample_errors.
func TestOwnSamplesErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
		mod   func(e *vEnv, o *eval.Options)
		want  string
	}{
		{"chain without block hashes", map[string]any{"eval_seed": "block"},
			func(e *vEnv, o *eval.Options) { o.Chain = struct{ chain.Reader }{e.reader} }, "needs a chain that reads block hashes"},
		{"task without a source", map[string]any{"tasks": []map[string]any{{"name": "math", "dataset": "x/math", "weight": 1}}},
			nil, `no source for dataset "x/math"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newVEnv(t, nil)
			writeCompsWith(t, e, tc.extra)
			e.miner("Ann", 1)
			v := e.validator(func(o *eval.Options) {
				if tc.mod != nil {
					tc.mod(e, o)
				}
			})
			r := step(t, v)
			if got := r.SampleErrors["c00"]; !strings.Contains(got, tc.want) || len(r.UIDs) != 0 {
				t.Errorf("sample error %q with %d models evaluated, want one containing %q and none", got, len(r.UIDs), tc.want)
			}
		})
	}
}
