package demorun

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/internal/testenv"
)

// TestDemoStory runs the demo with the fake engine and checks what a new
// user reads: every validator step scores fresh samples (forward passes,
// losses that move), participants are named, weights are percentages, and
// the components' warnings are notes of the story (and lines of demo.log),
// not raw log lines.
func TestDemoStory(t *testing.T) {
	if _, err := os.Stat("/usr/share/doc/jargon-text/jargon.txt.gz"); err != nil {
		testenv.Missing(t, "corpus Debian packages are not installed (make setup-data)")
	}
	dir := t.TempDir()
	var out, stderr bytes.Buffer
	// Anything logged through the default logger outside the story would
	// land here.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&stderr, nil)))
	defer slog.SetDefault(prev)
	tr := &copyTrainer{}
	res, err := Run(context.Background(), Options{Dir: dir, Miners: 3, Steps: 3, TrainSteps: 4, Trainer: tr,
		Scorer: eval.RandomScorer{}, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	story := out.String()
	t.Log(story)

	// The surgeon specialises on the Devil's Dictionary: its documents are a
	// part of the first miner's.
	all := map[string]bool{}
	for _, t := range tr.jobs[0].Texts {
		all[t] = true
	}
	if n := len(tr.jobs[1].Texts); n == 0 || n >= len(tr.jobs[0].Texts)/2 {
		t.Fatalf("miner2 trains on %d documents, miner1 on %d", n, len(tr.jobs[0].Texts))
	}
	for _, txt := range tr.jobs[1].Texts {
		// (every Jargon File entry starts with ":", no Devil's Dictionary one)
		if !all[txt] || strings.HasPrefix(txt, ":") {
			t.Fatalf("miner2's training document is not a Devil's Dictionary entry: %.80q", txt)
		}
	}

	// Fresh samples at every step, so the losses move.
	var prevLoss float64
	for s := 1; s <= 3; s++ {
		var rep eval.StepReport
		b, err := os.ReadFile(filepath.Join(dir, "steps", "step-00"+string(rune('0'+s))+".json"))
		if err != nil || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		want := 2 * EvalSamples // two models evaluated (the copy is rejected)
		if s > 1 {
			want = 2 * FreshSamples
		}
		if rep.Forward != want {
			t.Errorf("step %d: %d forward passes, want %d (fresh samples for both models)", s, rep.Forward, want)
		}
		for _, u := range rep.UIDs {
			if u.UID == res.Miners[0].UID {
				if l := float64(u.LossPTAvg); !(l > 0) || l == prevLoss {
					t.Errorf("step %d: miner1's loss/token %v does not move (previous %v)", s, l, prevLoss)
				} else {
					prevLoss = l
				}
			}
		}
	}

	// Names, not hotkeys.
	for _, want := range []string{"miner2 (surgery)", "miner3 (copy) (uid 3) not evaluated: copy: the same content was first served by miner1",
		"Leaderboard of c00", "validator step 3 of 3", "Weights the validator set on chain", "note: model discarded: uid 3 (miner3 (copy))"} {
		if !strings.Contains(story, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, hk := range append([]string{res.Validator.Hotkey}, res.Miners[0].Hotkey, res.Miners[1].Hotkey, res.Miners[2].Hotkey) {
		if hk == "" || strings.Contains(story, hk) {
			t.Errorf("report shows the hotkey %q", hk)
		}
	}
	if res.Validator.Name != "validator" || res.Miners[1].Label != "miner2 (surgery)" || res.Miners[2].Label != "miner3 (copy)" ||
		res.Miners[0].CommittedAt <= 0 {
		t.Errorf("result names %+v %+v", res.Validator, res.Miners)
	}
	// Weights as percentages: every "weight" figure of the report.
	if m := regexp.MustCompile(`weight \d+\.\d%`).FindAllString(story, -1); len(m) < 6 {
		t.Errorf("step lines show weights as %v, want percentages", m)
	}
	if !regexp.MustCompile(`Weights the validator set on chain \(shares of its weight row\): (miner\d( \(surgery\))? \d+\.\d%(, )?)+\n`).MatchString(story) {
		t.Error("chain weights are not shares in percent")
	}
	// Logs: folded into the story and demo.log, none on the default logger.
	if strings.Contains(story, "level=") || stderr.Len() > 0 {
		t.Errorf("raw log lines: report %q, default logger %q", story, stderr.String())
	}
	logged, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil || !strings.Contains(string(logged), "model discarded") {
		t.Errorf("%s: %v\n%s", LogFile, err, logged)
	}
}

// TestStoryHandler: INFO records go to the log file (and the caller's
// handler), WARN records also become notes of the report with names in
// place of hotkeys, DEBUG records reach only the caller's debug handler.
func TestStoryHandler(t *testing.T) {
	names := newNameBook()
	names.add("5HotkeyOfMinerOne", 1, "miner1")
	var file, out, extra bytes.Buffer
	log := slog.New(newStoryHandler(&file, &out, names, slog.NewTextHandler(&extra, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Debug("tiny detail")
	log.Info("publish step done", "step", "upload")
	log.With("uid", 1).Warn("model discarded", "reason", "copy of 5HotkeyOfMinerOne")
	tests := []struct {
		name, got string
		want, not []string
	}{
		{"file", file.String(), []string{`level=INFO msg="publish step done"`, `level=WARN msg="model discarded" uid=1`}, []string{"tiny detail"}},
		{"report", out.String(), []string{"          note: model discarded: uid 1 (miner1), reason copy of miner1\n"}, []string{"publish step", "tiny detail", "5Hotkey"}},
		{"caller", extra.String(), []string{"tiny detail", "publish step done", "model discarded"}, nil},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(tt.got, w) {
				t.Errorf("%s lacks %q:\n%s", tt.name, w, tt.got)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(tt.got, w) {
				t.Errorf("%s holds %q:\n%s", tt.name, w, tt.got)
			}
		}
	}
}
