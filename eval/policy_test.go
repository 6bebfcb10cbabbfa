package eval

import (
	"errors"
	"testing"
	"time"
)

func TestBudgets(t *testing.T) {
	start := time.Unix(1000, 0)
	if d := PhaseDeadline(start).Sub(start); d != 3600*time.Second {
		t.Errorf("phase deadline %v", d)
	}
	if d := CompetitionDeadline(start, 2).Sub(start); d != 3600*time.Second {
		t.Errorf("2 competitions: %v", d)
	}
	if d := CompetitionDeadline(start, 0).Sub(start); d != 7200*time.Second {
		t.Errorf("0 competitions: %v", d)
	}
	w := []float64{0.5, 0.5}
	tests := []struct {
		since time.Duration
		w     []float64
		want  bool
	}{
		{25 * time.Minute, w, true},
		{25*time.Minute - time.Second, w, false},
		{time.Hour, []float64{1e-6, 1e-6}, false}, // Σ < 1e-5
		{time.Hour, []float64{5e-6, 5e-6}, true},
	}
	for _, tc := range tests {
		if got := WeightSetDue(start, start.Add(tc.since), WeightSetMinInterval, tc.w); got != tc.want {
			t.Errorf("since %v sum %v: %v", tc.since, tc.w, got)
		}
	}
}

func TestDiskPolicy(t *testing.T) {
	tests := []struct {
		name        string
		inUse, free int64
		s           float64
		want        int64
	}{
		{"size limit not reached", 90 * GB, 0, 100, 0},
		{"size limit reached", 130 * GB, 0, 100, 30 * GB},
		{"size limit exactly", 100 * GB, 0, 100, 0},
		{"default keep 120 free", 0, 100 * GB, -120, 20 * GB},
		{"plenty free", 0, 500 * GB, -120, 0},
		{"(−30, 0] clamps to −30", 0, 10 * GB, -5, 20 * GB},
		{"0 clamps to −30", 0, 31 * GB, 0, 0},
	}
	for _, tc := range tests {
		if got := BytesToDelete(tc.inUse, tc.free, tc.s); got != tc.want {
			t.Errorf("%s: %d want %d", tc.name, got, tc.want)
		}
	}
	if !CanDownload(47*GB, 42*GB) || CanDownload(47*GB-1, 42*GB) {
		t.Error("CanDownload: free ≥ model_size + 5 GB")
	}
}

func TestParseBenchmarks(t *testing.T) {
	bs, err := ParseBenchmarks([]byte(`{"250":{"competition":"c00","path":"/m/a","label":"base"},"3":{"competition":"c01","path":"/m/b","block":7,"hotkey":"5X"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].UID != 3 || bs[0].Block != 7 || bs[0].Label != "uid3" || bs[1].Block != BenchmarkBlock || bs[1].DisplayLabel() != "dummy/base" {
		t.Fatalf("%+v", bs)
	}
	for _, bad := range []string{`[]`, `{"x":{}}`, `{"03":{"competition":"c","path":"p"}}`, `{"1":{"path":"p"}}`, `{"1":{"competition":"c"}}`, `{"1":[]}`, `{"70000":{"competition":"c","path":"p"}}`, `{"1":{"competition":"c","path":"p","block":-1}}`} {
		if _, err := ParseBenchmarks([]byte(bad)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzBenchmarks(f *testing.F) {
	f.Add([]byte(`{"250":{"competition":"c00","path":"/m/a","label":"base","block":5}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := ParseBenchmarks(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error without ErrInvalidConfig: %v", err)
			}
			return
		}
		for i, x := range bs {
			if x.Competition == "" || x.Path == "" || (i > 0 && bs[i-1].UID >= x.UID) {
				t.Fatalf("%+v", bs)
			}
		}
	})
}
