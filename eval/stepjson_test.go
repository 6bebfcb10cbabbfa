package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
)

// stepKeys are the keys docs/validator.md#step-json lists for the step JSON, per level.
var (
	stepTopKeys = []string{"timestamp", "block", "uids", "competitions", "uid_data", "competition_info", "pages", "step_time"}
	stepUIDKeys = []string{"uid", "geometry", "competition", "label", "block", "losses", "n_samples", "n_inf", "avg_sample_len",
		"loss_pt_avg", "loss_pt_std", "loss_sum_avg", "loss_sum_std", "adv_factor", "win_rate", "win_abs_rate", "win_total",
		"win_matrix_row", "weight"}
	stepGeometryKeys = []string{"n_parameters", "n_layers", "embed_size", "intermediate_size", "hidden_size"}
	stepCellKeys     = []string{"loss", "wins", "wins_adv"}
)

func f64(v float64) *float64 { return &v }

// sampleStepReport is a deterministic two-competition report: uid 12 and 3
// scored in c0 (block order 12, 3), uid 7 failed in c1.
func sampleStepReport() StepReport {
	return StepReport{
		Step: 4, Timestamp: 1.7e9, Block: 5000, UIDOrder: []chain.UID{12, 3, 7},
		Competitions: []string{"c0", "c1"},
		CompetitionParams: map[string]map[string]json.RawMessage{
			"c0": {"reward": json.RawMessage(`0.6`), "tokenizer": json.RawMessage(`"tok"`)},
		},
		UIDs: UIDReports{
			{UID: 12, Geometry: Geometry{NParameters: 1000, NLayers: 2, EmbedSize: 100, IntermediateSize: 16, HiddenSize: 8},
				Competition: "c0", Label: "a/m", Hotkey: "5A", Block: 100, NParameters: 1000,
				Losses: []JSONFloat{10, 20, 30}, NSamples: 3, AvgSampleLen: f64(5), LossPTAvg: 4, LossPTStd: 1.5,
				LossSumAvg: 20, LossSumStd: 8.16496580927726, AdvFactor: 0.2, WinRate: 2.0 / 3, WinAbsRate: 1.0 / 3, WinTotal: 2,
				WinMatrixRow: WinMatrixRow{{UID: 12, Loss: 0}, {UID: 3, Loss: -1, Wins: 1, WinsAdv: 2}},
				Weight:       0.5, Forward: 3, Status: "ok"},
			{UID: 3, Geometry: Geometry{NParameters: 900, NLayers: 2, EmbedSize: 100, IntermediateSize: 16, HiddenSize: 8},
				Competition: "c0", Label: "b/m", Block: 200, Losses: []JSONFloat{11, 19, JSONFloat(math.Inf(1))},
				NSamples: 2, NInf: 1, AvgSampleLen: f64(5), LossPTAvg: 3, LossPTStd: 0.8, LossSumAvg: 15, LossSumStd: 4,
				AdvFactor: 0.3, WinRate: 1.0 / 3, WinAbsRate: 2.0 / 3, WinTotal: 1,
				WinMatrixRow: WinMatrixRow{{UID: 12, Loss: 1, Wins: 1, WinsAdv: 1}, {UID: 3, Loss: 0}},
				Weight:       0.25, Cached: 3, Status: "ok"},
			{UID: 7, Competition: "c1", Label: "c/m", Block: 1 << 31, Status: "failed: boom"},
		},
		CompetitionInfo: map[string]CompetitionLog{"c0": {SampleLen: []int{4, 6, 0}}},
		Pages:           []string{"CC-MAIN-2024-10_300_train"},
		Rejected:        map[chain.UID]string{7: "boom"},
		Weights:         map[chain.UID]float64{12: 0.5, 3: 0.25},
		Forward:         3, Cached: 3, CacheHitRate: 0.5,
		Timing:   map[string]float64{"forward": 1.5},
		StepTime: 2.5, Evaluated: 2,
	}
}

func keysOf(t *testing.T, what string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, v)
	}
	return m
}

func wantKeys(t *testing.T, what string, m map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: key %q missing (have %v)", what, k, sortedKeysOf(m))
		}
	}
}

func sortedKeysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestStepJSONShape checks that a StepReport marshals to the key set (docs/validator.md#step-json) at
// every level, with uid_data and win_matrix_row keyed by decimal uid, and
// compares the bytes with testdata/step/report.golden.json (rewrite it with
// `go test ./eval -run StepJSONShape -update`).
func TestStepJSONShape(t *testing.T) {
	full := sampleStepReport()
	b, err := json.MarshalIndent(full, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "step", "report.golden.json"), append(b, '\n'))

	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "top level", top, stepTopKeys)
	if got := string(mustJSON(t, top["uids"])); got != "[12,3,7]" {
		t.Errorf("uids = %s, want [12,3,7] (evaluation order)", got)
	}
	comps := keysOf(t, "competitions", top["competitions"])
	if len(comps) != 2 || !strings.HasPrefix(strings.TrimSpace(string(b[bytes.Index(b, []byte(`"competitions"`)):])), `"competitions": {`) {
		t.Errorf("competitions = %v, want an object of 2", comps)
	}
	if c0 := keysOf(t, "competitions.c0", comps["c0"]); c0["reward"] != 0.6 {
		t.Errorf("competitions.c0 = %v", c0)
	}
	ci := keysOf(t, "competition_info", top["competition_info"])
	c0 := keysOf(t, "competition_info.c0", ci["c0"])
	if got := string(mustJSON(t, c0["sample_len"])); got != "[4,6,0]" {
		t.Errorf("competition_info.c0.sample_len = %s", got)
	}
	if got := string(mustJSON(t, top["pages"])); got != `["CC-MAIN-2024-10_300_train"]` {
		t.Errorf("pages = %s", got)
	}
	ud := keysOf(t, "uid_data", top["uid_data"])
	// Keys in ascending numeric order (3, 7, 12), not string order.
	if i3, i7, i12 := bytes.Index(b, []byte("\n    \"3\": {")), bytes.Index(b, []byte("\n    \"7\": {")), bytes.Index(b, []byte("\n    \"12\": {")); !(0 <= i3 && i3 < i7 && i7 < i12) {
		t.Errorf("uid_data keys not in numeric order: %d %d %d", i3, i7, i12)
	}
	cases := []struct {
		uid       string
		geometry  bool // five keys, else {}
		matrix    []string
		nullSlen  bool
		nullLoss  bool
		ptAvg     any
		winTotal  float64
		nSamples  float64
		competion string
	}{
		{uid: "12", geometry: true, matrix: []string{"12", "3"}, ptAvg: 4.0, winTotal: 2, nSamples: 3, competion: "c0"},
		{uid: "3", geometry: true, matrix: []string{"12", "3"}, ptAvg: 3.0, winTotal: 1, nSamples: 2, competion: "c0"},
		{uid: "7", nullSlen: true, nullLoss: true, ptAvg: 0.0, competion: "c1"},
	}
	for _, c := range cases {
		t.Run("uid"+c.uid, func(t *testing.T) {
			u := keysOf(t, "uid_data."+c.uid, ud[c.uid])
			wantKeys(t, "uid_data."+c.uid, u, stepUIDKeys)
			if u["uid"] != mustFloat(c.uid) || u["competition"] != c.competion || u["loss_pt_avg"] != c.ptAvg ||
				u["win_total"] != c.winTotal || u["n_samples"] != c.nSamples {
				t.Errorf("uid_data.%s = %v", c.uid, u)
			}
			g := keysOf(t, "geometry", u["geometry"])
			if c.geometry {
				wantKeys(t, "geometry", g, stepGeometryKeys)
			} else if len(g) != 0 {
				t.Errorf("geometry of an unevaluated uid = %v, want {}", g)
			}
			if (u["avg_sample_len"] == nil) != c.nullSlen || (u["losses"] == nil) != c.nullLoss {
				t.Errorf("avg_sample_len %v losses %v", u["avg_sample_len"], u["losses"])
			}
			if c.matrix == nil {
				if u["win_matrix_row"] != nil {
					t.Errorf("win_matrix_row = %v, want null", u["win_matrix_row"])
				}
				return
			}
			row := keysOf(t, "win_matrix_row", u["win_matrix_row"])
			if !reflect.DeepEqual(sortedKeysOf(row), sortedStrings(c.matrix)) {
				t.Errorf("win_matrix_row keys %v, want %v", sortedKeysOf(row), c.matrix)
			}
			for k, cell := range row {
				wantKeys(t, "win_matrix_row."+k, keysOf(t, "cell", cell), stepCellKeys)
			}
		})
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func mustFloat(s string) float64 {
	var f float64
	json.Unmarshal([]byte(s), &f)
	return f
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStepJSONRoundTrip marshals reports and reads them back: equal values,
// and the same bytes when marshalled again (NaN included).
func TestStepJSONRoundTrip(t *testing.T) {
	withNaN := sampleStepReport()
	withNaN.UIDs[1].LossPTAvg, withNaN.UIDs[1].LossPTStd, withNaN.UIDs[1].AvgSampleLen = JSONFloat(math.NaN()), JSONFloat(math.NaN()), nil
	empty := StepReport{Step: 1, Weights: map[chain.UID]float64{}}
	cases := []struct {
		name   string
		rep    StepReport
		equals bool // reflect.DeepEqual applies (no NaN)
	}{
		{"full", sampleStepReport(), true},
		{"nan", withNaN, false},
		{"empty", empty, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.rep)
			if err != nil {
				t.Fatal(err)
			}
			var got StepReport
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if c.equals && !reflect.DeepEqual(got, c.rep) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", got, c.rep)
			}
			b2, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("second marshal differs:\n%s\n%s", b, b2)
			}
		})
	}
}

// TestStepJSONOldForms loads step files in the forms written before: our
// older list-form uid_data with a list of competition names, and the
// reference's orjson output (uid keys, null for non-finite numbers and for a
// failed model's fields).
func TestStepJSONOldForms(t *testing.T) {
	cases := []struct {
		file   string
		uids   []chain.UID
		comps  []string
		check  func(t *testing.T, r *StepReport)
		params bool
	}{
		{file: "old_list.json", uids: []chain.UID{5, 2}, comps: []string{"c00"}, check: func(t *testing.T, r *StepReport) {
			u := r.UIDs[0]
			if u.Label != "ann/m" || u.Forward != 20 || len(u.Losses) != 3 || !math.IsInf(float64(u.Losses[2]), 1) ||
				!math.IsNaN(float64(u.LossPTAvg)) || u.AvgSampleLen != nil || u.WinMatrixRow != nil {
				t.Errorf("uid 5 = %+v", u)
			}
			if r.Step != 2 || r.Weights[5] != 0.75 || r.Timing["forward"] != 1.25 {
				t.Errorf("report = %+v", r)
			}
		}},
		{file: "reference.json", uids: []chain.UID{10, 3, 11}, comps: []string{"c2", "c1"}, params: true, check: func(t *testing.T, r *StepReport) {
			u := r.UIDs[1]
			if u.Geometry.NLayers != 24 || u.Geometry.EmbedSize != 32000 || *u.AvgSampleLen != 812.5 || u.WinTotal != 2 ||
				len(u.WinMatrixRow) != 2 || u.WinMatrixRow[0].UID != 10 || u.WinMatrixRow[1].WinsAdv != 1 ||
				!math.IsInf(float64(u.Losses[1]), 1) {
				t.Errorf("uid 3 = %+v", u)
			}
			f := r.UIDs[2] // failed: geometry {}, nulls
			if f.Geometry != (Geometry{}) || f.Losses != nil || f.AvgSampleLen != nil || f.WinMatrixRow != nil || f.LossSumAvg != 0 {
				t.Errorf("uid 11 = %+v", f)
			}
			if len(r.Pages) != 0 || len(r.CompetitionInfo["c2"].SampleLen) != 4 || string(r.CompetitionParams["c2"]["reward"]) != "0.7" {
				t.Errorf("report = %+v", r)
			}
			if !reflect.DeepEqual(r.UIDOrder, []chain.UID{10, 3, 11}) {
				t.Errorf("uids = %v", r.UIDOrder)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "step", c.file))
			if err != nil {
				t.Fatal(err)
			}
			var r StepReport
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			var uids []chain.UID
			for _, u := range r.UIDs {
				uids = append(uids, u.UID)
			}
			if !reflect.DeepEqual(uids, c.uids) || !reflect.DeepEqual(r.Competitions, c.comps) || (r.CompetitionParams != nil) != c.params {
				t.Fatalf("uids %v competitions %v params %v", uids, r.Competitions, r.CompetitionParams)
			}
			c.check(t, &r)
			// What was loaded writes out in the new form and loads again.
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var again StepReport
			if err := json.Unmarshal(out, &again); err != nil || len(again.UIDs) != len(r.UIDs) {
				t.Fatalf("reload: %v, %d uids", err, len(again.UIDs))
			}
		})
	}
}

func TestStepJSONErrors(t *testing.T) {
	for _, s := range []string{
		`{"uid_data": {"x": {}}}`,
		`{"uid_data": {"07": {}}}`,
		`{"uid_data": {"70000": {}}}`,
		`{"uid_data": {"4": {"uid": 5}}}`,
		`{"uid_data": 3}`,
		`{"uid_data": {"4": {"win_matrix_row": [1]}}}`,
		`{"uid_data": {"4": {"win_matrix_row": {"-1": {}}}}}`,
		`{"competitions": 3}`,
		`{"competitions": {"c": 3}}`,
		`{"competitions": [3]}`,
		`[]`,
	} {
		var r StepReport
		if err := json.Unmarshal([]byte(s), &r); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

func TestWinMatrixRowOf(t *testing.T) {
	models := []ModelLosses{
		{UID: 4, Block: 300, Losses: []float64{1, 5, math.Inf(1)}},
		{UID: 9, Block: 100, Losses: []float64{2, 4, math.Inf(1)}},
		{UID: 6, Block: 200, Losses: []float64{math.Inf(1), math.Inf(1), math.Inf(1)}},
		{UID: 8, Block: 50},
	}
	w, err := ComputeWins(models, WinParams{CurrentBlock: 400, AdvantageInitial: 0.5, AdvantageDecay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		uid  chain.UID
		want WinMatrixRow
	}{
		// Order is by block: 9, 6, 4. Only samples 0 and 1 are finite for 4 vs 9.
		// f_4 < 1: f·loss < loss on its finite samples, also against itself.
		{4, WinMatrixRow{{UID: 9, Loss: 0, Wins: 1, WinsAdv: 2}, {UID: 6, Loss: JSONFloat(math.Inf(1)), Wins: 2, WinsAdv: 2}, {UID: 4, Loss: 0, WinsAdv: 2}}},
		{6, WinMatrixRow{{UID: 9, Loss: JSONFloat(math.Inf(1))}, {UID: 6, Loss: JSONFloat(math.Inf(1))}, {UID: 4, Loss: JSONFloat(math.Inf(1))}}},
		{8, nil},
		{1, nil},
	}
	for _, c := range cases {
		got := WinMatrixRowOf(w, c.uid)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("row of %d = %+v, want %+v", c.uid, got, c.want)
		}
	}
	var total int
	for _, u := range w.Order {
		total += w.Wins[u]
	}
	if total != w.N {
		t.Errorf("wins sum to %d over %d samples", total, w.N)
	}
}

func FuzzStepReportJSON(f *testing.F) {
	for _, name := range []string{"old_list.json", "reference.json", "report.golden.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "step", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, `null`, `{"uid_data": null}`, `{"uid_data": [{"uid": 1}, {"uid": 1}]}`,
		`{"uid_data": {"1": {"win_matrix_row": {"2": null}}}}`, `{"competitions": ["a", "a"]}`, `{"competitions": {"a": {}, "a": {"x": 1}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r StepReport
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		// What loads writes out, and from then on is a fixed point.
		out1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal what loaded: %v", err)
		}
		var r2 StepReport
		if err := json.Unmarshal(out1, &r2); err != nil {
			t.Fatalf("reload %s: %v", out1, err)
		}
		out2, err := json.Marshal(r2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out1, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s", out1, out2)
		}
	})
}
