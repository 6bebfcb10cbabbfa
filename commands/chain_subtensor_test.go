package commands

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate"
	"github.com/coldint/coldint/chain/substrate/chopsticks"
	"github.com/coldint/coldint/internal/testenv"
)

// TestChainCommandsSubtensor runs the chain commands against the real
// subtensor runtime (spec 218) under chopsticks, through chain/substrate.
func TestChainCommandsSubtensor(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts a chopsticks node")
	}
	genesis := filepath.Join(testenv.Shared(t), "chain", "subtensor-spec218-raw.json")
	if _, err := os.Stat(genesis); err != nil {
		testenv.Missing(t, "genesis "+genesis+" is absent")
	}
	nm := testenv.NodeModules(t, "chain")
	nodeBin := testenv.Node(t)
	if _, err := os.Stat(chopsticks.Script(nm)); err != nil {
		testenv.Missing(t, "chopsticks is not installed (make setup-chain)")
	}
	dev := map[string]*keys.Pair{}
	for _, n := range []string{"Alice", "Bob", "Charlie", "Dave"} {
		p, err := keys.FromURI("//" + n)
		if err != nil {
			t.Fatal(err)
		}
		dev[n] = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	node, err := chopsticks.Start(ctx, chopsticks.Config{Genesis: genesis, NodeModules: nm, Node: nodeBin,
		Sudo: dev["Alice"].AccountID(), Funded: []chain.AccountID{dev["Alice"].AccountID(), dev["Bob"].AccountID(), dev["Charlie"].AccountID(), dev["Dave"].AccountID()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chopsticks output:\n%s", node.Output())
		}
		node.Stop()
	})

	// Setup with the library (what needs sudo): a subnet owned by Bob with
	// Charlie and Dave registered (Alice pays).
	c, err := substrate.Dial(ctx, node.URL, substrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sudo := c.WithSigner(dev["Alice"])
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	if _, err := sudo.Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", le64(0)); err != nil {
		t.Fatal(err)
	}
	netuid, err := sudo.RegisterNetwork(ctx, dev["Bob"].AccountID())
	if err != nil {
		t.Fatal(err)
	}
	nu := le16(uint16(netuid))
	for _, s := range []struct {
		name string
		args [][]byte
	}{
		{"sudo_set_weights_set_rate_limit", [][]byte{nu, le64(0)}},
		{"sudo_set_network_registration_allowed", [][]byte{nu, {1}}},
		{"sudo_set_target_registrations_per_interval", [][]byte{nu, le16(100)}},
		{"sudo_set_max_registrations_per_block", [][]byte{nu, le16(100)}},
		{"sudo_set_weights_min_stake", [][]byte{le64(0)}},
		{"sudo_set_min_allowed_weights", [][]byte{nu, le16(0)}},
		{"sudo_set_weights_version_key", [][]byte{nu, le64(1017)}},
	} {
		if _, err := sudo.Sudo(ctx, "AdminUtils", s.name, s.args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	uids := map[string]chain.UID{}
	for _, n := range []string{"Charlie", "Dave"} {
		uid, err := sudo.Register(ctx, netuid, dev[n].AccountID())
		if err != nil {
			t.Fatalf("register %s: %v", n, err)
		}
		uids[n] = uid
	}

	// Everything below goes through the CLI.
	wp := t.TempDir()
	wallet := func(name string) []string {
		return []string{"--wallet.path", wp, "--wallet.name", name}
	}
	for _, n := range []string{"Charlie", "Dave"} {
		mustRun(t, append([]string{"wallet", "new-hotkey", "--uri", "//" + n}, wallet(n)...)...)
	}
	ns := strconv.Itoa(int(netuid))
	ws := []string{"--network", node.URL, "--netuid", ns}

	out := mustRun(t, "chain", "info", "--json", "--network", node.HTTPURL)
	var info chainInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Kind != "subtensor" || info.SpecVersion != 218 || info.Block == 0 {
		t.Errorf("info: %+v", info)
	}

	modelID := "org:model:0123456789abcdef0123456789abcdef01234567:" + strings.Repeat("Q", 43) + "=:c00"
	out = mustRun(t, append(append([]string{"chain", "commit", "--data", modelID}, ws...), wallet("Charlie")...)...)
	if !strings.Contains(out, "committed by "+dev["Charlie"].Address()) {
		t.Errorf("commit printed %q", out)
	}
	_, stderr, code := coldint(t, append(append([]string{"chain", "commit", "--data", modelID}, ws...), wallet("Charlie")...)...)
	if code != ExitError || !strings.Contains(stderr, "rate limited") {
		t.Errorf("second commit: exit %d, %s", code, stderr)
	}
	out = mustRun(t, append([]string{"chain", "commitments", "--json"}, ws...)...)
	var rows []commitmentRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 1 || rows[0].Data != modelID || rows[0].ModelID == nil || rows[0].UID == nil || *rows[0].UID != uids["Charlie"] {
		t.Errorf("commitments: %+v", rows)
	}

	_, stderr, code = coldint(t, append(append([]string{"chain", "set-weights", "--uids", "1,2", "--weights", "1,1", "--version-key", "1000"}, ws...), wallet("Dave")...)...)
	if code != ExitError || !strings.Contains(stderr, "version key") {
		t.Errorf("set-weights with an old version key: exit %d, %s", code, stderr)
	}
	args := []string{"chain", "set-weights", "--uids", uidList(uids["Charlie"], uids["Dave"]), "--weights", "0.5,1", "--version-key", "1017"}
	mustRun(t, append(append(args, ws...), wallet("Dave")...)...)
	w, err := c.Weights(ctx, netuid, uids["Dave"])
	if err != nil {
		t.Fatal(err)
	}
	if m := w.Map(); len(w) != 2 || m[uids["Charlie"]] != 32768 || m[uids["Dave"]] != 65535 {
		t.Errorf("weights on chain: %v", w)
	}

	out = mustRun(t, append([]string{"chain", "metagraph", "--json"}, ws...)...)
	var mg chain.Metagraph
	if err := json.Unmarshal([]byte(out), &mg); err != nil {
		t.Fatal(err)
	}
	if n, ok := mg.ByHotkey(dev["Dave"].AccountID()); !ok || n.UID != uids["Dave"] || n.LastUpdate == 0 {
		t.Errorf("metagraph lacks Dave or his last update: %+v", mg.Neurons)
	}
	if _, ok := mg.ByHotkey(dev["Bob"].AccountID()); !ok {
		t.Errorf("metagraph lacks the owner hotkey Bob")
	}

	_, stderr, code = coldint(t, append([]string{"chain", "register", "--network", node.URL, "--netuid", ns}, wallet("Dave")...)...)
	if code != ExitUsage || !strings.Contains(stderr, "local chains only") {
		t.Errorf("register on subtensor: exit %d, %s", code, stderr)
	}
	_, stderr, code = coldint(t, "chain", "metagraph", "--network", node.URL, "--netuid", "4242")
	if code != ExitError || !strings.Contains(stderr, "unknown netuid") {
		t.Errorf("unknown netuid: exit %d, %s", code, stderr)
	}
}

func uidList(uids ...chain.UID) string {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = strconv.Itoa(int(u))
	}
	return strings.Join(s, ",")
}
