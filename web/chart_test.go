package web

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestYAxis(t *testing.T) {
	tests := []struct {
		name     string
		min, max float64
		// labels of the five ticks, bottom to top
		ticks []string
		cap   string
	}{
		{"flat", 2.98, 2.98, []string{"2.831", "2.905", "2.980", "3.054", "3.129"}, "flat at 2.980"},
		{"flat zero", 0, 0, []string{"0.00", "0.12", "0.25", "0.38", "0.50"}, "flat at 0.0"},
		// A change in the fourth digit: widened to 2% of the value, ticks
		// that differ, and a caption that tells min from max.
		{"tiny change", 2.9805, 2.9812, []string{"2.945", "2.963", "2.981", "2.999", "3.017"}, "min 2.9805 · max 2.9812"},
		{"spread", 2, 4, []string{"1.80", "2.40", "3.00", "3.60", "4.20"}, "min 2.000 · max 4.000"},
		{"rates from zero", 0, 1, []string{"0.00", "0.28", "0.55", "0.83", "1.10"}, "min 0.000 · max 1.000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newYAxis(tt.min, tt.max)
			var got []string
			for _, v := range a.Ticks {
				got = append(got, a.label(v))
			}
			if strings.Join(got, " ") != strings.Join(tt.ticks, " ") || a.caption() != tt.cap {
				t.Fatalf("ticks %v caption %q, want %v %q", got, a.caption(), tt.ticks, tt.cap)
			}
			if a.Lo > tt.min || a.Hi < tt.max || a.Lo == a.Hi {
				t.Fatalf("drawn range [%g, %g] does not hold the data [%g, %g]", a.Lo, a.Hi, tt.min, tt.max)
			}
			if span := a.Hi - a.Lo; tt.max > 0 && span < 0.02*tt.max {
				t.Fatalf("drawn span %g magnifies a small change into a cliff", span)
			}
		})
	}
}

var cy = regexp.MustCompile(`<circle cx="[0-9.]+" cy="([0-9.]+)"`)

// TestLineChartFlat draws the series that used to show a fake drop (a
// constant loss): every point sits at the same height, mid-chart, and the y
// labels name the value. The SVG is compared with a golden file.
func TestLineChartFlat(t *testing.T) {
	v := 2.98
	svg := string(lineChart("loss", []xTick{{Block: 10, Time: "12:00:00 UTC"}, {Block: 15}, {Block: 20, Time: "12:02:00 UTC"}},
		[]chartSeries{{Label: "miner1", Y: []*float64{&v, &v, &v}}}))
	ys := map[string]bool{}
	for _, m := range cy.FindAllStringSubmatch(svg, -1) {
		ys[m[1]] = true
	}
	if len(ys) != 1 {
		t.Fatalf("a flat series is drawn at heights %v", ys)
	}
	for y := range ys {
		f, _ := strconv.ParseFloat(y, 64)
		if f < 100 || f > 180 {
			t.Fatalf("flat series drawn at y=%g, not mid-chart", f)
		}
	}
	for _, want := range []string{`>2.980</text>`, `flat at 2.980`, `block 15</text>`, `block 20<tspan`, `12:02:00 UTC`} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	golden := filepath.Join("testdata", "flat_chart.svg")
	if *update {
		if err := os.WriteFile(golden, []byte(svg+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if svg+"\n" != string(want) {
		t.Fatalf("chart differs from %s (go test -run TestLineChartFlat -update to accept):\n%s", golden, svg)
	}
}
