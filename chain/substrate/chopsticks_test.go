package substrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate/chopsticks"
	"github.com/coldint/coldint/internal/testenv"
)

// devPairs derives //Alice... with chain/keys.
func devPairs(t testing.TB, names ...string) map[string]*keys.Pair {
	t.Helper()
	out := map[string]*keys.Pair{}
	for _, n := range names {
		p, err := keys.FromURI("//" + n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = p
	}
	return out
}

// shared is the one chopsticks node of this test binary (started on first
// use, stopped by TestMain), shared by TestChopsticks and TestConformance.
var shared struct {
	once sync.Once
	node *chopsticks.Node
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.node != nil {
		shared.node.Stop()
	}
	os.Exit(code)
}

// sharedChopsticks returns the node running the real subtensor runtime
// (spec 218) with Alice as sudo and the dev and chaintest accounts funded,
// or skips (fails under COLDINT_TEST_REQUIRE_DEPS) when a piece is missing.
func sharedChopsticks(t *testing.T) *chopsticks.Node {
	t.Helper()
	genesis := filepath.Join(testenv.Shared(t), "chain", "subtensor-spec218-raw.json")
	if _, err := os.Stat(genesis); err != nil {
		testenv.Missing(t, "genesis "+genesis+" is absent")
	}
	nm := testenv.NodeModules(t, "chain")
	node := testenv.Node(t)
	if _, err := os.Stat(chopsticks.Script(nm)); err != nil {
		testenv.Missing(t, "chopsticks is not installed (make setup-chain)")
	}
	shared.once.Do(func() {
		var funded []chain.AccountID
		for _, p := range devPairs(t, "Alice", "Bob", "Charlie", "Dave", "Eve") {
			funded = append(funded, p.AccountID())
		}
		for _, i := range append(seq(64), 1000, 2000) {
			funded = append(funded, chaintest.Hotkey(i).AccountID())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		shared.node, shared.err = chopsticks.Start(ctx, chopsticks.Config{Genesis: genesis, NodeModules: nm, Node: node,
			Sudo: devPairs(t, "Alice")["Alice"].AccountID(), Funded: funded})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chopsticks output (tail):\n%s", shared.node.Output())
		}
	})
	return shared.node
}

func le16(v uint16) []byte { return u16le(v) }
func le64(v uint64) []byte { return u64le(v) }
func boolb(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// TestChopsticks runs the acceptance flow against the real subtensor
// runtime: everything below goes through this package's client.
func TestChopsticks(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts a chopsticks node")
	}
	v := loadVectors(t)
	ks := devPairs(t, "Alice", "Bob", "Charlie", "Dave", "Eve")
	node := sharedChopsticks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	c, err := Dial(ctx, node.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Runtime facts and metadata against the vectors taken from the same runtime.
	spec, txv, genesis, err := c.RuntimeInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if spec != v.Live.Runtime.SpecVersion || txv != v.Live.Runtime.TxVersion {
		t.Fatalf("runtime %d/%d, want %d/%d", spec, txv, v.Live.Runtime.SpecVersion, v.Live.Runtime.TxVersion)
	}
	eqHex(t, "genesis", genesis[:], v.Live.GenesisHash)
	var rawMeta string
	if err := c.Call(ctx, &rawMeta, "state_getMetadata"); err != nil {
		t.Fatal(err)
	}
	mb, _ := parseHex(rawMeta)
	mh := Blake2_256(mb)
	if len(mb) != v.Live.MetadataV14.Bytes {
		t.Errorf("metadata %d bytes, want %d", len(mb), v.Live.MetadataV14.Bytes)
	}
	eqHex(t, "metadata blake2", mh[:], v.Live.MetadataV14.Blake)
	m, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var exts []string
	for _, e := range m.Extensions {
		exts = append(exts, e.Identifier)
	}
	if strings.Join(exts, ",") != strings.Join(v.Live.SignedExtensions, ",") {
		t.Errorf("extensions %v, want %v", exts, v.Live.SignedExtensions)
	}
	t.Run("metadata vectors", func(t *testing.T) {
		alice := ks["Alice"].AccountID()
		for name, args := range map[string][][]byte{
			"set_weights":     {le16(29), vecU16([]uint16{0, 1, 5}), vecU16([]uint16{65535, 32768, 1}), le64(1000)},
			"set_commitment":  {le16(29), mustInfo(t, "coldint:deadbeefcafe0123")},
			"burned_register": {le16(29), alice[:]},
			"commit_weights":  {le16(29), unhex(t, v.Calls["commit_weights"].Args["commit_hash"].(string))},
			"reveal_weights":  {le16(29), vecU16([]uint16{0, 1, 5}), vecU16([]uint16{65535, 32768, 1}), vecU16([]uint16{1, 2, 3, 4, 5, 6, 7, 8}), le64(1000)},
			"serve_axon":      {le16(29), {1, 0, 0, 0}, append([]byte{4, 3, 2, 1}, make([]byte, 12)...), le16(8091), {4}, {0}, {0}, {0}},
		} {
			pallet := "SubtensorModule"
			if name == "set_commitment" {
				pallet = "Commitments"
			}
			call, err := m.BuildCall(pallet, name, args...)
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, name, call, v.Calls[name].Hex)
		}
		if _, _, err := m.Call("SubtensorModule", "commit_timelocked_weights"); err == nil {
			t.Error("spec 218 should not have commit_timelocked_weights")
		}
		checked := 0
		for _, k := range v.StorageKeys {
			e, err := m.Storage(k.Pallet, k.Item)
			if err != nil {
				continue // HEAD-only items
			}
			if len(e.Hashers) != len(k.Hashers) {
				t.Errorf("%s.%s: %d hashers in metadata, vector has %d", k.Pallet, k.Item, len(e.Hashers), len(k.Hashers))
				continue
			}
			var args [][]byte
			for _, a := range k.Args {
				args = append(args, unhex(t, a))
			}
			key, err := m.StorageKey(k.Pallet, k.Item, args...)
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, k.Pallet+"."+k.Item, key, k.Key)
			checked++
		}
		for _, k := range v.Live.StorageKeyCheck {
			pallet, item, _ := strings.Cut(k.Item, ".")
			e, err := m.Storage(pallet, item)
			if k.Status != "same" {
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", k.Item, err)
				continue
			}
			var names []string
			for _, h := range e.Hashers {
				names = append(names, h.String())
			}
			if strings.Join(names, ",") != strings.Join(k.Hashers, ",") {
				t.Errorf("%s hashers %v, vector says %v", k.Item, names, k.Hashers)
			}
		}
		if checked < 30 {
			t.Errorf("only %d storage keys found in metadata", checked)
		}
	})

	sudo := c.WithSigner(ks["Alice"])
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = sudo.Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", le64(0))
	step("sudo_set_network_rate_limit", err)

	// A non-sudo signer is refused with a clear error.
	_, err = c.WithSigner(ks["Bob"]).Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", le64(0))
	if !errors.Is(err, chain.ErrBadOrigin) && !errors.Is(err, chain.ErrDispatchFailed) {
		t.Errorf("sudo by Bob: err = %v", err)
	} else {
		t.Logf("sudo by Bob: %v", err)
	}

	netuid, err := sudo.RegisterNetwork(ctx, ks["Bob"].AccountID())
	step("register_network", err)
	t.Logf("created subnet %d", netuid)
	nu := le16(uint16(netuid))
	var setup [][]byte
	for _, s := range []struct {
		name string
		args [][]byte
	}{
		{"sudo_set_weights_set_rate_limit", [][]byte{nu, le64(0)}},
		{"sudo_set_network_registration_allowed", [][]byte{nu, boolb(true)}},
		{"sudo_set_target_registrations_per_interval", [][]byte{nu, le16(100)}},
		{"sudo_set_max_registrations_per_block", [][]byte{nu, le16(100)}},
		{"sudo_set_weights_min_stake", [][]byte{le64(0)}},
		{"sudo_set_tempo", [][]byte{nu, le16(10)}},
	} {
		call, err := m.BuildCall("AdminUtils", s.name, s.args...)
		step(s.name, err)
		setup = append(setup, call)
	}
	_, err = sudo.SudoBatch(ctx, setup...)
	step("sudo batch", err)

	uidC, err := sudo.Register(ctx, netuid, ks["Charlie"].AccountID())
	step("register Charlie", err)
	uidD, err := sudo.Register(ctx, netuid, ks["Dave"].AccountID())
	step("register Dave", err)
	if uidC == uidD {
		t.Fatalf("same uid %d for two hotkeys", uidC)
	}
	_, err = sudo.Register(ctx, netuid, ks["Dave"].AccountID())
	if !errors.Is(err, chain.ErrAlreadyRegistered) {
		t.Errorf("second registration: err = %v", err)
	}

	// Commit and read back.
	charlie := c.WithSigner(ks["Charlie"])
	data := "myorg:mymodel:" + strings.Repeat("ab", 20) + ":" + strings.Repeat("Q", 43) + "=:c00"
	blk, err := charlie.Commit(ctx, netuid, data)
	step("commit", err)
	got, err := c.Commitment(ctx, netuid, ks["Charlie"].AccountID())
	step("read commitment", err)
	if got.Data != data || got.Block != blk || got.Hotkey != ks["Charlie"].AccountID() {
		t.Errorf("commitment = %+v, want data %q block %d", got, data, blk)
	}
	if id, err := chain.ParseModelID(got.Data); err != nil || id.Competition != "c00" {
		t.Errorf("parse read-back: %v %v", id, err)
	}
	all, err := c.Commitments(ctx, netuid)
	step("read commitments", err)
	if len(all) != 1 || all[0] != got {
		t.Errorf("commitments = %+v", all)
	}

	// The second commit inside 100 blocks hits the rate limit.
	_, err = charlie.Commit(ctx, netuid, data)
	if !errors.Is(err, chain.ErrRateLimited) || !strings.Contains(err.Error(), "CommitmentSetRateLimitExceeded") {
		t.Errorf("second commit: err = %v, want rate limited", err)
	} else {
		t.Logf("rate limit: %v", err)
	}
	// Unregistered hotkey.
	_, err = c.WithSigner(ks["Eve"]).Commit(ctx, netuid, data)
	if !errors.Is(err, chain.ErrNotRegistered) {
		t.Errorf("commit by unregistered Eve: err = %v", err)
	} else {
		t.Logf("unregistered: %v", err)
	}
	if _, err := c.Commitment(ctx, netuid, ks["Dave"].AccountID()); !errors.Is(err, chain.ErrNotFound) {
		t.Errorf("missing commitment: err = %v", err)
	}

	// Weights, normalised as the SDK does.
	uids, vals, err := chain.NormalizeWeights([]chain.UID{0, uidC, uidD}, []float64{0.2, 0.3, 0.5})
	step("normalize", err)
	wblk, err := charlie.SetWeights(ctx, netuid, uids, vals, 0)
	step("set_weights", err)
	row, err := c.Weights(ctx, netuid, uidC)
	step("read weights", err)
	if len(row) != len(uids) {
		t.Fatalf("weights row %v, want uids %v values %v", row, uids, vals)
	}
	for i := range row {
		if row[i].UID != uids[i] || row[i].Value != vals[i] {
			t.Errorf("weights row %v, want uids %v values %v", row, uids, vals)
		}
	}
	// Version key.
	_, err = sudo.Sudo(ctx, "AdminUtils", "sudo_set_weights_version_key", nu, le64(1017))
	step("sudo_set_weights_version_key", err)
	if _, err := charlie.SetWeights(ctx, netuid, uids, vals, 1000); !errors.Is(err, chain.ErrBadVersionKey) {
		t.Errorf("set_weights with old version key: err = %v", err)
	} else {
		t.Logf("version key: %v", err)
	}
	if _, err := charlie.SetWeights(ctx, netuid, []chain.UID{0, 0}, []uint16{1, 2}, 1017); !errors.Is(err, chain.ErrInvalidWeights) {
		t.Errorf("duplicate uids: err = %v", err)
	}
	if _, err := c.WithSigner(ks["Eve"]).SetWeights(ctx, netuid, uids, vals, 1017); !errors.Is(err, chain.ErrNotRegistered) {
		t.Errorf("set_weights by unregistered Eve: err = %v", err)
	}

	// Metagraph.
	mg, err := c.Metagraph(ctx, netuid)
	step("metagraph", err)
	if len(mg.Neurons) != 3 || mg.Netuid != netuid || mg.Block == 0 {
		t.Fatalf("metagraph = %+v", mg)
	}
	nc, ok := mg.ByHotkey(ks["Charlie"].AccountID())
	if !ok || nc.UID != uidC || nc.Coldkey != ks["Alice"].AccountID() || nc.LastUpdate != wblk {
		t.Errorf("Charlie in metagraph = %+v (want uid %d, last update %d)", nc, uidC, wblk)
	}
	if owner, ok := mg.ByUID(0); !ok || owner.Hotkey != ks["Bob"].AccountID() {
		t.Errorf("uid 0 = %+v, want Bob", owner)
	}

	// Unknown subnet.
	if _, err := c.Metagraph(ctx, 999); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("metagraph of 999: %v", err)
	}
	if _, err := c.Commitment(ctx, 999, ks["Charlie"].AccountID()); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("commitment on 999: %v", err)
	}
	if _, err := c.Commitments(ctx, 999); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("commitments on 999: %v", err)
	}
	if _, err := c.Weights(ctx, 999, 0); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("weights on 999: %v", err)
	}
	if _, err := charlie.Commit(ctx, 999, data); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("commit on subnet 999: %v", err)
	} else {
		t.Logf("commit on 999: %v", err)
	}

	// HTTP transport: reads and a write (Dave commits).
	hc, err := Dial(ctx, node.HTTPURL, Options{})
	step("dial http", err)
	defer hc.Close()
	if n, err := hc.BlockNumber(ctx); err != nil || n < mg.Block {
		t.Errorf("http block number %d, %v", n, err)
	}
	if _, err := hc.WithSigner(ks["Dave"]).Commit(ctx, netuid, "dave:model:c:h:c00"); err != nil {
		t.Errorf("http commit: %v", err)
	}
	if got, err := hc.Commitment(ctx, netuid, ks["Dave"].AccountID()); err != nil || got.Data != "dave:model:c:h:c00" {
		t.Errorf("http read-back %+v %v", got, err)
	}

	// Two clients signing as Alice, one right after the other: the second
	// has no local nonce and must cope with a lagging next index.
	for i, cl := range []*Client{sudo, hc.WithSigner(ks["Alice"]), sudo} {
		if _, err := cl.Sudo(ctx, "AdminUtils", "sudo_set_tempo", nu, le16(10)); err != nil {
			t.Errorf("sudo from client %d: %v", i, err)
		}
	}

	hp, err := c.Hyperparams(ctx, netuid)
	step("hyperparams", err)
	if hp.Tempo != 10 || hp.WeightsVersionKey != 1017 || hp.WeightsRateLimit != 0 || hp.CommitRevealEnabled || hp.SubnetworkN != 3 || hp.MaxAllowedUids < 3 {
		t.Errorf("hyperparams = %+v", hp)
	}
	if _, err := c.Hyperparams(ctx, 999); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("hyperparams of 999: %v", err)
	}

	// RPC errors come back as *RPCError.
	var rpcErr *RPCError
	if err := c.Call(ctx, nil, "no_such_method"); !errors.As(err, &rpcErr) {
		t.Errorf("unknown method: %v", err)
	}

	// Commit-reveal (hash variant).
	t.Run("commit-reveal", func(t *testing.T) {
		_, err := sudo.Sudo(ctx, "AdminUtils", "sudo_set_commit_reveal_weights_enabled", nu, boolb(true))
		step("enable commit-reveal", err)
		// Short epochs so the reveal window comes after a few blocks.
		_, err = sudo.Sudo(ctx, "AdminUtils", "sudo_set_tempo", nu, le16(2))
		step("sudo_set_tempo", err)
		if _, err := charlie.SetWeights(ctx, netuid, uids, vals, 1017); !errors.Is(err, chain.ErrCommitRevealEnabled) {
			t.Errorf("set_weights with commit-reveal on: %v", err)
		}
		salt := []uint16{1, 2, 3, 4}
		h := chain.CommitHash(ks["Charlie"].AccountID(), netuid, uids, vals, salt, 1017)
		_, err = charlie.CommitWeights(ctx, netuid, h)
		step("commit_weights", err)
		// Reveal once the reveal epoch starts; earlier tries fail with RevealTooEarly.
		for i := 0; ; i++ {
			_, err = charlie.RevealWeights(ctx, netuid, uids, vals, salt, 1017)
			if err == nil || !strings.Contains(err.Error(), "RevealTooEarly") || i >= 40 {
				break
			}
			if !errors.Is(err, chain.ErrCommitReveal) {
				t.Fatalf("reveal: %v", err)
			}
		}
		step("reveal_weights", err)
	})

	// Dropped connections and RPC errors of the transports are covered
	// against fake servers in rpc_test.go.
}
