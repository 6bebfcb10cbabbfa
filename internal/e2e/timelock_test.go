package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
)

// serveChain starts `coldint chain serve` on a free loopback port with
// blocks on demand and subnet netuid created with args, and dials it.
func serveChain(t *testing.T, db string, netuid chain.NetUID, args ...string) *devchain.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, coldintBin(t), append([]string{"chain", "serve", "--db", db, "--listen", "127.0.0.1:0",
		"--block-time", "0", "--netuid", fmt.Sprint(netuid)}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		c, err := devchain.Dial(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("coldint chain serve did not start within 60 s; stderr:\n%s", stderr.String())
	}
	return nil
}

// TestValidateTimelockedChainServe: `coldint validate` against `coldint
// chain serve --commit-reveal` (version 4, the default) commits its weights
// timelocked to the devchain's beacon; they stay hidden until the epoch
// block of the reveal epoch, where the chain reveals them, and then equal
// the validator's weights.
func TestValidateTimelockedChainServe(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run")
	}
	ctx := context.Background()
	const netuid, tempo = chain.NetUID(3), 9
	e := newValEnvBase(t, nil)
	c := serveChain(t, filepath.Join(e.root, "chain.log"), netuid, "--tempo", fmt.Sprint(tempo), "--commit-reveal",
		"--max-uids", "32", "--commit-rate-limit", "0", "--weights-rate-limit", "0")
	var err error
	if e.validator, err = keys.FromURI("//Alice"); err != nil {
		t.Fatal(err)
	}
	if e.valUID, err = c.Register(ctx, netuid, e.validator.AccountID(), e.validator.AccountID()); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStake(ctx, netuid, e.validator.AccountID(), 1_000_000_000_000); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteKeyfile(ctx, filepath.Join(e.walletDir, "val", "hotkeys", "default"), e.validator, false); err != nil {
		t.Fatal(err)
	}
	e.netuid, e.reader, e.network, e.url = netuid, c, "local+"+c.URL(), c.URL()
	e.register = func(key *keys.Pair) chain.UID {
		uid, err := c.Register(ctx, netuid, key.AccountID(), key.AccountID())
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	e.signed = func(key *keys.Pair) chain.Committer { return c.As(key) }
	e.publish("Ann", e.initModel("ann", 1, nil), nil, "")
	e.publish("Ben", e.initModel("ben", 2, nil), nil, "")

	reps, stderr, err := e.validate(1, nil)
	if err != nil || len(reps) != 1 {
		t.Fatalf("validate: %v, %d reports; stderr:\n%s", err, len(reps), stderr)
	}
	r := reps[0]
	if !r.WeightsSet {
		t.Fatalf("weights not sent: %s; stderr:\n%s", r.WeightsError, stderr)
	}
	if !strings.Contains(stderr, "timelocked") {
		t.Errorf("the validator's log does not mention a timelocked commit:\n%s", stderr)
	}
	if w, err := c.Weights(ctx, netuid, e.valUID); err != nil || len(w) != 0 {
		t.Fatalf("weights on chain before the reveal: %v (%v)", w, err)
	}
	// The commit block is the validator's last_update; the chain reveals at
	// the last block of epoch(b)+1, epoch(x) = (x+netuid+1)/(tempo+1).
	mg, err := c.Metagraph(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	b := uint64(mg.Neurons[e.valUID].LastUpdate)
	reveal := ((b+uint64(netuid)+1)/(tempo+1)+2)*(tempo+1) - uint64(netuid) - 2
	head, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Advance(ctx, reveal-1-uint64(head)); err != nil {
		t.Fatal(err)
	}
	if w, _ := c.Weights(ctx, netuid, e.valUID); len(w) != 0 {
		t.Fatalf("weights on chain one block before the reveal block %d: %v", reveal, w)
	}
	if _, err := c.Advance(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checkChainWeights(t, c, netuid, e.valUID, r.Weights)
}
