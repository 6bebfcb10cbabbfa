package devchain

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/chain/timelock"
)

// tlEnv is a commit-reveal version 4 subnet (tempo 9, no rate limit) with
// three registered hotkeys.
type tlEnv struct {
	t      *testing.T
	node   Node
	netuid chain.NetUID
	info   timelock.ChainInfo
	params SubnetParams
}

func newTLEnv(t *testing.T, node Node) *tlEnv {
	t.Helper()
	ctx := context.Background()
	p := DefaultSubnetParams()
	p.CommitReveal, p.Tempo, p.WeightsRateLimit = true, 9, 0
	netuid, err := node.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := node.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), coldkey()); err != nil {
			t.Fatal(err)
		}
	}
	e := &tlEnv{t: t, node: node, netuid: netuid, params: p}
	e.loadBeacon()
	return e
}

func (e *tlEnv) loadBeacon() {
	e.t.Helper()
	bi, err := e.node.Beacon(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if e.info, err = timelock.FromBeaconInfo(bi); err != nil {
		e.t.Fatal(err)
	}
}

// commit makes hotkey i commit a payload claiming hotkey claim (the
// committer itself when claim < 0) and returns the commit block.
func (e *tlEnv) commit(i, claim int, uids, values []uint16) chain.BlockNumber {
	e.t.Helper()
	if claim < 0 {
		claim = i
	}
	p := &timelock.Payload{Hotkey: chaintest.Hotkey(claim).AccountID(), UIDs: uids, Values: values}
	const round = 1234
	ct, err := timelock.EncryptPayload(e.info.PublicKey, round, p, rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	tl := e.node.As(chaintest.Hotkey(i)).(chain.TimelockedWeightSetter)
	b, err := tl.CommitTimelockedWeights(context.Background(), e.netuid, ct, round, timelock.CommitRevealVersion)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// revealBlock is the epoch block at which a commit of block b is revealed:
// the last block of epoch epoch(b) + RevealPeriodEpochs.
func (e *tlEnv) revealBlock(b chain.BlockNumber) chain.BlockNumber {
	k := epoch(e.netuid, e.params.Tempo, b) + e.params.RevealPeriodEpochs
	return chain.BlockNumber((k+1)*(uint64(e.params.Tempo)+1) - uint64(e.netuid) - 2)
}

// advanceTo seals empty blocks up to and including b.
func (e *tlEnv) advanceTo(b chain.BlockNumber) {
	e.t.Helper()
	head, err := e.node.BlockNumber(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if b <= head {
		e.t.Fatalf("advance to %d: head is already %d", b, head)
	}
	if _, err := e.node.Advance(context.Background(), uint64(b-head)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *tlEnv) weights(uid chain.UID) string {
	e.t.Helper()
	w, err := e.node.Weights(context.Background(), e.netuid, uid)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprint(w)
}

func upscaled(uids, values []uint16) string {
	up := MaxUpscale(values)
	w := chain.Weights{}
	for i, u := range uids {
		w = append(w, chain.Weight{UID: chain.UID(u), Value: up[i]})
	}
	return fmt.Sprint(w)
}

// TestTimelockedReveal: commits stay hidden until the epoch block of their
// reveal epoch, where the chain decrypts them and sets the weights (and
// last_update) as set_weights would; a payload naming another hotkey is
// dropped; several pending commits are each revealed in their own epoch.
func TestTimelockedReveal(t *testing.T) {
	for _, tc := range []struct {
		name string
		node func(t *testing.T) Node
	}{
		{"in-process", func(t *testing.T) Node { return openTemp(t, Options{}) }},
		{"http", func(t *testing.T) Node { return serve(t, openTemp(t, Options{})) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newTLEnv(t, tc.node(t))
			wp, err := e.node.(chain.WeightParamsReader).WeightParams(ctx, e.netuid)
			if err != nil || !wp.CommitRevealEnabled || wp.CommitRevealVersion != timelock.CommitRevealVersion {
				t.Fatalf("weight params %+v, %v; want commit-reveal on, version 4", wp, err)
			}
			rowA, valA := []uint16{1, 2}, []uint16{100, 300}
			rowB, valB := []uint16{0, 2}, []uint16{5, 10}
			rowC, valC := []uint16{0, 1}, []uint16{7, 7}
			b0 := e.commit(0, -1, rowA, valA)
			e.commit(1, 2, rowC, valC) // claims hotkey 2: dropped
			e.commit(2, -1, rowC, valC)
			rb := e.revealBlock(b0)
			if err := e.node.SetStake(ctx, e.netuid, chaintest.Hotkey(0).AccountID(), 1e9); err != nil {
				t.Fatal(err)
			}
			// A second commit of hotkey 0, one epoch later, pending while the first is revealed.
			e.advanceTo(rb - 3)
			b1 := e.commit(0, -1, rowB, valB)
			e.advanceTo(rb - 1)
			for uid := range chain.UID(3) {
				if w := e.weights(uid); w != "[]" {
					t.Fatalf("uid %d has weights %s before the reveal epoch block %d", uid, w, rb)
				}
			}
			e.advanceTo(rb)
			if got, want := e.weights(0), upscaled(rowA, valA); got != want {
				t.Errorf("uid 0 weights after the reveal = %s, want %s", got, want)
			}
			if got, want := e.weights(2), upscaled(rowC, valC); got != want {
				t.Errorf("uid 2 weights after the reveal = %s, want %s", got, want)
			}
			if w := e.weights(1); w != "[]" {
				t.Errorf("uid 1 committed a payload naming another hotkey; weights %s, want none", w)
			}
			mg, err := e.node.Metagraph(ctx, e.netuid)
			if err != nil {
				t.Fatal(err)
			}
			if lu := mg.Neurons[0].LastUpdate; lu != rb {
				t.Errorf("uid 0 last_update %d, want the reveal block %d", lu, rb)
			}
			// The reveal comes before Yuma in the epoch block: its weights already count.
			if mg.Neurons[2].Incentive == 0 {
				t.Errorf("uid 2 has no incentive after the epoch of block %d; the revealed weights did not reach Yuma", rb)
			}
			rb1 := e.revealBlock(b1)
			if rb1 == rb {
				t.Fatalf("second commit at %d reveals at %d too; the test needs it one epoch later", b1, rb1)
			}
			e.advanceTo(rb1)
			if got, want := e.weights(0), upscaled(rowB, valB); got != want {
				t.Errorf("uid 0 weights after the second reveal = %s, want %s", got, want)
			}
		})
	}
}

// TestTimelockedRefused: commits the chain refuses outright, and commits
// that are taken but do not open or do not check at the reveal.
func TestTimelockedRefused(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	e := newTLEnv(t, c)
	e.params.Tempo = 99 // every commit below falls in one epoch
	if err := c.SetParams(ctx, e.netuid, e.params); err != nil {
		t.Fatal(err)
	}
	tl := c.As(chaintest.Hotkey(0)).(chain.TimelockedWeightSetter)
	ct, err := timelock.EncryptPayload(e.info.PublicKey, 10, &timelock.Payload{Hotkey: chaintest.Hotkey(0).AccountID(), UIDs: []uint16{1}, Values: []uint16{1}}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"version 3": func() error { _, err := tl.CommitTimelockedWeights(ctx, e.netuid, ct, 10, 3); return err },
		"round 0":   func() error { _, err := tl.CommitTimelockedWeights(ctx, e.netuid, ct, 0, 4); return err },
		"empty":     func() error { _, err := tl.CommitTimelockedWeights(ctx, e.netuid, nil, 10, 4); return err },
		"too large": func() error {
			_, err := tl.CommitTimelockedWeights(ctx, e.netuid, make([]byte, timelock.MaxCommitBytes+1), 10, 4)
			return err
		},
		"not registered": func() error {
			_, err := c.As(chaintest.Hotkey(9)).(chain.TimelockedWeightSetter).CommitTimelockedWeights(ctx, e.netuid, ct, 10, 4)
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: commit taken", name)
		}
	}
	// A hash-only subnet (version below 4) refuses timelocked commits.
	p := e.params
	p.CommitRevealVersion = 2
	if err := c.SetParams(ctx, e.netuid, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.CommitTimelockedWeights(ctx, e.netuid, ct, 10, 2); !errors.Is(err, chain.ErrCommitReveal) {
		t.Errorf("timelocked commit on a version 2 subnet: %v, want ErrCommitReveal", err)
	}
	if wp, _ := c.WeightParams(ctx, e.netuid); wp.CommitRevealVersion != 2 {
		t.Errorf("reported version %d, want 2", wp.CommitRevealVersion)
	}
	if err := c.SetParams(ctx, e.netuid, e.params); err != nil {
		t.Fatal(err)
	}
	// Taken but dropped at the reveal: another beacon's key, a version key
	// below the subnet's, a uid that does not exist.
	other, err := timelock.NewTestBeacon(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.info = other.Info()
	b := e.commit(0, -1, []uint16{1}, []uint16{1})
	e.loadBeacon()
	e.commit(1, -1, []uint16{7}, []uint16{1})
	p = e.params
	p.WeightsVersionKey = 5
	if err := c.SetParams(ctx, e.netuid, p); err != nil {
		t.Fatal(err)
	}
	e.params = p
	last := e.commit(2, -1, []uint16{0}, []uint16{1})
	if e.revealBlock(last) != e.revealBlock(b) {
		t.Fatalf("commits at %d and %d reveal in different epochs", b, last)
	}
	e.advanceTo(e.revealBlock(b))
	for uid := range chain.UID(3) {
		if w := e.weights(uid); w != "[]" {
			t.Errorf("uid %d: weights %s from a commit that should be dropped", uid, w)
		}
	}
	if n := len(c.st.Subnets[e.netuid].TLCommits); n != 0 {
		t.Errorf("%d commits still pending after their reveal epoch", n)
	}
}

// TestTimelockedRestart: the beacon and the pending commits survive a
// restart, and the commit is revealed by the reopened chain.
func TestTimelockedRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.log")
	c, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e := newTLEnv(t, c)
	before := e.info.PublicKey.Bytes()
	row, vals := []uint16{1, 2}, []uint16{3, 4}
	b := e.commit(0, -1, row, vals)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openTemp(t, Options{Path: path})
	e.node = c2
	e.loadBeacon()
	if !bytes.Equal(before, e.info.PublicKey.Bytes()) {
		t.Fatal("the beacon key changed across a restart")
	}
	other := openTemp(t, Options{})
	if bi, err := other.Beacon(ctx); err != nil || bytes.Equal(bi.PublicKey, before) {
		t.Errorf("another chain's beacon %x (%v): want a different key", bi.PublicKey, err)
	}
	e.advanceTo(e.revealBlock(b))
	if got, want := e.weights(0), upscaled(row, vals); got != want {
		t.Errorf("weights after restart and reveal = %s, want %s", got, want)
	}
}
