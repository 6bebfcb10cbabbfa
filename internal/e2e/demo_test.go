package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/internal/testenv"
)

// TestDemo runs `coldint demo` end to end (short training), checks what it
// left, serves the folder and, when the browser is installed, walks the web
// app over it.
func TestDemo(t *testing.T) {
	for _, p := range []string{"/usr/share/doc/jargon-text/jargon.txt.gz", "/usr/share/dictd/devil.dict.dz"} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "corpus Debian packages are not installed (make setup-data): "+p)
		}
	}
	dir := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, coldintBin(t), "demo", "--dir", dir, "--miners", "3", "--steps", "2", "--train-steps", "6", "--threads", "2")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"built the public-domain corpus", "created subnet", "local hub server", "registered the validator",
		"miner2: surgery on miner1's model", "miner3: copied", "validator step 2 of 2", "Leaderboard of c00", "coldint serve --state"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	var res demorun.Result
	b, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Miners) != 3 || res.Steps != 2 {
		t.Fatalf("demo result %+v", res)
	}
	uids := map[int]bool{}
	for _, m := range res.Miners {
		if m.Commit == "" || m.Block == 0 {
			t.Errorf("miner %+v was not published", m)
		}
	}
	// The copy (miner3) is discarded by the validator's copy detection; the
	// other two are ranked.
	for _, row := range res.Leaderboard {
		uids[int(row.UID)] = true
		if row.Loss == nil || *row.Loss <= 0 {
			t.Errorf("row %+v has no loss", row)
		}
	}
	if len(res.Leaderboard) != 2 || !uids[int(res.Miners[0].UID)] || !uids[int(res.Miners[1].UID)] || uids[int(res.Miners[2].UID)] {
		t.Fatalf("leaderboard %+v", res.Leaderboard)
	}
	if !strings.Contains(out, "not evaluated: copy") {
		t.Errorf("the copy's rejection is not reported:\n%s", out)
	}
	for _, p := range []string{"README.txt", "competitions.json", "chain/devchain.log", "steps/step-001.json", "steps/step-002.json",
		"validator/vali-state/validator_state.json", "corpus/manifest.json", "tokenizer/tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("demo left no %s: %v", p, err)
		}
	}
	// The folder is what `coldint serve` reads.
	base := startServe(t, dir)
	lb := apiLeaderboard(t, base)
	if len(lb.Rows) != 2 || lb.Rows[0].UID != res.Leaderboard[0].UID || len(lb.Rejected) != 1 {
		t.Fatalf("served leaderboard %+v, demo %+v", lb, res.Leaderboard)
	}
	if os.Getenv(testenv.RequireVar) == "" {
		if _, err := os.Stat(chromiumPath); err != nil {
			return
		}
	}
	needBrowser(t)
	checkBrowser(t, runBrowser(t, base, "demo"), lb)
}

// TestDemoRefusesWalletFolder points the binary's demo at a folder holding a
// wallet (as ~/.bittensor would): it must exit with an error naming the folder
// and leave the wallet byte for byte.
func TestDemoRefusesWalletFolder(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "wallets", "default", "hotkeys", "default")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(`{"secretSeed":"0x02"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(coldintBin(t), "demo", "--dir", dir, "--miners", "2", "--steps", "1", "--train-steps", "1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), dir) || !strings.Contains(string(out), demorun.MarkerFile) {
		t.Fatalf("demo in a wallet folder: err = %v, output:\n%s", err, out)
	}
	if b, err := os.ReadFile(key); err != nil || string(b) != `{"secretSeed":"0x02"}` {
		t.Fatalf("wallet after the demo: %q, %v", b, err)
	}
}
