package demorun

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/internal/testenv"
)

// copyTrainer "trains" by copying the starting model (no engine needed).
type copyTrainer struct{ jobs []TrainJob }

func (c *copyTrainer) Train(_ context.Context, job TrainJob) (TrainResult, error) {
	c.jobs = append(c.jobs, job)
	dst := filepath.Join(job.Out, "model")
	if err := modeldir.CopyFiles(job.Init, dst); err != nil {
		return TrainResult{}, err
	}
	return TrainResult{Model: dst, LossStart: 5, LossEnd: 4}, nil
}

func TestRunWithFakeEngine(t *testing.T) {
	if _, err := os.Stat("/usr/share/doc/jargon-text/jargon.txt.gz"); err != nil {
		testenv.Missing(t, "corpus Debian packages are not installed (make setup-data)")
	}
	dir := t.TempDir()
	tr := &copyTrainer{}
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Dir: dir, Miners: 4, Steps: 2, TrainSteps: 8, Trainer: tr,
		Scorer: eval.RandomScorer{}, Out: &out, Exe: "coldint"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(tr.jobs) != 3 || tr.jobs[0].Steps != 8 || tr.jobs[1].Steps != 4 || tr.jobs[2].Steps != 2 {
		t.Fatalf("training jobs %+v", tr.jobs)
	}
	if !strings.Contains(tr.jobs[1].Init, "surgery") {
		t.Fatalf("miner2 did not start from surgery: %q", tr.jobs[1].Init)
	}
	if len(res.Miners) != 4 || res.Steps != 2 {
		t.Fatalf("result %+v", res)
	}
	// miner3 copied miner1: rejected; the random scorer ranks the others.
	if len(res.Leaderboard) != 3 {
		t.Fatalf("leaderboard %+v\n%s", res.Leaderboard, out.String())
	}
	for _, row := range res.Leaderboard {
		if row.UID == res.Miners[2].UID {
			t.Fatalf("the copy is on the leaderboard: %+v", row)
		}
	}
	for _, want := range []string{"not evaluated: copy", "serve --state " + dir, "Leaderboard of c00"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// A second run in the same folder replaces the first.
	if _, err := Run(context.Background(), Options{Dir: dir, Miners: 2, Steps: 1, TrainSteps: 2, Trainer: &copyTrainer{},
		Scorer: eval.RandomScorer{}}); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	steps, _ := filepath.Glob(filepath.Join(dir, "steps", "*.json"))
	if len(steps) != 1 {
		t.Fatalf("rerun left %v", steps)
	}
}

func TestRunOptions(t *testing.T) {
	for _, o := range []Options{
		{Miners: 1, Trainer: &copyTrainer{}, Scorer: eval.RandomScorer{}},
		{Miners: 9, Trainer: &copyTrainer{}, Scorer: eval.RandomScorer{}},
		{Steps: 51, Trainer: &copyTrainer{}, Scorer: eval.RandomScorer{}},
		{TrainSteps: -1, Trainer: &copyTrainer{}, Scorer: eval.RandomScorer{}},
		{},
	} {
		o.Dir = t.TempDir()
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestRunRefusesForeignFolder plants a wallet (and a user file) where the demo
// would write and checks that the demo refuses, naming the folder, and that
// every planted byte survives.
func TestRunRefusesForeignFolder(t *testing.T) {
	planted := map[string]string{
		"wallets/default/coldkey":         `{"secretPhrase":"planted"}`,
		"wallets/default/hotkeys/default": `{"secretSeed":"0x01"}`,
		"hub/notes.txt":                   "mine",
	}
	for _, tc := range []struct {
		name   string
		marker bool // plant a directory, not a file, under the marker's name
	}{{"plain", false}, {"marker-is-dir", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, body := range planted {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.marker {
				if err := os.Mkdir(filepath.Join(dir, MarkerFile), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Run(context.Background(), Options{Dir: dir, Miners: 2, Steps: 1, TrainSteps: 2,
				Trainer: &copyTrainer{}, Scorer: eval.RandomScorer{}})
			if !errors.Is(err, ErrNotDemoFolder) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("demo in a foreign folder: err = %v, want a refusal naming %q", err, dir)
			}
			for p, body := range planted {
				got, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil || string(got) != body {
					t.Errorf("planted %s: %q, %v", p, got, err)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != len(planted)-1+btoi(tc.marker) {
				t.Errorf("the refused demo left files: %v", entries)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestClaimDir covers the folders the demo accepts: new, empty, and marked
// (where only the demo's own parts are cleared).
func TestClaimDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "a", "b")
	if err := claimDir(fresh); err != nil || !hasMarker(fresh) {
		t.Fatalf("new folder: %v", err)
	}
	empty := t.TempDir()
	if err := claimDir(empty); err != nil || !hasMarker(empty) {
		t.Fatalf("empty folder: %v", err)
	}
	// A marked folder: the demo's parts go, a user's other file stays.
	for _, p := range []string{"chain/x", "steps/1.json", "keep.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(fresh, p)), 0o755)
		os.WriteFile(filepath.Join(fresh, p), []byte("x"), 0o644)
	}
	if err := claimDir(fresh); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"chain": false, "steps": false, "keep.txt": true, MarkerFile: true} {
		if _, err := os.Stat(filepath.Join(fresh, p)); (err == nil) != want {
			t.Errorf("%s present = %v, want %v", p, err == nil, want)
		}
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := claimDir(file); err == nil {
		t.Error("a regular file accepted as the demo folder")
	}
}
