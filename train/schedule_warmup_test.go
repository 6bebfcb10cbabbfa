package train

import (
	"strings"
	"testing"
)

// TestAutoWarmup: the default warmup is a share of the steps, so a short run
// reaches its learning rate; a warmup covering every step is warned about.
func TestAutoWarmup(t *testing.T) {
	for _, tc := range []struct {
		steps, warmup, want int
		warn                bool
	}{
		{20, AutoWarmup, 1, false},
		{1000, AutoWarmup, 50, false},
		{5, AutoWarmup, 0, false},
		{20, 100, 100, true},
		{20, 20, 20, true},
		{20, 0, 0, false},
	} {
		c := DefaultConfig()
		c.Steps, c.Warmup, c.LR = tc.steps, tc.warmup, 1e-3
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.WarmupSteps(); got != tc.want {
			t.Errorf("steps %d warmup %d: %d warmup steps, want %d", tc.steps, tc.warmup, got, tc.want)
		}
		if w := c.WarmupWarning(); (w != "") != tc.warn || tc.warn && !strings.Contains(w, "never reaches") {
			t.Errorf("steps %d warmup %d: warning %q", tc.steps, tc.warmup, w)
		}
		// The demo's suggested run (20 steps at 1e-3) reaches its learning rate.
		if tc.steps == 20 && tc.warmup == AutoWarmup {
			top := 0.0
			for s := 1; s <= c.Steps; s++ {
				top = max(top, c.Schedule().At(s))
			}
			if top < 0.99e-3 {
				t.Errorf("20 steps at 1e-3 peak at %g", top)
			}
		}
	}
	c := DefaultConfig()
	c.Warmup = -2
	if c.Validate() == nil {
		t.Error("warmup -2 accepted")
	}
}
