// Package chaintest is a conformance suite for chain backends, in the manner
// of testing/fstest: [Run] checks that a backend behaves like subtensor in
// what coldint relies on (block numbers and hashes, registration and the metagraph,
// commitments and their rate limit, weights and their normalisation, and
// the sentinel errors for unknown subnets and unregistered hotkeys).
//
// It runs against the embedded chain/devchain (in process and over HTTP)
// and against chain/substrate talking to the real runtime under chopsticks.
// Things only tests do (creating a subnet, registering, producing blocks)
// go through the backend's [Admin].
package chaintest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
)

// Admin does for the suite what needs sudo, a funded coldkey or waiting.
type Admin interface {
	// CreateSubnet creates a fresh subnet with at least 64 uid slots, a
	// weights rate limit of 0, weights version key 0, commit-reveal off,
	// no minimum number of weights and no stake needed to set weights.
	CreateSubnet(ctx context.Context) (chain.NetUID, error)
	// Register registers hotkey on netuid (paid by a coldkey of the
	// backend's choice) and makes sure the hotkey can sign transactions
	// (on a real runtime: fund it).
	Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.UID, error)
	// SetWeightsVersionKey sets the subnet's WeightsVersionKey.
	SetWeightsVersionKey(ctx context.Context, netuid chain.NetUID, key uint64) error
	// Advance produces n blocks. The suite asks for up to CommitRateLimit
	// (100) at once; a slow backend may produce them in chunks.
	Advance(ctx context.Context, n uint64) error
}

// Backend is the backend under test.
type Backend struct {
	// Reader reads chain state.
	Reader chain.Reader
	// As returns the backend seen by signer: its writes are signed by it.
	As func(signer chain.Signer) chain.Chain
	// Admin performs test-only setup.
	Admin Admin
	// CommitRateLimit is the number of blocks between two commitments of
	// one hotkey (100 on subtensor spec 218).
	CommitRateLimit uint64
	// SkipSlow skips the checks that need CommitRateLimit blocks produced.
	SkipSlow bool
	// Timeout bounds each subtest (default 2 minutes).
	Timeout time.Duration
}

// Hotkey returns the i-th test hotkey of the suite (//coldint-chaintest//i
// of the dev phrase). Backends may fund these ahead of time.
func Hotkey(i int) *keys.Pair {
	p, err := keys.FromURI(fmt.Sprintf("//coldint-chaintest//%d", i))
	if err != nil {
		panic(fmt.Sprintf("chaintest: derive hotkey %d: %v", i, err)) // fixed, valid URI
	}
	return p
}

// unknownNetuid is a netuid no test chain has.
const unknownNetuid chain.NetUID = 4242

// Run runs the suite. newBackend is called once; the subtests share the
// backend and one subnet (created on first use), run in order, and each
// registers hotkeys of its own, so that a slow backend (a real runtime)
// creates one subnet and about 20 registrations in all.
func Run(t *testing.T, newBackend func(t *testing.T) *Backend) {
	t.Helper()
	b := newBackend(t)
	if b == nil || b.Reader == nil || b.As == nil || b.Admin == nil {
		t.Fatal("chaintest: backend lacks Reader, As or Admin")
	}
	if b.Timeout == 0 {
		b.Timeout = 2 * time.Minute
	}
	s := &suite{b: b}
	tests := []struct {
		name string
		f    func(t *testing.T, ctx context.Context)
	}{
		{"BlockNumberIncreases", s.blockNumber},
		{"BlockHash", s.blockHash},
		{"UnknownNetuid", s.unknownNetuid},
		{"RegisterShowsInMetagraph", s.register},
		{"CommitAndRead", s.commitAndRead},
		{"CommitRateLimit", s.commitRateLimit},
		{"NotRegistered", s.notRegistered},
		{"MalformedCommitment", s.malformedCommitment},
		{"SetWeightsAndRead", s.setWeights},
		{"WeightsVersionKey", s.versionKey},
		{"InvalidWeights", s.invalidWeights},
		{"WeightParams", s.weightParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), b.Timeout)
			defer cancel()
			tc.f(t, ctx)
		})
	}
}

type suite struct {
	b      *Backend
	next   int // next hotkey index
	netuid chain.NetUID
	made   bool
}

// subnet returns the suite's subnet (creating it on first use) with n fresh
// hotkeys registered on it.
func (s *suite) subnet(t *testing.T, ctx context.Context, n int) (chain.NetUID, []*keys.Pair, []chain.UID) {
	t.Helper()
	if !s.made {
		netuid, err := s.b.Admin.CreateSubnet(ctx)
		if err != nil {
			t.Fatalf("create subnet: %v", err)
		}
		s.netuid, s.made = netuid, true
	}
	netuid := s.netuid
	var hks []*keys.Pair
	var uids []chain.UID
	for range n {
		hk := Hotkey(s.next)
		s.next++
		uid, err := s.b.Admin.Register(ctx, netuid, hk.AccountID())
		if err != nil {
			t.Fatalf("register %s on %d: %v", hk.Address(), netuid, err)
		}
		hks = append(hks, hk)
		uids = append(uids, uid)
	}
	return netuid, hks, uids
}

func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, targets)
		return
	}
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Errorf("%s: error %q does not wrap %v", what, err, targets)
}

func (s *suite) blockNumber(t *testing.T, ctx context.Context) {
	b1, err := s.b.Reader.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.b.Admin.Advance(ctx, 3); err != nil {
		t.Fatal(err)
	}
	b2, err := s.b.Reader.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b2 < b1+3 {
		t.Errorf("after advancing 3 blocks the head went from %d to %d", b1, b2)
	}
	netuid, hks, _ := s.subnet(t, ctx, 1)
	b3, err := s.b.As(hks[0]).Commit(ctx, netuid, "block-test")
	if err != nil {
		t.Fatal(err)
	}
	if b3 <= b2 {
		t.Errorf("commit included in block %d, not after head %d", b3, b2)
	}
	b4, err := s.b.Reader.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b4 < b3 {
		t.Errorf("head %d is before the inclusion block %d", b4, b3)
	}
}

// blockHash checks the block-hash read validators seed shared samples
// from: a final block's hash is stable, blocks differ, and a block beyond
// the head is not found.
func (s *suite) blockHash(t *testing.T, ctx context.Context) {
	r, ok := s.b.Reader.(chain.BlockHashReader)
	if !ok {
		t.Fatalf("reader %T does not read block hashes (chain.BlockHashReader)", s.b.Reader)
	}
	if err := s.b.Admin.Advance(ctx, 2); err != nil {
		t.Fatal(err)
	}
	head, err := s.b.Reader.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fin, err := r.FinalizedBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fin > head || fin < 1 {
		t.Fatalf("finalized block %d, head %d: want 1 ≤ finalized ≤ head", fin, head)
	}
	h1, err := r.BlockHash(ctx, uint64(fin))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[32]byte]uint64{}
	for n := uint64(fin); n+2 >= uint64(fin) && n <= uint64(fin); n-- {
		h, err := r.BlockHash(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if m, dup := seen[h]; dup || h == ([32]byte{}) {
			t.Errorf("blocks %d and %d have the hash %x: want distinct non-zero hashes", n, m, h)
		}
		seen[h] = n
	}
	if err := s.b.Admin.Advance(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if h2, err := r.BlockHash(ctx, uint64(fin)); err != nil || h2 != h1 {
		t.Errorf("hash of final block %d changed after a new block: %x then %x (%v)", fin, h1, h2, err)
	}
	_, err = r.BlockHash(ctx, uint64(head)+1_000_000)
	wantErr(t, "hash of a block beyond the head", err, chain.ErrNotFound)
}

func (s *suite) unknownNetuid(t *testing.T, ctx context.Context) {
	_, err := s.b.Reader.Metagraph(ctx, unknownNetuid)
	wantErr(t, "Metagraph", err, chain.ErrUnknownNetuid)
	_, err = s.b.Reader.Commitments(ctx, unknownNetuid)
	wantErr(t, "Commitments", err, chain.ErrUnknownNetuid)
	_, err = s.b.Reader.Commitment(ctx, unknownNetuid, Hotkey(0).AccountID())
	wantErr(t, "Commitment", err, chain.ErrUnknownNetuid)
	_, err = s.b.Reader.Weights(ctx, unknownNetuid, 0)
	wantErr(t, "Weights", err, chain.ErrUnknownNetuid)
	// Writes may fail on the subnet or on the (then missing) registration.
	hk := Hotkey(1000)
	_, err = s.b.As(hk).Commit(ctx, unknownNetuid, "x")
	wantErr(t, "Commit", err, chain.ErrUnknownNetuid, chain.ErrNotRegistered)
	_, err = s.b.As(hk).SetWeights(ctx, unknownNetuid, []chain.UID{0}, []uint16{1}, 0)
	wantErr(t, "SetWeights", err, chain.ErrUnknownNetuid, chain.ErrNotRegistered)
}

func (s *suite) register(t *testing.T, ctx context.Context) {
	netuid, hks, uids := s.subnet(t, ctx, 3)
	mg, err := s.b.Reader.Metagraph(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	if mg.Netuid != netuid {
		t.Errorf("metagraph netuid = %d, want %d", mg.Netuid, netuid)
	}
	for i, hk := range hks {
		n, ok := mg.ByHotkey(hk.AccountID())
		if !ok {
			t.Errorf("hotkey %s missing from the metagraph", hk.Address())
			continue
		}
		if n.UID != uids[i] {
			t.Errorf("hotkey %s has uid %d in the metagraph, Register said %d", hk.Address(), n.UID, uids[i])
		}
		if n.Netuid != netuid {
			t.Errorf("neuron netuid = %d", n.Netuid)
		}
		if byUID, ok := mg.ByUID(n.UID); !ok || byUID.Hotkey != n.Hotkey {
			t.Errorf("ByUID(%d) does not find %s", n.UID, hk.Address())
		}
	}
	if slices.ContainsFunc(uids[1:], func(u chain.UID) bool { return u == uids[0] }) || uids[1] == uids[2] {
		t.Errorf("uids are not distinct: %v", uids)
	}
	if head, err := s.b.Reader.BlockNumber(ctx); err == nil && mg.Block > head {
		t.Errorf("metagraph block %d after head %d", mg.Block, head)
	}
	_, err = s.b.Admin.Register(ctx, netuid, hks[0].AccountID())
	wantErr(t, "second registration", err, chain.ErrAlreadyRegistered)
}

func (s *suite) commitAndRead(t *testing.T, ctx context.Context) {
	netuid, hks, _ := s.subnet(t, ctx, 2)
	data := []string{
		"coldint:model-a:0123456789abcdef0123456789abcdef01234567:" + strings.Repeat("A", 43) + "=:c00",
		"coldint:model-b:89abcdef0123456789abcdef0123456789abcdef:" + strings.Repeat("B", 43) + "=:c01",
	}
	blocks := make([]chain.BlockNumber, 2)
	for i, hk := range hks {
		b, err := s.b.As(hk).Commit(ctx, netuid, data[i])
		if err != nil {
			t.Fatalf("commit by %s: %v", hk.Address(), err)
		}
		blocks[i] = b
	}
	for i, hk := range hks {
		c, err := s.b.Reader.Commitment(ctx, netuid, hk.AccountID())
		if err != nil {
			t.Fatalf("read commitment of %s: %v", hk.Address(), err)
		}
		if c.Data != data[i] || c.Block != blocks[i] || c.Hotkey != hk.AccountID() {
			t.Errorf("commitment of %s = %+v, want data %q at block %d", hk.Address(), c, data[i], blocks[i])
		}
		if _, err := chain.ParseModelID(c.Data); err != nil {
			t.Errorf("committed model id does not parse back: %v", err)
		}
	}
	all, err := s.b.Reader.Commitments(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[chain.Hotkey]int{}
	for _, c := range all {
		seen[c.Hotkey]++
	}
	for h, n := range seen {
		if n > 1 {
			t.Errorf("Commitments lists %s %d times", h, n)
		}
	}
	for i, hk := range hks {
		idx := slices.IndexFunc(all, func(c chain.Commitment) bool { return c.Hotkey == hk.AccountID() })
		if idx < 0 {
			t.Errorf("Commitments lacks %s", hk.Address())
		} else if all[idx].Data != data[i] || all[idx].Block != blocks[i] {
			t.Errorf("Commitments entry of %s = %+v", hk.Address(), all[idx])
		}
	}
}

func (s *suite) commitRateLimit(t *testing.T, ctx context.Context) {
	netuid, hks, _ := s.subnet(t, ctx, 1)
	a := s.b.As(hks[0])
	b1, err := a.Commit(ctx, netuid, "first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Commit(ctx, netuid, "second")
	wantErr(t, "commit inside the rate limit", err, chain.ErrRateLimited)
	c, err := s.b.Reader.Commitment(ctx, netuid, hks[0].AccountID())
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "first" || c.Block != b1 {
		t.Errorf("after a refused commit the commitment is %+v, want %q at %d", c, "first", b1)
	}
	if s.b.SkipSlow || s.b.CommitRateLimit == 0 {
		t.Log("skipping the rate limit expiry (slow backend or no limit)")
		return
	}
	if err := s.b.Admin.Advance(ctx, s.b.CommitRateLimit); err != nil {
		t.Fatal(err)
	}
	b3, err := a.Commit(ctx, netuid, "third")
	if err != nil {
		t.Fatalf("commit after %d blocks: %v", s.b.CommitRateLimit, err)
	}
	c, err = s.b.Reader.Commitment(ctx, netuid, hks[0].AccountID())
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "third" || c.Block != b3 {
		t.Errorf("after the rate limit the commitment is %+v, want %q at %d", c, "third", b3)
	}
}

func (s *suite) notRegistered(t *testing.T, ctx context.Context) {
	netuid, _, _ := s.subnet(t, ctx, 1)
	stranger := Hotkey(2000)
	_, err := s.b.As(stranger).Commit(ctx, netuid, "x")
	wantErr(t, "commit by an unregistered hotkey", err, chain.ErrNotRegistered)
	_, err = s.b.As(stranger).SetWeights(ctx, netuid, []chain.UID{0}, []uint16{65535}, 0)
	wantErr(t, "set weights by an unregistered hotkey", err, chain.ErrNotRegistered)
	_, err = s.b.Reader.Commitment(ctx, netuid, stranger.AccountID())
	wantErr(t, "commitment of an unregistered hotkey", err, chain.ErrNotFound)
	all, err := s.b.Reader.Commitments(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(all, func(c chain.Commitment) bool { return c.Hotkey == stranger.AccountID() }) {
		t.Errorf("Commitments lists the refused commitment of %s", stranger.Address())
	}
}

func (s *suite) malformedCommitment(t *testing.T, ctx context.Context) {
	netuid, hks, _ := s.subnet(t, ctx, 3)
	// The chain stores any data up to 128 bytes; readers must reject what
	// is not a model id with ErrMalformedCommitment.
	cases := []string{"not-a-model-id", "a:b:c:d", "ns:name:commit:hash:comp:extra"}
	for i, data := range cases {
		if _, err := s.b.As(hks[i]).Commit(ctx, netuid, data); err != nil {
			t.Fatalf("commit %q: %v", data, err)
		}
		c, err := s.b.Reader.Commitment(ctx, netuid, hks[i].AccountID())
		if err != nil {
			t.Fatal(err)
		}
		if c.Data != data {
			t.Errorf("read back %q, committed %q", c.Data, data)
		}
		_, err = chain.ParseModelID(c.Data)
		wantErr(t, fmt.Sprintf("ParseModelID(%q)", c.Data), err, chain.ErrMalformedCommitment)
	}
	// Over 128 bytes cannot be a Raw field.
	hk := Hotkey(s.next)
	s.next++
	if _, err := s.b.Admin.Register(ctx, netuid, hk.AccountID()); err != nil {
		t.Fatal(err)
	}
	_, err := s.b.As(hk).Commit(ctx, netuid, strings.Repeat("x", chain.MaxCommitmentLen+1))
	wantErr(t, "commit of 129 bytes", err, chain.ErrTooLarge)
	_, err = s.b.Reader.Commitment(ctx, netuid, hk.AccountID())
	wantErr(t, "commitment after a refused commit", err, chain.ErrNotFound)
}

func (s *suite) setWeights(t *testing.T, ctx context.Context) {
	netuid, hks, uids := s.subnet(t, ctx, 3)
	a := s.b.As(hks[0])
	cases := []struct {
		uids   []chain.UID
		values []uint16
		want   chain.Weights
	}{
		{uids[:2], []uint16{30000, 65535}, chain.Weights{{UID: uids[0], Value: 30000}, {UID: uids[1], Value: 65535}}},
		// The runtime max-upscales the row so that its largest value is 65535.
		{uids, []uint16{100, 200, 50}, chain.Weights{{UID: uids[0], Value: 32768}, {UID: uids[1], Value: 65535}, {UID: uids[2], Value: 16384}}},
		{uids[2:], []uint16{7}, chain.Weights{{UID: uids[2], Value: 65535}}},
	}
	// And what the SDK normalisation produces.
	nu, nv, err := chain.NormalizeWeights(uids, []float64{0.2, 0.3, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		uids   []chain.UID
		values []uint16
		want   chain.Weights
	}{nu, nv, chain.Weights{{UID: uids[0], Value: 26214}, {UID: uids[1], Value: 39321}, {UID: uids[2], Value: 65535}}})
	for _, c := range cases {
		b, err := a.SetWeights(ctx, netuid, c.uids, c.values, 0)
		if err != nil {
			t.Fatalf("set weights %v=%v: %v", c.uids, c.values, err)
		}
		got, err := s.b.Reader.Weights(ctx, netuid, uids[0])
		if err != nil {
			t.Fatal(err)
		}
		if !weightsEqual(got, c.want) {
			t.Errorf("weights after setting %v=%v: %v, want %v", c.uids, c.values, got, c.want)
		}
		mg, err := s.b.Reader.Metagraph(ctx, netuid)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := mg.ByUID(uids[0]); !ok || n.LastUpdate != b {
			t.Errorf("last_update of uid %d = %d, want the inclusion block %d", uids[0], n.LastUpdate, b)
		}
	}
	other, err := s.b.Reader.Weights(ctx, netuid, uids[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 0 {
		t.Errorf("uid %d set no weights but has %v", uids[1], other)
	}
}

// weightsEqual compares rows as uid → value maps (chain order may differ).
func weightsEqual(a, b chain.Weights) bool {
	if len(a) != len(b) {
		return false
	}
	ma := a.Map()
	for _, w := range b {
		if v, ok := ma[w.UID]; !ok || v != w.Value {
			return false
		}
	}
	return true
}

func (s *suite) versionKey(t *testing.T, ctx context.Context) {
	netuid, hks, uids := s.subnet(t, ctx, 2)
	if err := s.b.Admin.SetWeightsVersionKey(ctx, netuid, 1017); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.b.Admin.SetWeightsVersionKey(ctx, netuid, 0); err != nil {
			t.Errorf("reset the version key: %v", err)
		}
	}()
	a := s.b.As(hks[0])
	_, err := a.SetWeights(ctx, netuid, uids, []uint16{1, 2}, 1016)
	wantErr(t, "version key below the subnet's", err, chain.ErrBadVersionKey)
	if got, err := s.b.Reader.Weights(ctx, netuid, uids[0]); err != nil || len(got) != 0 {
		t.Errorf("refused weights were stored: %v, %v", got, err)
	}
	if _, err := a.SetWeights(ctx, netuid, uids, []uint16{1, 2}, 1017); err != nil {
		t.Errorf("version key equal to the subnet's: %v", err)
	}
	if _, err := a.SetWeights(ctx, netuid, uids, []uint16{1, 2}, 2000); err != nil {
		t.Errorf("version key above the subnet's: %v", err)
	}
}

func (s *suite) invalidWeights(t *testing.T, ctx context.Context) {
	netuid, hks, uids := s.subnet(t, ctx, 2)
	a := s.b.As(hks[0])
	_, err := a.SetWeights(ctx, netuid, []chain.UID{uids[0], 200}, []uint16{1, 2}, 0)
	wantErr(t, "weights for a uid that does not exist", err, chain.ErrInvalidWeights)
	_, err = a.SetWeights(ctx, netuid, []chain.UID{uids[0], uids[0]}, []uint16{1, 2}, 0)
	wantErr(t, "duplicate uids", err, chain.ErrInvalidWeights)
	_, err = a.SetWeights(ctx, netuid, uids, []uint16{1}, 0)
	wantErr(t, "unequal lengths", err, chain.ErrInvalidWeights)
	if got, err := s.b.Reader.Weights(ctx, netuid, uids[0]); err != nil || len(got) != 0 {
		t.Errorf("refused weights were stored: %v, %v", got, err)
	}
}

// weightParams reads the suite subnet's weight settings through
// chain.WeightParamsReader (skipped when the backend has none): the suite
// subnets have no rate limit and no commit-reveal.
func (s *suite) weightParams(t *testing.T, ctx context.Context) {
	r, ok := s.b.Reader.(chain.WeightParamsReader)
	if !ok {
		t.Skip("the backend does not read weight settings")
	}
	netuid, _, _ := s.subnet(t, ctx, 0)
	head, err := s.b.Reader.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.WeightParams(ctx, netuid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Block < head || p.Tempo == 0 || p.WeightsRateLimit != 0 || p.CommitRevealEnabled || p.RevealPeriodEpochs < 1 {
		t.Errorf("weight params %+v (head %d), want block ≥ head, a tempo, rate limit 0, commit-reveal off, reveal period ≥ 1", p, head)
	}
	if got, want := p.RevealEpoch(netuid, 0), chain.Epoch(netuid, p.Tempo, 0)+p.RevealPeriodEpochs; got != want {
		t.Errorf("reveal epoch of block 0 = %d, want %d", got, want)
	}
	_, err = r.WeightParams(ctx, unknownNetuid)
	wantErr(t, "WeightParams", err, chain.ErrUnknownNetuid)
}
