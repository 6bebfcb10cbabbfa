package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
)

// coldint runs the CLI with args and returns stdout, stderr and the exit code.
func coldint(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"coldint"}, args...), IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := coldint(t, args...)
	if code != 0 {
		t.Fatalf("coldint %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

func TestWalletNewHotkey(t *testing.T) {
	wp := t.TempDir()
	w := []string{"--wallet.path", wp, "--wallet.name", "miner", "--wallet.hotkey", "h1"}
	out := mustRun(t, append([]string{"wallet", "new-hotkey"}, w...)...)
	fields := strings.Fields(out)
	if len(fields) != 2 {
		t.Fatalf("new-hotkey printed %q, want address and path", out)
	}
	path := filepath.Join(wp, "miner", "hotkeys", "h1")
	if fields[1] != path {
		t.Errorf("path = %s, want %s", fields[1], path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	var kf map[string]any
	if err := json.Unmarshal(raw, &kf); err != nil {
		t.Fatal(err)
	}
	if kf["ss58Address"] != fields[0] {
		t.Errorf("file address %v, printed %s", kf["ss58Address"], fields[0])
	}
	// Nothing secret on either stream.
	for _, secret := range []string{kf["secretPhrase"].(string), strings.TrimPrefix(kf["secretSeed"].(string), "0x")} {
		if strings.Contains(out, secret) {
			t.Errorf("stdout shows a secret")
		}
	}
	// No overwrite without --overwrite.
	_, stderr, code := coldint(t, append([]string{"wallet", "new-hotkey"}, w...)...)
	if code != ExitError || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("second new-hotkey: %d %s", code, stderr)
	}
	out = mustRun(t, append([]string{"wallet", "new-hotkey", "--overwrite", "--uri", "//Bob"}, w...)...)
	if !strings.HasPrefix(out, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty\t") {
		t.Errorf("//Bob hotkey printed %q", out)
	}
	// wallet show.
	cold, _ := keys.FromURI("//Alice")
	cp := filepath.Join(wp, "miner", "coldkeypub.txt")
	if err := os.WriteFile(cp, []byte(`{"accountId":"`+cold.AccountID().Hex()+`","publicKey":"`+cold.AccountID().Hex()+`","ss58Address":"`+cold.Address()+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, append([]string{"wallet", "show", "--json"}, w...)...)
	var show walletShow
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatal(err)
	}
	if show.HotkeySS58 != "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty" || show.ColdkeySS58 != cold.Address() {
		t.Errorf("wallet show: %+v", show)
	}
	_, stderr, code = coldint(t, "wallet", "new-hotkey", "--wallet.path", wp, "--uri", "not a mnemonic at all")
	if code != ExitUsage || strings.Contains(stderr, "mnemonic at all") {
		t.Errorf("bad uri: %d %s", code, stderr)
	}
}

// localFlow runs the chain commands against network net and returns nothing;
// it fails the test on any unexpected result.
func localFlow(t *testing.T, network string) {
	wp := t.TempDir()
	net := []string{"--network", network}
	wallet := func(name string) []string {
		return []string{"--wallet.path", wp, "--wallet.name", name, "--wallet.hotkey", "default"}
	}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	mustRun(t, args([]string{"chain", "create-subnet", "--netuid", "29", "--commit-rate-limit", "100", "--weights-rate-limit", "0", "--weights-version-key", "1017"}, net)...)
	var hotkeys []string
	for _, name := range []string{"validator", "miner1", "miner2"} {
		out := mustRun(t, args([]string{"wallet", "new-hotkey"}, wallet(name))...)
		hotkeys = append(hotkeys, strings.Fields(out)[0])
		out = mustRun(t, args([]string{"chain", "register", "--netuid", "29"}, net, wallet(name))...)
		if !strings.Contains(out, "registered "+hotkeys[len(hotkeys)-1]) {
			t.Errorf("register printed %q", out)
		}
	}
	modelID := "org:model:0123456789abcdef0123456789abcdef01234567:" + strings.Repeat("Q", 43) + "=:c00"
	mustRun(t, args([]string{"chain", "commit", "--netuid", "29", "--data", modelID}, net, wallet("miner1"))...)
	mustRun(t, args([]string{"chain", "commit", "--netuid", "29", "--data", "garbage"}, net, wallet("miner2"))...)
	_, stderr, code := coldint(t, args([]string{"chain", "commit", "--netuid", "29", "--data", "again"}, net, wallet("miner1"))...)
	if code != ExitError || !strings.Contains(stderr, "rate limited") {
		t.Errorf("second commit: exit %d, %s", code, stderr)
	}
	out := mustRun(t, args([]string{"chain", "commitments", "--netuid", "29", "--json"}, net)...)
	var rows []commitmentRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("commitments json: %v\n%s", err, out)
	}
	if len(rows) != 2 {
		t.Fatalf("commitments: %+v", rows)
	}
	for _, r := range rows {
		switch r.Hotkey.String() {
		case hotkeys[1]:
			if r.Data != modelID || r.ModelID == nil || r.ModelID.Name != "model" || r.UID == nil || *r.UID != 1 {
				t.Errorf("miner1 row: %+v", r)
			}
		case hotkeys[2]:
			if r.Error == "" || r.ModelID != nil {
				t.Errorf("garbage commitment not flagged: %+v", r)
			}
		default:
			t.Errorf("unexpected row %+v", r)
		}
	}
	if out := mustRun(t, args([]string{"chain", "commitments", "--netuid", "29"}, net)...); !strings.Contains(out, "malformed") {
		t.Errorf("commitments table: %s", out)
	}
	_, stderr, code = coldint(t, args([]string{"chain", "set-weights", "--netuid", "29", "--uids", "1,2", "--weights", "0.75,0.25"}, net, wallet("validator"))...)
	if code != ExitError || !strings.Contains(stderr, "version key") {
		t.Errorf("set-weights without version key: exit %d, %s", code, stderr)
	}
	out = mustRun(t, args([]string{"chain", "set-weights", "--netuid", "29", "--uids", "1,2", "--weights", "0.75,0.25", "--version-key", "1017"}, net, wallet("validator"))...)
	if !strings.Contains(out, "values [65535 21845]") {
		t.Errorf("set-weights printed %q", out)
	}
	mustRun(t, args([]string{"chain", "set-stake", "--netuid", "29", "--tao", "1000.5"}, net, wallet("validator"))...)
	out = mustRun(t, args([]string{"chain", "metagraph", "--netuid", "29", "--json"}, net)...)
	var mg chain.Metagraph
	if err := json.Unmarshal([]byte(out), &mg); err != nil {
		t.Fatal(err)
	}
	if len(mg.Neurons) != 3 || mg.Neurons[0].Hotkey.String() != hotkeys[0] || mg.Neurons[0].LastUpdate == 0 ||
		mg.Neurons[0].Stake != 1000_500_000_000 || !mg.Neurons[0].ValidatorPermit || mg.Neurons[1].ValidatorPermit {
		t.Errorf("metagraph: %+v", mg)
	}
	if out := mustRun(t, args([]string{"chain", "metagraph", "--netuid", "29"}, net)...); !strings.Contains(out, hotkeys[2]) {
		t.Errorf("metagraph table lacks %s:\n%s", hotkeys[2], out)
	}
	mustRun(t, args([]string{"chain", "advance", "--blocks", "100"}, net)...)
	mustRun(t, args([]string{"chain", "commit", "--netuid", "29", "--data", "again"}, net, wallet("miner1"))...)
	out = mustRun(t, args([]string{"chain", "info", "--json"}, net)...)
	var info chainInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Kind != "devchain" || info.Block < 100 || len(info.Subnets) != 1 || info.Subnets[0].Neurons != 3 {
		t.Errorf("info: %+v", info)
	}
	// Errors: unknown netuid, unregistered hotkey, bad flags.
	_, stderr, code = coldint(t, args([]string{"chain", "metagraph", "--netuid", "7"}, net)...)
	if code != ExitError || !strings.Contains(stderr, "unknown netuid") {
		t.Errorf("unknown netuid: %d %s", code, stderr)
	}
	mustRun(t, args([]string{"wallet", "new-hotkey"}, wallet("stranger"))...)
	_, stderr, code = coldint(t, args([]string{"chain", "commit", "--netuid", "29", "--data", modelID}, net, wallet("stranger"))...)
	if code != ExitError || !strings.Contains(stderr, "not registered") {
		t.Errorf("unregistered commit: %d %s", code, stderr)
	}
	_, stderr, code = coldint(t, args([]string{"chain", "set-weights", "--netuid", "29", "--uids", "1,2", "--weights", "1"}, net, wallet("validator"))...)
	if code != ExitUsage {
		t.Errorf("mismatched weights: %d %s", code, stderr)
	}
	_, _, code = coldint(t, args([]string{"chain", "commit", "--netuid", "29", "--data", strings.Repeat("x", 129)}, net, wallet("miner1"))...)
	if code != ExitUsage {
		t.Errorf("129-byte commit: exit %d", code)
	}
	_, stderr, code = coldint(t, args([]string{"chain", "commit", "--netuid", "29", "--data", "x"}, net, wallet("nobody"))...)
	if code != ExitError || !strings.Contains(stderr, "new-hotkey") {
		t.Errorf("missing wallet: %d %s", code, stderr)
	}
}

func TestChainCommandsFile(t *testing.T) {
	localFlow(t, "file:"+filepath.Join(t.TempDir(), "chain.log"))
}

func TestChainServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.log")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"coldint", "chain", "serve", "--db", db, "--listen", "127.0.0.1:0", "--block-time", "0"},
			IO{In: strings.NewReader(""), Out: pw, Err: &errb})
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
				lines <- url
			}
		}
		close(lines)
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("chain serve did not start")
	}
	if url == "" {
		cancel()
		t.Fatalf("chain serve exited: %s", errb.String())
	}
	t.Run("flow", func(t *testing.T) { localFlow(t, "local+"+url) })
	// While served, the file is locked against a second opener.
	_, stderr, code := coldint(t, "chain", "info", "--network", "file:"+db)
	if code != ExitError || !strings.Contains(stderr, "in use") {
		t.Errorf("file open while served: %d %s", code, stderr)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("chain serve did not stop")
	}
	// The chain outlives the server.
	out := mustRun(t, "chain", "info", "--json", "--network", "file:"+db)
	var info chainInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || len(info.Subnets) != 1 {
		t.Errorf("after serve: %+v %v", info, err)
	}
}

func TestChainUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"chain", "info", "--network", "gopher://x"}, ExitUsage, "--network"},
		{[]string{"chain", "info", "--network", "local+ftp://x"}, ExitUsage, "local+"},
		{[]string{"chain", "serve", "--listen", "0.0.0.0:9944"}, ExitUsage, "loopback"},
		{[]string{"chain", "metagraph", "--network", "file:" + filepath.Join(t.TempDir(), "c.log"), "--netuid", "70000"}, ExitUsage, "65535"},
		{[]string{"chain", "info", "--network", "local+http://127.0.0.1:1"}, ExitError, "dial devchain"},
	}
	for _, c := range cases {
		_, stderr, code := coldint(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	kinds := map[string]string{"local": "devchain-url", "finney": "substrate", "test": "substrate", "ws://127.0.0.1:9944": "substrate",
		"./x.log": "devchain-file", "file:/tmp/x": "devchain-file", "https://node": "substrate"}
	for in, want := range kinds {
		if k, _, err := networkKind(in); err != nil || k != want {
			t.Errorf("networkKind(%q) = %q, %v; want %q", in, k, err, want)
		}
	}
	if _, target, _ := networkKind("finney"); target != finneyURL {
		t.Errorf("finney = %s", target)
	}
}

func FuzzParseWeights(f *testing.F) {
	f.Add("0,1,2", "0.2,0.3,0.5")
	f.Add("65535", "1e308")
	f.Add("1,,2", "NaN,1")
	f.Add("-1", "-0")
	f.Fuzz(func(t *testing.T, uids, weights string) {
		u, w, err := parseWeights(uids, weights)
		if err != nil {
			return
		}
		if len(u) != len(w) || len(u) == 0 {
			t.Fatalf("parsed %d uids and %d weights without error", len(u), len(w))
		}
		nu, nv, err := chain.NormalizeWeights(u, w)
		if err == nil && len(nu) != len(nv) {
			t.Fatalf("normalised %d uids and %d values", len(nu), len(nv))
		}
		_, _, _ = networkKind(uids)
	})
}
