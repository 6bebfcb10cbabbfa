package eval

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
)

func mkSamples(from, n int) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = Sample{Page: PageRef{Config: "CC-MAIN-2024-10", Offset: 50 * (from + i), Split: "train"}, Ofs: i, Text: "doc " + string(rune('a'+(from+i)%26))}
	}
	return out
}

func TestCacheExtendTrim(t *testing.T) {
	c := NewCache()
	d := BuiltinDefaults()
	now := time.Unix(1_000_000, 0)
	if n := c.ExtendCount(now, d); n != 2000 {
		t.Fatalf("empty DB: %d", n)
	}
	a := c.ModelIndex("hashA")
	c.Extend(mkSamples(0, 3), now, 5)
	if c.ModelIndex("hashA") != a || len(c.Losses[a]) != 3 || !math.IsNaN(c.Losses[a][2]) {
		t.Fatal("row not grown")
	}
	b := c.ModelIndex("hashB")
	if b != 1 || len(c.Losses[b]) != 3 {
		t.Fatal("new model row")
	}
	c.Losses[a] = []float64{1, 2, 3}
	if n := c.ExtendCount(now.Add(14399*time.Second), d); n != 0 {
		t.Fatalf("before interval: %d", n)
	}
	if n := c.ExtendCount(now.Add(14400*time.Second), d); n != 500 {
		t.Fatalf("after interval: %d", n)
	}
	c.Extend(mkSamples(3, 4), now.Add(time.Hour), 5)
	if len(c.Samples) != 5 || c.Samples[0].Page.Offset != 100 || !reflect.DeepEqual(c.Losses[a][:1], []float64{3}) || len(c.Losses[b]) != 5 {
		t.Fatalf("trim: %d samples, row %v", len(c.Samples), c.Losses[a])
	}
	if !c.LastExtend.Equal(now.Add(time.Hour)) {
		t.Fatal("LastExtend")
	}
}

func TestPickSamples(t *testing.T) {
	c := NewCache()
	c.Extend(mkSamples(0, 6), time.Unix(1, 0), 0)
	a, b := c.ModelIndex("a"), c.ModelIndex("b")
	nan := math.NaN()
	c.Losses[a] = []float64{1, nan, 1, nan, 1, nan}
	c.Losses[b] = []float64{1, nan, nan, 1, 1, 1}
	// NaN counts per column: 0, 2, 1, 1, 0, 1 → the 4 most unknown: col 1 last,
	// then cols 2, 3, 5 in random order.
	for seed := uint64(0); seed < 8; seed++ {
		got := c.PickSamples([]int{a, b}, 4, rand.New(rand.NewPCG(seed, 0)))
		if len(got) != 4 || got[3] != 1 {
			t.Fatalf("seed %d: %v", seed, got)
		}
		rest := append([]int(nil), got[:3]...)
		if !reflect.DeepEqual(sortedInts(rest), []int{2, 3, 5}) {
			t.Fatalf("seed %d: %v", seed, got)
		}
		again := c.PickSamples([]int{a, b}, 4, rand.New(rand.NewPCG(seed, 0)))
		if !reflect.DeepEqual(got, again) {
			t.Fatal("not reproducible")
		}
	}
	if got := c.PickSamples([]int{a}, 100, rand.New(rand.NewPCG(1, 1))); len(got) != 6 {
		t.Fatalf("n > samples: %v", got)
	}
}

func sortedInts(s []int) []int {
	out := append([]int(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCachePlan(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name        string
		row         []float64
		wantCompute int
		wantCheck   int
	}{
		{"all unknown", []float64{nan, nan, nan}, 3, 0},
		{"100 cached: ⌊0.02·100⌋ = 2 checks", fill(100, 5), 0, 2},
		{"49 cached: ⌊0.98⌋ = 0 checks", fill(49, 5), 0, 0},
		{"600 cached: capped at 10", fill(600, 5), 0, 10},
		{"cached ≤ to compute: no check", append(fill(100, 5), fill(100, nan)...), 100, 0},
		{"more than half +Inf: recompute them", append(fill(51, inf), fill(49, 2)...), 51, 0},
		{"half +Inf: kept", append(fill(50, inf), fill(50, 2)...), 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache()
			c.Extend(make([]Sample, len(tc.row)), time.Unix(1, 0), 0)
			r := c.ModelIndex("m")
			copy(c.Losses[r], tc.row)
			picked := make([]int, len(tc.row))
			for i := range picked {
				picked[i] = i
			}
			p := c.Plan(r, picked)
			if len(p.Compute) != tc.wantCompute || len(p.Check) != tc.wantCheck {
				t.Fatalf("compute %d check %d", len(p.Compute), len(p.Check))
			}
			for i, pos := range p.Check {
				if pos != i && tc.wantCompute == 0 {
					t.Fatalf("checks must be the first cached positions: %v", p.Check)
				}
			}
		})
	}
}

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestMismatch(t *testing.T) {
	tests := []struct {
		cached, fresh float64
		want          bool
	}{
		{1000, 1001, true},      // exactly 0.1 %
		{1000, 999, true},       // −0.1 %
		{1000, 1000.999, false}, // just below
		{0, 5, false},           // cached 0 ignored
		{inf, 5, false},
		{5, math.NaN(), false},
		{5, inf, false},
	}
	for _, tc := range tests {
		if got := Mismatch(tc.cached, tc.fresh); got != tc.want {
			t.Errorf("Mismatch(%v, %v) = %v", tc.cached, tc.fresh, got)
		}
	}
}

func TestCacheMergeAndReset(t *testing.T) {
	nan := math.NaN()
	c := NewCache()
	c.Extend(mkSamples(0, 5), time.Unix(1, 0), 0)
	r := c.ModelIndex("m")
	c.Losses[r] = []float64{1000, 2000, nan, 4000, nan}
	picked := []int{0, 1, 2, 3}
	plan := RowPlan{Compute: []int{2}, Check: []int{0}}

	// Check within tolerance: merged, the cache keeps its values and gains col 2.
	full, reset := c.Merge(r, picked, plan, map[int]float64{0: 1000.5, 2: 3000})
	if reset || !reflect.DeepEqual(full, []float64{1000.5, 2000, 3000, 4000}) {
		t.Fatalf("merge: %v %v", full, reset)
	}
	if c.Losses[r][2] != 3000 || c.Losses[r][0] != 1000.5 || !math.IsNaN(c.Losses[r][4]) {
		t.Fatalf("row %v", c.Losses[r])
	}

	// A 0.1 % mismatch resets the row; cached positions count as NaN this step.
	full, reset = c.Merge(r, picked, RowPlan{Check: []int{1}}, map[int]float64{1: 2002})
	if !reset || full[1] != 2002 || !math.IsNaN(full[0]) || !math.IsNaN(full[3]) {
		t.Fatalf("reset: %v %v", full, reset)
	}
	for j, v := range c.Losses[r] {
		if (j == 1) != !math.IsNaN(v) {
			t.Fatalf("row after reset %v", c.Losses[r])
		}
	}
}

func TestFirstSeen(t *testing.T) {
	c := NewCache()
	tests := []struct {
		block    uint64
		hotkey   string
		wantHK   string
		wantCopy bool
	}{
		{100, "hkB", "hkB", false},
		{150, "hkC", "hkB", true},  // later block: a copy
		{100, "hkB", "hkB", false}, // re-observed
		{100, "hkA", "hkA", false}, // equal block: smaller hotkey wins (order independent)
		{100, "hkB", "hkA", true},
		{90, "hkD", "hkD", false}, // an older commitment wins
		{150, "hkA", "hkD", true},
	}
	for i, tc := range tests {
		fs, isCopy := c.ObserveFirstSeen(0, chainBlock(tc.block), tc.hotkey)
		if fs.Hotkey != tc.wantHK || isCopy != tc.wantCopy {
			t.Fatalf("step %d: %+v copy=%v", i, fs, isCopy)
		}
	}
}

func TestCacheSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evalstate")
	if c, err := LoadCache(dir); err != nil || len(c.Models) != 0 {
		t.Fatalf("missing dir: %v", err)
	}
	c := NewCache()
	c.Extend(mkSamples(0, 3), time.Unix(1_700_000_000, 500_000_000), 0)
	r := c.ModelIndex("hashA")
	c.ModelIndex("hashB")
	c.Losses[r] = []float64{1.5, inf, math.NaN()}
	c.ModelDirHashes["/m/a"] = "hashA"
	c.ObserveFirstSeen(1, 42, "hkX")
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	// A second save replaces the losses file and leaves exactly one behind.
	c.Losses[1][0] = 7
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Models, c.Models) || !reflect.DeepEqual(got.Samples, c.Samples) || !reflect.DeepEqual(got.FirstSeen, c.FirstSeen) ||
		got.ModelDirHashes["/m/a"] != "hashA" || got.Losses[1][0] != 7 || got.Losses[0][0] != 1.5 || !math.IsInf(got.Losses[0][1], 1) ||
		!math.IsNaN(got.Losses[0][2]) || got.LastExtend.Unix() != 1_700_000_000 {
		t.Fatalf("round trip: %+v", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("files left: %v", ents)
	}
	// The page ref is stored as [config, offset, split].
	b, _ := os.ReadFile(filepath.Join(dir, CacheStateFile))
	if !strings.Contains(string(b), `"page":["CC-MAIN-2024-10",0,"train"]`) || !strings.Contains(string(b), `"first_seen":{"1":{"block":42,"hotkey":"hkX"}}`) {
		t.Fatalf("json: %s", b)
	}
	// A crash after writing new losses but before the JSON: the old cache loads.
	os.WriteFile(filepath.Join(dir, "eval_losses-zzz.f64"), []byte("junk"), 0o644)
	if got, err := LoadCache(dir); err != nil || got.Losses[1][0] != 7 {
		t.Fatalf("after crash: %v", err)
	}

	// docs/validator.md#state version rule: 1017 loads 1016 state; 1100 does not.
	var f map[string]any
	json.Unmarshal(b, &f)
	for _, tc := range []struct {
		version float64
		ok      bool
	}{{1017, true}, {1000, true}, {1100, false}, {917, false}} {
		f["version"] = tc.version
		nb, _ := json.Marshal(f)
		os.WriteFile(filepath.Join(dir, CacheStateFile), nb, 0o644)
		_, err := LoadCache(dir)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrIncompatibleState)) {
			t.Errorf("version %v: %v", tc.version, err)
		}
	}
	// Shape validation.
	f["version"] = float64(SpecVersion)
	f["rows"] = float64(5)
	nb, _ := json.Marshal(f)
	os.WriteFile(filepath.Join(dir, CacheStateFile), nb, 0o644)
	if _, err := LoadCache(dir); err == nil {
		t.Error("bad shape accepted")
	}
	if CompatibleVersion(1016, 1017) != true || CompatibleVersion(1016, 1100) {
		t.Error("CompatibleVersion")
	}
}

func chainBlock(b uint64) chain.BlockNumber { return chain.BlockNumber(b) }

func TestPageTriesShuffle(t *testing.T) {
	for _, tc := range []struct{ n, rpp, want int }{{2000, 25, 160}, {500, 50, 20}, {10, 50, 3}, {0, 25, 3}} {
		if got := PageTries(tc.n, tc.rpp); got != tc.want {
			t.Errorf("PageTries(%d,%d) = %d", tc.n, tc.rpp, got)
		}
	}
	rows := mkSamples(0, 10)
	got := ShuffleTruncate(rows, 4, rand.New(rand.NewPCG(3, 3)))
	if len(got) != 4 || len(rows) != 10 || rows[0].Page.Offset != 0 {
		t.Fatalf("%v", got)
	}
	seen := map[int]bool{}
	for _, s := range got {
		if seen[s.Page.Offset] {
			t.Fatal("duplicate after shuffle")
		}
		seen[s.Page.Offset] = true
	}
}
