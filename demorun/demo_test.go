package demorun

import (
	"bytes"
	"context"
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
