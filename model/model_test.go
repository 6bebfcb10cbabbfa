package model

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model/synth"
)

var (
	sharedEngine     *Engine
	sharedEngineErr  error
	sharedEngineOnce sync.Once
)

// testEngine returns one engine per test binary (2 threads, the CI machine's cores).
func testEngine(t testing.TB) *Engine {
	t.Helper()
	sharedEngineOnce.Do(func() { sharedEngine, sharedEngineErr = NewEngine(testThreads()) })
	if sharedEngineErr != nil {
		t.Fatalf("start engine: %v", sharedEngineErr)
	}
	return sharedEngine
}

func testThreads() int {
	if n, err := strconv.Atoi(os.Getenv("OMP_NUM_THREADS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// writeModel writes a synthetic model into a temp dir.
func writeModel(t testing.TB, s synth.Spec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := synth.Write(dir, s); err != nil {
		t.Fatalf("write model: %v", err)
	}
	return dir
}

// testSamples covers a lone token, short samples, one longer than 512 tokens
// and an invalid one.
func testSamples(vocab int) []Sample {
	return []Sample{
		{Ids: synth.RandomIDs(1, 17, vocab), Valid: true},
		{Ids: synth.RandomIDs(2, 600, vocab), Valid: true},
		{Ids: synth.RandomIDs(3, 1, vocab), Valid: true},
		{Ids: synth.RandomIDs(4, 2, vocab), Valid: true},
		{Ids: synth.RandomIDs(5, 9, vocab), Valid: false},
		{Ids: synth.RandomIDs(6, 300, vocab), Valid: true},
	}
}

func writeSamples(t testing.TB, samples []Sample) string {
	t.Helper()
	var buf bytes.Buffer
	for _, s := range samples {
		rec := map[string]any{"ids": s.Ids}
		if !s.Valid {
			rec["valid"] = false
		}
		b, _ := json.Marshal(rec)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "samples.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// refJob is one tools/torchref loss computation.
type refJob struct {
	Model string `json:"model"`
	Data  string `json:"data"`
	DType string `json:"dtype"`
}

// referenceLosses runs tools/torchref (PyTorch, transformers math) once for
// all jobs and returns each job's per-sample losses.
func referenceLosses(t *testing.T, jobs []refJob) [][]float64 {
	t.Helper()
	py := testenv.DebianPython(t)
	script := filepath.Join(testenv.Root(), "tools", "torchref", "torchref.py")
	in, _ := json.Marshal(jobs)
	cmd := exec.Command(py, script, "loss-batch", "--threads", strconv.Itoa(testThreads()))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("torchref: %v\n%s", err, stderr.String())
	}
	var all [][]float64
	dec := json.NewDecoder(bytes.NewReader(out))
	for range jobs {
		var res struct {
			Losses []any `json:"losses"`
		}
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("torchref output %q: %v", out, err)
		}
		losses := make([]float64, len(res.Losses))
		for i, v := range res.Losses {
			switch x := v.(type) {
			case float64:
				losses[i] = x
			case string:
				f, err := strconv.ParseFloat(x, 64)
				if err != nil {
					t.Fatalf("torchref loss %q: %v", x, err)
				}
				losses[i] = f
			}
		}
		all = append(all, losses)
	}
	return all
}

func relErr(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(b), 1e-12)
}

func loadModel(t testing.TB, dir string, budget int64) *Model {
	t.Helper()
	m, err := testEngine(t).Load(context.Background(), dir, LoadOptions{MaxMemory: budget})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func losses(t testing.TB, m *Model, samples []Sample) []float64 {
	t.Helper()
	l, err := m.Losses(context.Background(), samples, nil)
	if err != nil {
		t.Fatalf("losses: %v", err)
	}
	return l
}

var refCases = []struct {
	name string
	spec synth.Spec
}{
	{"llama-mha-untied-f32", synth.Spec{Arch: "llama", Layers: 2, Hidden: 64, Heads: 4, Intermediate: 160, Vocab: 512, Std: 0.1, Seed: 1}},
	{"llama-gqa-tied-f32", synth.Spec{Arch: "llama", Layers: 3, Hidden: 64, Heads: 8, KVHeads: 2, Intermediate: 176, Vocab: 384, Tie: true, Std: 0.1, Seed: 2}},
	{"phi3-gqa-untied-f32", synth.Spec{Arch: "phi3", Layers: 2, Hidden: 96, Heads: 6, KVHeads: 3, Intermediate: 128, Vocab: 500, Std: 0.1, Seed: 3}},
	{"phi3-mha-tied-f32", synth.Spec{Arch: "phi3", Layers: 2, Hidden: 64, Heads: 4, Intermediate: 96, Vocab: 300, Tie: true, Std: 0.1, Seed: 4}},
	{"llama-gqa-untied-bf16", synth.Spec{Arch: "llama", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 160, Vocab: 512, DType: safetensors.BF16, Std: 0.1, Seed: 5}},
	{"phi3-gqa-tied-bf16", synth.Spec{Arch: "phi3", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 1, Intermediate: 128, Vocab: 256, Tie: true, DType: safetensors.BF16, Std: 0.1, Seed: 6}},
	{"llama-normdiv-llama3rope-sharded", synth.Spec{Arch: "llama", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 160, Vocab: 512, Std: 0.1, Seed: 7,
		NormDivisor: 48, RopeTheta: 500000, Shards: 3, RopeScaling: &hf.RopeScaling{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64}}},
	{"llama-linear-rope", synth.Spec{Arch: "llama", Layers: 1, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 200, Std: 0.15, Seed: 8,
		RopeScaling: &hf.RopeScaling{Type: "linear", Factor: 4}}},
	// Phi-3 longrope: samples of at most 256 tokens use the short factors,
	// the 300- and 600-token ones the long factors; cos/sin are scaled by
	// sqrt(1 + ln 16 / ln 256).
	{"phi3-longrope", synth.Spec{Arch: "phi3", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 96, Vocab: 300, Std: 0.1, Seed: 10,
		MaxPositions: 4096, OriginalMaxPositions: 256, RopeScaling: &hf.RopeScaling{Type: "longrope",
			ShortFactor: []float64{1, 1.02, 1.05, 1.1, 1.2, 1.4, 1.7, 2},
			LongFactor:  []float64{1, 1.5, 2.5, 4, 6, 9, 12, 16}}}},
	{"phi3-sliding-window", synth.Spec{Arch: "phi3", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 96, Vocab: 300, Std: 0.1, Seed: 9, SlidingWindow: 100}},
}

// TestMatchesPyTorchReference compares coldint's losses with tools/torchref's
// (transformers 4.44 math in PyTorch) within 1e-4 relative in float32; bf16
// checkpoints match the float32 reference within 1e-4 and the bf16-compute
// reference (the validator's path) within 1e-2.
func TestMatchesPyTorchReference(t *testing.T) {
	type result struct {
		samples []Sample
		got     []float64
		jobs    map[string]int // dtype → index into jobs
	}
	var jobs []refJob
	results := make([]result, len(refCases))
	for k, tc := range refCases {
		dir := writeModel(t, tc.spec)
		samples := testSamples(tc.spec.Vocab)
		data := writeSamples(t, samples)
		r := result{samples: samples, got: losses(t, loadModel(t, dir, 0), samples), jobs: map[string]int{}}
		dtypes := []string{"f32"}
		if tc.spec.DType == safetensors.BF16 {
			dtypes = append(dtypes, "bf16")
		}
		for _, dt := range dtypes {
			r.jobs[dt] = len(jobs)
			jobs = append(jobs, refJob{Model: dir, Data: data, DType: dt})
		}
		results[k] = r
	}
	want := referenceLosses(t, jobs)
	for k, tc := range refCases {
		t.Run(tc.name, func(t *testing.T) {
			r := results[k]
			for dtype, tol := range map[string]float64{"f32": 1e-4, "bf16": 1e-2} {
				j, ok := r.jobs[dtype]
				if !ok {
					continue
				}
				ref := want[j]
				if len(ref) != len(r.got) {
					t.Fatalf("reference has %d losses, want %d", len(ref), len(r.got))
				}
				for i, got := range r.got {
					if math.IsInf(ref[i], 1) != math.IsInf(got, 1) || relErr(got, ref[i]) > tol {
						t.Errorf("sample %d (%d tokens): coldint %v, reference(%s) %v, rel err %.3g > %g",
							i, len(r.samples[i].Ids), got, dtype, ref[i], relErr(got, ref[i]), tol)
					}
				}
				t.Logf("reference %s: max rel err %.3g", dtype, maxRelErr(r.got, ref))
			}
			if !math.IsInf(r.got[4], 1) || r.got[2] != 0 {
				t.Errorf("invalid sample loss %v (want +Inf), single-token loss %v (want 0)", r.got[4], r.got[2])
			}
		})
	}
}

func maxRelErr(a, b []float64) float64 {
	var m float64
	for i := range a {
		if !math.IsInf(b[i], 0) {
			m = math.Max(m, relErr(a[i], b[i]))
		}
	}
	return m
}

// TestSlicedEqualsUnsliced evaluates the same models in layer slices under
// several budgets; the losses must be bit-identical.
func TestSlicedEqualsUnsliced(t *testing.T) {
	for _, tc := range []synth.Spec{
		{Arch: "llama", Layers: 5, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 160, Vocab: 512, Std: 0.1, Seed: 11},
		{Arch: "phi3", Layers: 4, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 256, Tie: true, DType: safetensors.BF16, Std: 0.1, Seed: 12},
	} {
		t.Run(tc.Arch, func(t *testing.T) {
			dir := writeModel(t, tc)
			samples := testSamples(tc.Vocab)
			base := loadModel(t, dir, 0)
			if n := len(base.Slices()); n != 1 {
				t.Fatalf("unlimited budget: %d slices, want 1", n)
			}
			want := losses(t, base, samples)
			size := 4 * tc.Params()
			e, l, f := unitBytes(tc.Config(), 4)
			for _, budget := range []int64{size / 2, size / 3, max(e, l, f)} {
				m := loadModel(t, dir, budget)
				if len(m.Slices()) < 2 {
					t.Fatalf("budget %d of %d: %d slices, want several", budget, size, len(m.Slices()))
				}
				var calls int
				got, err := m.Losses(context.Background(), samples, func(done, total int) {
					calls++
					if done != calls || total != len(samples)*len(m.Slices()) {
						t.Errorf("progress %d/%d at call %d", done, total, calls)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
						t.Errorf("budget %d (%d slices) sample %d: sliced %v, unsliced %v", budget, len(m.Slices()), i, got[i], want[i])
					}
				}
				lg, err := m.Logits(context.Background(), samples[0].Ids)
				if err != nil {
					t.Fatal(err)
				}
				lw, err := base.Logits(context.Background(), samples[0].Ids)
				if err != nil {
					t.Fatal(err)
				}
				if len(lg) != len(samples[0].Ids)*tc.Vocab || !equalFloats(lg, lw) {
					t.Errorf("budget %d: sliced logits differ from unsliced", budget)
				}
			}
		})
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestLogitsMatchLoss checks the logits API against the summed loss.
func TestLogitsMatchLoss(t *testing.T) {
	spec := refCases[1].spec
	m := loadModel(t, writeModel(t, spec), 0)
	ids := synth.RandomIDs(42, 40, spec.Vocab)
	lg, err := m.Logits(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	V := spec.Vocab
	var sum float64
	for i := 0; i+1 < len(ids); i++ {
		row := lg[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, float64(x))
		}
		var z float64
		for _, x := range row {
			z += math.Exp(float64(x) - mx)
		}
		sum += mx + math.Log(z) - float64(row[ids[i+1]])
	}
	l := losses(t, m, []Sample{{Ids: ids, Valid: true}})
	if relErr(l[0], sum) > 1e-5 {
		t.Errorf("loss %v, from logits %v", l[0], sum)
	}
}

// TestPeakRSSSliced measures peak RSS (VmHWM) in child processes: with a
// budget of a third of the model's float32 size it must stay below the
// unsliced peak.
func TestPeakRSSSliced(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	spec := synth.Spec{Arch: "llama", Layers: 12, Hidden: 512, Heads: 8, KVHeads: 4, Intermediate: 1536, Vocab: 1024, DType: safetensors.BF16, Seed: 21}
	dir := writeModel(t, spec)
	size := 4 * spec.Params()
	unsliced := childPeakRSS(t, dir, 0)
	sliced := childPeakRSS(t, dir, size/3)
	t.Logf("model %d MB as float32: peak RSS unsliced %d MB, budget 1/3 %d MB", size>>20, unsliced>>20, sliced>>20)
	if sliced >= unsliced {
		t.Errorf("sliced peak RSS %d >= unsliced %d", sliced, unsliced)
	}
	if unsliced-sliced < size/3 {
		t.Errorf("sliced peak RSS %d saves less than a third of the model (%d) against unsliced %d", sliced, size, unsliced)
	}
}

const rssChildEnv = "COLDINT_MODEL_TEST_RSS_CHILD"

func childPeakRSS(t *testing.T, dir string, budget int64) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+dir+"|"+strconv.FormatInt(budget, 10))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "VMHWM_KB="); ok {
			kb, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("child printed no VMHWM_KB line:\n%s", out)
	return 0
}

// TestRSSChild is the child of TestPeakRSSSliced; it does nothing otherwise.
func TestRSSChild(t *testing.T) {
	arg := os.Getenv(rssChildEnv)
	if arg == "" {
		t.Skip("only runs as the child of TestPeakRSSSliced")
	}
	dir, b, _ := strings.Cut(arg, "|")
	budget, _ := strconv.ParseInt(b, 10, 64)
	m := loadModel(t, dir, budget)
	samples := []Sample{
		{Ids: synth.RandomIDs(1, 64, m.Config().VocabSize), Valid: true},
		{Ids: synth.RandomIDs(2, 64, m.Config().VocabSize), Valid: true},
	}
	l := losses(t, m, samples)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("\nVMHWM_KB=%s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	t.Logf("slices %v losses %v", m.Slices(), l)
}

// TestHostileInputs: broken checkpoints, inconsistent configs and samples
// outside the vocabulary give errors, not crashes.
func TestHostileInputs(t *testing.T) {
	spec := synth.Spec{Arch: "llama", Layers: 2, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 100, Seed: 31}
	good := writeModel(t, spec)
	copyDir := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "m")
		os.MkdirAll(dir, 0o755)
		for _, f := range []string{"config.json", "model.safetensors"} {
			b, err := os.ReadFile(filepath.Join(good, f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		return dir
	}
	st := func(dir string) string { return filepath.Join(dir, "model.safetensors") }
	editConfig := func(t *testing.T, dir string, edit func(map[string]any)) {
		b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		var m map[string]any
		json.Unmarshal(b, &m)
		edit(m)
		b, _ = json.Marshal(m)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"truncated-data", func(t *testing.T, dir string) {
			fi, _ := os.Stat(st(dir))
			os.Truncate(st(dir), fi.Size()-100)
		}, "safetensors"},
		{"truncated-header", func(t *testing.T, dir string) { os.Truncate(st(dir), 20) }, "safetensors"},
		{"empty-file", func(t *testing.T, dir string) { os.Truncate(st(dir), 0) }, "safetensors"},
		{"corrupt-header-json", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(st(dir))
			copy(b[8:], []byte("{\"x\": [1,2,"))
			os.WriteFile(st(dir), b, 0o644)
		}, "safetensors"},
		{"header-length-beyond-file", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(st(dir))
			b[7] = 0x7f
			os.WriteFile(st(dir), b, 0o644)
		}, "safetensors"},
		{"offsets-outside-file", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(st(dir))
			n := binary.LittleEndian.Uint64(b[:8])
			var h map[string]any
			if err := json.Unmarshal(b[8:8+n], &h); err != nil {
				t.Fatal(err)
			}
			e := h["model.norm.weight"].(map[string]any)
			offs := e["data_offsets"].([]any)
			e["data_offsets"] = []any{offs[0].(float64) + 1e9, offs[1].(float64) + 1e9}
			nh, _ := json.Marshal(h)
			for len(nh)%8 != 0 {
				nh = append(nh, ' ')
			}
			out := binary.LittleEndian.AppendUint64(nil, uint64(len(nh)))
			out = append(append(out, nh...), b[8+n:]...)
			os.WriteFile(st(dir), out, 0o644)
		}, "safetensors"},
		{"missing-weights", func(t *testing.T, dir string) { os.Remove(st(dir)) }, "model.safetensors"},
		{"config-hidden-mismatch", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["hidden_size"] = 64 })
		}, "shape"},
		{"config-layers-mismatch", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["num_hidden_layers"] = 3 })
		}, "missing"},
		{"config-vocab-mismatch", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["vocab_size"] = 99 })
		}, "shape"},
		{"config-untied-without-head", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["tie_word_embeddings"] = true })
		}, "unexpected"},
		{"config-not-json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644)
		}, "config"},
		{"config-rope-unsupported", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["rope_scaling"] = map[string]any{"type": "dynamic", "factor": 2.0} })
		}, "rope_scaling"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t)
			tc.setup(t, dir)
			for _, budget := range []int64{0, 1} {
				m, err := testEngine(t).Load(context.Background(), dir, LoadOptions{MaxMemory: budget})
				if err == nil {
					// Lazily read slices must fail at evaluation instead.
					_, err = m.Losses(context.Background(), []Sample{{Ids: []int32{1, 2, 3}, Valid: true}}, nil)
					m.Close()
				}
				if err == nil {
					t.Fatalf("budget %d: no error", budget)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("budget %d: error %q does not mention %q", budget, err, tc.want)
				}
			}
		})
	}

	t.Run("vocab-smaller-than-ids", func(t *testing.T) {
		m := loadModel(t, good, 0)
		for _, ids := range [][]int32{{1, 2, 100}, {5, -1}} {
			_, err := m.Losses(context.Background(), []Sample{{Ids: []int32{1, 2}, Valid: true}, {Ids: ids, Valid: true}}, nil)
			if !errors.Is(err, ErrVocab) {
				t.Errorf("ids %v: error %v, want ErrVocab", ids, err)
			}
			if _, err := m.Logits(context.Background(), ids); !errors.Is(err, ErrVocab) {
				t.Errorf("logits of ids %v: error %v, want ErrVocab", ids, err)
			}
		}
		// An invalid sample is not checked (its loss is +Inf anyway).
		l, err := m.Losses(context.Background(), []Sample{{Ids: []int32{1000}, Valid: false}}, nil)
		if err != nil || !math.IsInf(l[0], 1) {
			t.Errorf("invalid out-of-vocab sample: %v, %v", l, err)
		}
	})
}

// TestEngineErrors: panics and libtorch errors come back as errors, a
// cancelled context stops evaluation, and a closed engine refuses work.
func TestEngineErrors(t *testing.T) {
	e, err := NewEngine(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Do(context.Background(), func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic: got %v", err)
	}
	err = e.Do(context.Background(), func() error {
		a, b := emptyFloat(2, 3), emptyFloat(4, 5)
		defer drop(a, b)
		must(a.Mm(b, false))
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "libtorch") || strings.Contains(err.Error(), "\n") {
		t.Errorf("shape error: got %q, want a one-line libtorch error", err)
	}
	spec := synth.Spec{Arch: "llama", Layers: 1, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 100, Seed: 41}
	m, err := e.Load(context.Background(), writeModel(t, spec), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = m.Losses(ctx, testSamples(spec.Vocab), func(done, total int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("close model: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := m.Losses(context.Background(), testSamples(spec.Vocab), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed model: got %v", err)
	}
	e.Close()
	if err := e.Do(context.Background(), func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("closed engine: got %v", err)
	}
}

// TestPlanSlices checks the slice plans' invariants for many geometries and budgets.
func TestPlanSlices(t *testing.T) {
	for _, layers := range []int{1, 2, 7} {
		cfg := synth.Spec{Arch: "llama", Layers: layers, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 100}.Config()
		for _, elem := range []int64{4, 2} {
			total := elem * cfg.ParamCount()
			for _, budget := range []int64{0, -1, 1, total / 7, total / 3, total / 2, total - 1, total, 2 * total} {
				checkPlan(t, cfg, budget, elem)
			}
		}
	}
}

func checkPlan(t *testing.T, cfg *hf.ModelConfig, budget, elem int64) {
	t.Helper()
	plans := planSlices(cfg, budget, elem)
	total := elem * cfg.ParamCount()
	var sum int64
	for _, p := range plans {
		sum += p.Bytes
	}
	if sum != total {
		t.Errorf("budget %d: slices hold %d bytes, the model %d", budget, sum, total)
	}
	if (budget <= 0 || budget >= total) != (len(plans) == 1) {
		t.Errorf("budget %d of %d: %d slices", budget, total, len(plans))
	}
	if !plans[0].Embed || !plans[len(plans)-1].Final {
		t.Errorf("budget %d: embed/final misplaced: %+v", budget, plans)
	}
	next := 0
	for i, p := range plans {
		if p.First != next || p.Last < p.First || (i > 0 && p.Embed) || (i < len(plans)-1 && p.Final) {
			t.Errorf("budget %d: bad slice %d: %+v", budget, i, plans)
		}
		next = p.Last
	}
	if next != cfg.NumHiddenLayers {
		t.Errorf("budget %d: layers end at %d of %d", budget, next, cfg.NumHiddenLayers)
	}
}

// FuzzPlanSlices checks the plan invariants on arbitrary geometries.
func FuzzPlanSlices(f *testing.F) {
	f.Add(uint8(3), uint16(64), uint16(100), int64(5000))
	f.Fuzz(func(t *testing.T, layers uint8, hidden uint16, vocab uint16, budget int64) {
		if layers == 0 || hidden < 2 || vocab == 0 {
			return
		}
		h := int(hidden%512)*2 + 2
		cfg := synth.Spec{Arch: "llama", Layers: int(layers), Hidden: h, Heads: 1, Intermediate: h, Vocab: int(vocab)}.Config()
		checkPlan(t, cfg, budget, 4)
		checkPlan(t, cfg, budget, 2)
	})
}

// TestSlidingWindowMatters: Phi-3's sliding_window changes the loss of a
// sample longer than the window and not of one within it (the reference test
// checks the values).
func TestSlidingWindowMatters(t *testing.T) {
	spec := synth.Spec{Arch: "phi3", Layers: 1, Hidden: 32, Heads: 2, Intermediate: 32, Vocab: 100, Std: 0.2, Seed: 51}
	plain := loadModel(t, writeModel(t, spec), 0)
	spec.SlidingWindow = 20
	windowed := loadModel(t, writeModel(t, spec), 0)
	short := Sample{Ids: synth.RandomIDs(1, 21, spec.Vocab), Valid: true}
	long := Sample{Ids: synth.RandomIDs(2, 300, spec.Vocab), Valid: true}
	a := losses(t, plain, []Sample{short, long})
	b := losses(t, windowed, []Sample{short, long})
	if a[0] != b[0] || a[1] == b[1] {
		t.Errorf("losses without window %v, with window 20 %v", a, b)
	}
}
