package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/web"
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
		"miner2: surgery on miner1's model", "miner3: copied", "validator step 2 of 2", "Leaderboard of c00", "coldint serve --state",
		"miner2 (surgery) (uid 2): published", "note: model discarded: uid 3 (miner3 (copy))", "Weights the validator set on chain", demorun.LogFile} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// The printed validate line is one --config file; every key in it is a
	// flag of validate (config dump refuses unknown ones).
	cfgPath := filepath.Join(dir, demorun.ValidatorConfig)
	if !strings.Contains(out, "validate --config "+cfgPath) {
		t.Errorf("demo output lacks the validate --config line")
	}
	dump, err := exec.Command(coldintBin(t), "--config", cfgPath, "config", "dump", "validate").CombinedOutput()
	if err != nil || !strings.Contains(string(dump), "network: file:") || !strings.Contains(string(dump), "max-steps: \"1\"") && !strings.Contains(string(dump), "max-steps: 1") {
		t.Errorf("config dump of %s: %v\n%s", cfgPath, err, dump)
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
	if !strings.Contains(out, "miner3 (copy) (uid 3) not evaluated: copy: the same content was first served by miner1") {
		t.Errorf("the copy's rejection is not reported by name:\n%s", out)
	}
	checkStory(t, dir, out, stderr.String(), res)
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
	br := runBrowser(t, base, "demo")
	checkBrowser(t, br, lb)
	checkDemoBrowser(t, br, lb, res)
}

// checkStory checks what the demo told: names instead of hotkeys, weights
// in percent, no raw log lines, and validator steps that score fresh
// samples so that the losses move.
func checkStory(t *testing.T, dir, out, stderr string, res demorun.Result) {
	t.Helper()
	for _, hk := range []string{res.Validator.Hotkey, res.Miners[0].Hotkey, res.Miners[1].Hotkey, res.Miners[2].Hotkey} {
		if hk == "" || strings.Contains(out, hk) {
			t.Errorf("the report shows hotkey %q (or it is unknown)", hk)
		}
	}
	if strings.Contains(out, "level=") || strings.Contains(stderr, "level=") {
		t.Errorf("raw log lines in the report or on stderr:\n%s\n%s", out, stderr)
	}
	if !regexp.MustCompile(`win rate \d+\.\d%\s+weight \d+\.\d%`).MatchString(out) {
		t.Errorf("step lines do not show weights in percent:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, demorun.LogFile)); err != nil || !strings.Contains(string(b), "model discarded") {
		t.Errorf("%s: %v", demorun.LogFile, err)
	}
	var loss [2]float64
	for s := 1; s <= 2; s++ {
		var rep eval.StepReport
		b, err := os.ReadFile(filepath.Join(dir, "steps", fmt.Sprintf("step-%03d.json", s)))
		if err != nil || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		if rep.Forward == 0 {
			t.Errorf("step %d evaluated nothing (0 forward passes)", s)
		}
		for _, u := range rep.UIDs {
			if u.UID == res.Miners[0].UID {
				loss[s-1] = float64(u.LossPTAvg)
			}
		}
	}
	if !(loss[0] > 0) || !(loss[1] > 0) || loss[0] == loss[1] {
		t.Errorf("miner1's loss/token over the steps: %v, want two different measured values", loss)
	}
}

// demoBrowser is what the browser driver saw beyond [browserResult]
// (tools/webtest writes it to result.json beside the screenshots).
type demoBrowser struct {
	Ranking []struct {
		Competition string `json:"competition"`
		Rows        []struct {
			UID     int    `json:"uid"`
			Rank    int    `json:"rank"`
			Name    string `json:"name"`
			Loss    string `json:"loss"`
			WinRate string `json:"winRate"`
			Weight  string `json:"weight"`
		} `json:"rows"`
		Rejected []struct {
			UID    int    `json:"uid"`
			Name   string `json:"name"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	} `json:"ranking"`
	ScoringPanel  string `json:"scoringPanel"`
	RejectedPages []struct {
		UID    int    `json:"uid"`
		Status int    `json:"status"`
		Reason string `json:"reason"`
	} `json:"rejectedPages"`
	LeaderboardCharts []browserChart `json:"leaderboardCharts"`
	ModelCharts       []browserChart `json:"modelCharts"`
}

type browserChart struct {
	Title   string    `json:"title"`
	Caption string    `json:"caption"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	YTicks  []string  `json:"yticks"`
	Points  []float64 `json:"points"`
}

// checkDemoBrowser compares the index's ranking, the rejected model's page
// and the charts' axes with the API.
func checkDemoBrowser(t *testing.T, br browserResult, lb web.Leaderboard, res demorun.Result) {
	t.Helper()
	if len(br.Screenshots) == 0 {
		t.Fatal("no screenshots, no result.json")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(br.Screenshots[0]), "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r demoBrowser
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Ranking) != 1 || r.Ranking[0].Competition != "c00" || len(r.Ranking[0].Rows) != len(lb.Rows) {
		t.Fatalf("index ranking %+v, API %+v", r.Ranking, lb.Rows)
	}
	names := map[string]bool{}
	for i, row := range r.Ranking[0].Rows {
		want := lb.Rows[i]
		names[row.Name] = true
		if row.UID != int(want.UID) || row.Rank != i+1 || row.Name != want.Name || row.Loss != fmt.Sprintf("%.4f", *want.Loss) ||
			row.WinRate != fmt.Sprintf("%.1f%%", 100*want.WinRate) || row.Weight != fmt.Sprintf("%.1f%%", 100*want.Weight) {
			t.Errorf("index row %d: %+v, API %+v", i, row, want)
		}
	}
	if !names["miner1"] || !names["miner2 (surgery)"] {
		t.Errorf("index ranking names %v", names)
	}
	// The reason as the pages show it: the copied miner by name.
	reason := strings.ReplaceAll(lb.Rejected[0].Reason, res.Miners[0].Hotkey, "miner1")
	if !strings.Contains(reason, "first served by miner1") {
		t.Errorf("API reason %q does not name miner1's hotkey", lb.Rejected[0].Reason)
	}
	rj := r.Ranking[0].Rejected
	if len(rj) != 1 || rj[0].Name != "miner3 (copy)" || rj[0].Reason != reason {
		t.Errorf("index rejected %+v, want the reason %q", rj, reason)
	}
	if len(r.RejectedPages) != 1 || r.RejectedPages[0].Status != 200 || r.RejectedPages[0].Reason != reason {
		t.Errorf("rejected model's page %+v, want the reason %q", r.RejectedPages, reason)
	}
	if !strings.Contains(r.ScoringPanel, "Win rate") {
		t.Errorf("scoring panel %q", r.ScoringPanel)
	}
	// The loss chart's stated range is the API history's; every chart's y
	// labels differ, rise and bracket the data.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range lb.History.Series {
		for _, v := range s.Loss {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
	}
	if len(r.LeaderboardCharts) != 3 || r.LeaderboardCharts[0].Min != lo || r.LeaderboardCharts[0].Max != hi {
		t.Errorf("loss chart %+v, API range %g–%g", r.LeaderboardCharts, lo, hi)
	}
	for _, c := range append(r.LeaderboardCharts, r.ModelCharts...) {
		checkAxis(t, c)
	}
}

// checkAxis: the y tick labels are numbers, strictly rising, bracketing the
// data; a flat chart labels its value.
func checkAxis(t *testing.T, c browserChart) {
	t.Helper()
	var vals []float64
	for _, l := range c.YTicks {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Errorf("chart %q: tick %q is not a number", c.Title, l)
			return
		}
		if len(vals) > 0 && v <= vals[len(vals)-1] {
			t.Errorf("chart %q: y labels %v do not rise (a range drawn as one value)", c.Title, c.YTicks)
			return
		}
		vals = append(vals, v)
	}
	if len(vals) < 2 || vals[0] > c.Min || vals[len(vals)-1] < c.Max {
		t.Errorf("chart %q: y labels %v do not bracket the data %g–%g", c.Title, c.YTicks, c.Min, c.Max)
	}
	if c.Min == c.Max {
		mid := vals[len(vals)/2]
		if math.Abs(mid-c.Min) > 1e-3*math.Max(1, math.Abs(c.Min)) || !strings.HasPrefix(c.Caption, "flat at ") {
			t.Errorf("flat chart %q: middle label %v, caption %q, value %g", c.Title, mid, c.Caption, c.Min)
		}
	}
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
