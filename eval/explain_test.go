package eval

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/score")

// TestScoreGolden runs every testdata/score/*.input.json through ParseScoreInput
// and Explain (seed 7) and compares the JSON and table renderings with the
// golden files (rewrite them with `go test ./eval -run ScoreGolden -update`).
func TestScoreGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/score/*.input.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, p := range inputs {
		name := strings.TrimSuffix(filepath.Base(p), ".input.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ParseScoreInput(b)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Explain(in, 7)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var tbl bytes.Buffer
			if err := rep.WriteTable(&tbl); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata/score", name+".golden.json"), append(js, '\n'))
			golden(t, filepath.Join("testdata/score", name+".golden.txt"), tbl.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExplainWorkedExample checks the numbers through (docs/scoring.md#worked-example) the score
// input path, independently of the golden files.
func TestExplainWorkedExample(t *testing.T) {
	b, _ := os.ReadFile("testdata/score/worked_example.input.json")
	in, err := ParseScoreInput(b)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Explain(in, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]float64{ // win_rate, win_abs_rate, weight
		"1": {0.5, 0, 2.0 / 3},
		"2": {0.25, 0.5, 1.0 / 6},
		"3": {0.25, 0.5, 1.0 / 6},
	}
	for u, w := range want {
		if rep.WinRate[u] != w[0] || rep.WinAbsRate[u] != w[1] || math.Abs(rep.Weights[u]-w[2]) > 1e-15 {
			t.Errorf("uid %s: %v %v %v, want %v", u, rep.WinRate[u], rep.WinAbsRate[u], rep.Weights[u], w)
		}
	}
	for u, f := range map[string]float64{"1": 0.9960399, "2": 0.99602, "3": 0.996} {
		if math.Abs(rep.AdvantageFactors[u]-f) > 1e-12 {
			t.Errorf("factor %s = %v", u, rep.AdvantageFactors[u])
		}
	}
}

func TestParseScoreInput(t *testing.T) {
	good := `{"current_block":5,"models":[{"uid":1,"block":1,"losses":[1,"inf","NaN",null,"-inf"]},{"uid":2,"block":2,"losses":null}]}`
	in, err := ParseScoreInput([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	l := in.Models[0].Losses
	if l[0] != 1 || !math.IsInf(float64(l[1]), 1) || !math.IsNaN(float64(l[2])) || !math.IsInf(float64(l[3]), 1) || !math.IsInf(float64(l[4]), -1) {
		t.Fatalf("losses %v", l)
	}
	if in.Models[1].Losses != nil || in.AdvantageInitial != 0.004 || in.AdvantageDecay != 0.995 || in.WeightSkewFactor != 1.2 || in.GroupSamples != 1 {
		t.Fatalf("defaults %+v", in)
	}
	for _, bad := range []string{
		`[]`, `{}`, `{"current_block":1}`, `{"models":[]}`,
		`{"current_block":1,"models":[],"advantage_inital":0.1}`,
		`{"current_block":1,"models":[{"uid":1,"losses":[1]},{"uid":1,"losses":[2]}]}`,
		`{"current_block":1,"models":[{"uid":1,"losses":[1]},{"uid":2,"losses":[2,3]}]}`,
		`{"current_block":1,"models":[{"uid":1,"losses":["x"]}]}`,
		`{"current_block":1,"models":[{"uid":-1,"losses":[1]}]}`,
		`{"current_block":1,"models":[{"uid":70000,"losses":[1]}]}`,
		`{"current_block":1,"group_samples":0,"models":[]}`,
		`{"current_block":1,"weight_skew_factor":0,"models":[]}`,
		`{"current_block":1,"advantage_decay":1.5,"models":[]}`,
		`{"current_block":-1,"models":[]}`,
	} {
		if _, err := ParseScoreInput([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzScoreInput(f *testing.F) {
	for _, p := range []string{"worked_example", "grouped_special", "nan_incumbent"} {
		b, _ := os.ReadFile("testdata/score/" + p + ".input.json")
		f.Add(b, uint64(1))
	}
	f.Add([]byte(`{"current_block":0,"group_samples":2,"models":[{"uid":0,"block":0,"losses":[1,2,3]}]}`), uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		in, err := ParseScoreInput(b)
		if err != nil {
			return
		}
		if len(in.Models) > 64 || len(in.Models) > 0 && len(in.Models[0].Losses) > 4096 {
			return
		}
		rep, err := Explain(in, seed)
		if err != nil {
			return
		}
		var sr, sa, sw float64
		for _, v := range rep.WinRate {
			sr += v
		}
		for _, v := range rep.WinAbsRate {
			sa += v
		}
		for _, v := range rep.Weights {
			if v < 0 || math.IsNaN(v) {
				t.Fatalf("weight %v", v)
			}
			sw += v
		}
		if math.Abs(sr-1) > 1e-9 || math.Abs(sa-1) > 1e-9 || (sw != 0 && math.Abs(sw-1) > 1e-9) {
			t.Fatalf("sums %v %v %v", sr, sa, sw)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	})
}
