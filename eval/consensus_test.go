package eval_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
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
// different ones under eval_seed random (the negative control).
func TestSharedSamples(t *testing.T) {
	for _, tc := range []struct {
		seed string
		same bool
	}{{"block", true}, {"random", false}} {
		t.Run(tc.seed, func(t *testing.T) {
			e := newVEnv(t, nil)
			writeCompsWith(t, e, map[string]any{"eval_seed": tc.seed, "sync_cadence": 50, "eval_delay": 5})
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
