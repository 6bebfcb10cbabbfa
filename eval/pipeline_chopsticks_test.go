package eval_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate"
	"github.com/coldint/coldint/chain/substrate/chopsticks"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/internal/testenv"
)

// chopsticksEnv moves e onto a commit-reveal subnet (tempo 9) of the real
// subtensor runtime (spec 218) under chopsticks, with Alice as validator and
// sudo; miners must be among the funded names.
func chopsticksEnv(t *testing.T, e *vEnv, miners ...string) (*substrate.Client, func(n int)) {
	t.Helper()
	genesis := filepath.Join(testenv.Shared(t), "chain", "subtensor-spec218-raw.json")
	if _, err := os.Stat(genesis); err != nil {
		testenv.Missing(t, "genesis "+genesis+" is absent")
	}
	nm := testenv.NodeModules(t, "chain")
	nodeBin := testenv.Node(t)
	if _, err := os.Stat(chopsticks.Script(nm)); err != nil {
		testenv.Missing(t, "chopsticks is not installed (make setup-chain)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var funded []chain.AccountID
	owner, _ := keys.FromURI("//Owner")
	for _, n := range append([]string{"Alice", "Owner"}, miners...) {
		k, _ := keys.FromURI("//" + n)
		funded = append(funded, k.AccountID())
	}
	node, err := chopsticks.Start(ctx, chopsticks.Config{Genesis: genesis, NodeModules: nm, Node: nodeBin, Sudo: e.val.AccountID(), Funded: funded})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chopsticks output (tail):\n%s", node.Output())
		}
		node.Stop()
	})
	c, err := substrate.Dial(ctx, node.URL, substrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sudo := c.WithSigner(e.val)
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	if _, err := sudo.Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", u64(0)); err != nil {
		t.Fatal(err)
	}
	netuid, err := sudo.RegisterNetwork(ctx, owner.AccountID())
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nu := u16(uint16(netuid))
	var calls [][]byte
	for _, a := range []struct {
		name string
		args [][]byte
	}{
		{"sudo_set_network_registration_allowed", [][]byte{nu, {1}}},
		{"sudo_set_target_registrations_per_interval", [][]byte{nu, u16(100)}},
		{"sudo_set_max_registrations_per_block", [][]byte{nu, u16(100)}},
		{"sudo_set_weights_set_rate_limit", [][]byte{nu, u64(0)}},
		{"sudo_set_weights_min_stake", [][]byte{u64(0)}},
		{"sudo_set_min_allowed_weights", [][]byte{nu, u16(0)}},
		{"sudo_set_max_weight_limit", [][]byte{nu, u16(65535)}},
		{"sudo_set_tempo", [][]byte{nu, u16(9)}},
		{"sudo_set_commit_reveal_weights_enabled", [][]byte{nu, {1}}},
	} {
		call, err := md.BuildCall("AdminUtils", a.name, a.args...)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, call)
	}
	if _, err := sudo.SudoBatch(ctx, calls...); err != nil {
		t.Fatal(err)
	}
	e.reader, e.netuid = c, netuid
	e.as = func(s chain.Signer) chain.Chain { return c.WithSigner(s) }
	e.register = func(k *keys.Pair) chain.UID {
		uid, err := sudo.Register(context.Background(), netuid, k.AccountID())
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	e.valUID = e.register(e.val)
	advance := func(n int) {
		if err := c.Call(context.Background(), nil, "dev_newBlock", map[string]int{"count": n}); err != nil {
			t.Fatal(err)
		}
	}
	return c, advance
}

// TestRunHashCommitRevealChopsticks: on the real runtime, with an
// evaluation held in a forward pass, the weights timer commits twice, the
// first commit is revealed in its reveal epoch while the second is still
// queued, and the revealed row is read back from the chain.
func TestRunHashCommitRevealChopsticks(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts a chopsticks node")
	}
	e := newVEnv(t, nil)
	c, advance := chopsticksEnv(t, e, "Bob", "Charlie")
	writeComps(t, e)
	e.miner("Bob", 1)
	e.miner("Charlie", 2)
	g := newGate()
	setter := &recSetter{Chain: e.as(e.val)}
	v := e.validator(func(o *eval.Options) {
		o.Scorer, o.Setter = g, setter
		o.SyncTick, o.WeightsTick, o.WeightInterval = 200*time.Millisecond, 200*time.Millisecond, 2*time.Second
	})
	reps := runPipeline(t, v, g)
	reps.get(t, 0)
	waitBlocked(t, g)
	k, vec := reps.len(), v.Weights()

	first, _ := waitTwoCommits(t, v)
	if w, err := c.Weights(context.Background(), e.netuid, e.valUID); err != nil || len(w) != 0 {
		t.Fatalf("weights on chain before any reveal: %v, %v", w, err)
	}
	// Build blocks into the first commit's reveal epoch (tempo 9).
	ctx := context.Background()
	startBlock := first.RevealEpoch*10 - uint64(e.netuid) - 1
	if head, _ := c.BlockNumber(ctx); uint64(head) < startBlock {
		advance(int(startBlock - uint64(head)))
	}
	waitFor(t, "the first commit is revealed", func() bool { return setter.revealed(first.Salt) })
	want := map[chain.UID]float64{}
	for u, w := range vec {
		if w > 0 {
			want[chain.UID(u)] = w
		}
	}
	wantChainWeightsOn(t, c, e.netuid, e.valUID, want)
	noReport(t, reps, k, "after the reveal")
}
