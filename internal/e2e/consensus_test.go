package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
)

// TestValidateSharedSamples runs two `coldint validate` processes (own
// hotkeys, model folders and seeds) on one devchain and one `hub serve`,
// on a two-task competition whose tasks read local text (--data NAME=PATH).
// With eval_seed block they evaluate the same samples with the real engine
// and put the same weights on chain; with eval_seed random (the negative
// control) they do not. Without time advantage the three random models
// split the wins, so the weights depend on the samples.
func TestValidateSharedSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run")
	}
	for _, tc := range []struct {
		seed string
		same bool
	}{{"block", true}, {"random", false}} {
		t.Run(tc.seed, func(t *testing.T) {
			tasks := []map[string]any{
				{"name": "a", "dataset": "local/a", "weight": 3, "pages": 1},
				{"name": "b", "dataset": "local/b", "weight": 1, "pages": 1},
			}
			e := newValEnv(t, map[string]any{"eval_seed": tc.seed, "sync_cadence": 50, "eval_delay": 2,
				"pool_size": 8, "advantage_initial": 0, "tasks": tasks})
			e.hubArgs = []string{"--hub-endpoint", serveHub(t, e.hub)}
			for i, n := range []string{"Ann", "Ben", "Cat"} {
				e.publish(n, e.initModel(n, uint64(i+1), nil), nil, "")
			}
			_, bobUID := e.peerValidator("Bob", "bob")
			if _, err := e.node.Advance(context.Background(), 50); err != nil {
				t.Fatal(err)
			}
			taskData := e.taskData()
			run := func(args ...string) eval.StepReport {
				reps, stderr, err := e.validate(1, nil, append(taskData, args...)...)
				if err != nil || len(reps) != 1 {
					t.Fatalf("validate %v: %v, %d reports\n%s", args, err, len(reps), tail(stderr, 3000))
				}
				return reps[0]
			}
			r1 := run()
			r2 := run("--model-dir", filepath.Join(e.root, "validator-bob"), "--seed", "7", "--wallet.name", "bob")
			for _, r := range []eval.StepReport{r1, r2} {
				if len(r.UIDs) != 3 || !r.WeightsSet || len(r.Samples["c00"]) != 20 {
					t.Fatalf("%d models evaluated, %d samples, weights set %v (%s); sample errors %v",
						len(r.UIDs), len(r.Samples["c00"]), r.WeightsSet, r.WeightsError, r.SampleErrors)
				}
			}
			t.Logf("weights %v and %v", r1.Weights, r2.Weights)
			if got := reflect.DeepEqual(r1.Samples["c00"], r2.Samples["c00"]); got != tc.same {
				t.Errorf("eval_seed %s: same samples %v, want %v", tc.seed, got, tc.same)
			}
			w1, _ := e.node.Weights(context.Background(), e.netuid, e.valUID)
			w2, _ := e.node.Weights(context.Background(), e.netuid, bobUID)
			if got := reflect.DeepEqual(w1.Map(), w2.Map()); got != tc.same || len(w1.Map()) == 0 {
				t.Errorf("eval_seed %s: same chain weights %v, want %v: %v vs %v", tc.seed, got, tc.same, w1.Map(), w2.Map())
			}
		})
	}
}

// peerValidator registers and stakes a second validator hotkey and writes
// it as wallet name's default hotkey.
func (e *valEnv) peerValidator(uri, name string) (*keys.Pair, chain.UID) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	k, err := keys.FromURI("//" + uri)
	if err != nil {
		t.Fatal(err)
	}
	uid := e.register(k)
	if err := e.node.SetStake(ctx, e.netuid, k.AccountID(), 1_000_000_000_000); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteKeyfile(ctx, filepath.Join(e.walletDir, name, "hotkeys", "default"), k, false); err != nil {
		t.Fatal(err)
	}
	return k, uid
}

// taskData writes the env's corpus halves as the local text of tasks a and
// b and returns the --data flags naming them.
func (e *valEnv) taskData() []string {
	t := e.t
	t.Helper()
	var args []string
	half := len(e.texts) / 2
	for i, name := range []string{"a", "b"} {
		recs := make([]data.Record, 0, half)
		for _, s := range e.texts[i*half : (i+1)*half] {
			recs = append(recs, data.Record{Text: s})
		}
		p := filepath.Join(e.root, name+".jsonl")
		if err := writeRecords(p, recs); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--data", fmt.Sprintf("%s=%s", name, p))
	}
	return args
}

func writeRecords(path string, recs []data.Record) error {
	var buf bytes.Buffer
	if err := data.WriteJSONL(&buf, recs); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
