package eval

import (
	"bytes"
	"strings"
	"testing"
)

// TestStepTableColumns checks the live table's columns (the reference's
// console summary: avg sample length and samples won included) and that a
// row carries the report's values, "-" standing for an unknown length.
func TestStepTableColumns(t *testing.T) {
	avg := 41.25
	rep := &StepReport{Step: 3, Block: 99, UIDs: UIDReports{
		{UID: 4, Competition: "c0", Label: "ns/a", Block: 7, LossSumAvg: 120.5, LossPTAvg: 2.92, AvgSampleLen: &avg, WinRate: 0.75, WinTotal: 6, Weight: 0.9, Status: "ok"},
		{UID: 9, Competition: "c0", Label: "ns/b", Block: 8, LossSumAvg: 130, LossPTAvg: 3.1, WinRate: 0.25, WinTotal: 2, Weight: 0.1, Status: "ok"},
	}}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if len(lines) < 4 {
		t.Fatalf("table too short:\n%s", buf.String())
	}
	header := strings.Fields(lines[1])
	want := []string{"uid", "competition", "label", "block", "loss_sum_avg", "loss_pt_avg", "avg_slen", "n_inf", "win_rate", "win_abs", "win_total", "weight", "fwd", "cached", "status"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Fatalf("header %q, want %q", header, want)
	}
	for i, row := range []string{"4 c0 ns/a 7 120.500 2.920 41.2 0 0.7500 0.0000 6 0.9000 0 0 ok", "9 c0 ns/b 8 130.000 3.100 - 0 0.2500 0.0000 2 0.1000 0 0 ok"} {
		if got := strings.Join(strings.Fields(lines[2+i]), " "); got != row {
			t.Errorf("row %d: %q, want %q", i, got, row)
		}
	}
}
