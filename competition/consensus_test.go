package competition

import (
	"math"
	"testing"
)

func TestSyncRound(t *testing.T) {
	c := &Competition{SyncCadence: 150, EvalDelay: 10}
	for _, tc := range []struct {
		head, sync uint64
	}{{0, 0}, {149, 0}, {150, 150}, {299, 150}, {301, 300}} {
		if got := c.SyncBlock(tc.head); got != tc.sync {
			t.Errorf("sync block at head %d = %d, want %d", tc.head, got, tc.sync)
		}
	}
	for _, tc := range []struct {
		commit uint64
		ok     bool
	}{{139, true}, {140, true}, {141, false}, {150, false}, {200, false}} {
		if got := c.Eligible(tc.commit, 150); got != tc.ok {
			t.Errorf("commit at %d eligible in the round of 150 with eval_delay 10: %v, want %v", tc.commit, got, tc.ok)
		}
	}
	var d Competition
	if d.Cadence() != DefaultSyncCadence || d.Seed() != SeedRandom || d.SyncBlock(451) != 450 {
		t.Errorf("defaults: cadence %d seed %q sync(451) %d", d.Cadence(), d.Seed(), d.SyncBlock(451))
	}
}

func TestTaskWeights(t *testing.T) {
	c := &Competition{Tasks: []Task{{Weight: 0.30}, {Weight: 0.25}, {Weight: 0.35}, {Weight: 0.05}, {Weight: 0.05}}}
	want := []float64{0.30, 0.25, 0.35, 0.05, 0.05}
	got := c.TaskWeights()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("weight %d = %v, want %v", i, got[i], want[i])
		}
	}
	c = &Competition{Tasks: []Task{{Weight: 3}, {Weight: 1}}}
	if got := c.TaskWeights(); got[0] != 0.75 || got[1] != 0.25 {
		t.Errorf("weights 3:1 normalise to %v, want [0.75 0.25]", got)
	}
	if (&Competition{}).TaskWeights() != nil {
		t.Error("no tasks: want nil weights")
	}
}
