package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/model/synth"
)

// noCUDA skips a test on a machine whose engine has CUDA: the refusal of
// --device cuda is what proves the flag reaches the engine here.
func noCUDA(t *testing.T) string {
	t.Helper()
	_, err := model.ResolveDevice("cuda")
	if err == nil {
		t.Skip("this engine has CUDA: --device cuda is accepted, not refused")
	}
	return model.ErrNoCUDA.Error()
}

// computingCommands are the commands that run the engine, each with the
// least arguments that reach the engine's device choice.
var computingCommands = []struct {
	name string
	args []string
}{
	{"eval", []string{"eval", "--model", "m", "--data", "d.jsonl"}},
	{"validate", []string{"validate", "--offline", "--steps", "1"}},
	{"generate", []string{"generate", "--model", "m", "--prompt", "hi"}},
	{"serve", []string{"serve", "--addr", "127.0.0.1:0", "--state", "st"}},
	{"mine precheck", []string{"mine", "precheck", "--model", "m", "--competition", "c00"}},
	{"surgeon slice-info", []string{"surgeon", "slice-info", "--max-memory", "1000", "m"}},
}

// TestDeviceFlagReachesEngine: every computing command refuses --device
// cuda (and COLDINT_DEVICE=cuda) on this CPU-only engine with ErrNoCUDA's
// message and exit code 1, and a misspelled --device or --dtype is a usage
// error (exit code 2) naming the flag.
func TestDeviceFlagReachesEngine(t *testing.T) {
	want := noCUDA(t)
	t.Chdir(t.TempDir())
	for _, tc := range computingCommands {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append(tc.args, "--device", "cuda")...)
			if code != ExitError || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--device cpu") {
				t.Errorf("--device cuda: exit %d, stderr %q; want %d and %q", code, stderr, ExitError, want)
			}
			_, stderr, code = runCLI(t, append(tc.args, "--device", "cuda:1")...)
			if code != ExitError || !strings.Contains(stderr, want) {
				t.Errorf("--device cuda:1: exit %d, stderr %q", code, stderr)
			}
			_, stderr, code = runCLI(t, append(tc.args, "--device", "tpu")...)
			if code != ExitUsage || !strings.Contains(stderr, "--device") || !strings.Contains(stderr, "tpu") {
				t.Errorf("--device tpu: exit %d, stderr %q; want a usage error", code, stderr)
			}
			_, stderr, code = runCLI(t, append(tc.args, "--dtype", "f8")...)
			if code != ExitUsage || !strings.Contains(stderr, "--dtype") || !strings.Contains(stderr, "f8") {
				t.Errorf("--dtype f8: exit %d, stderr %q; want a usage error", code, stderr)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		t.Setenv("COLDINT_DEVICE", "cuda")
		_, stderr, code := runCLI(t, computingCommands[0].args...)
		if code != ExitError || !strings.Contains(stderr, want) {
			t.Errorf("COLDINT_DEVICE=cuda: exit %d, stderr %q", code, stderr)
		}
	})
}

// TestEvalWorkerDevice: the validator's worker computes on the job's device
// and refuses one it does not have.
func TestEvalWorkerDevice(t *testing.T) {
	want := noCUDA(t)
	job, _ := json.Marshal(eval.EvalJob{Dir: t.TempDir(), Samples: [][]int32{{1, 2}}, Device: "cuda"})
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"coldint", "eval-worker"}, IO{In: bytes.NewReader(job), Out: &out, Err: &errb})
	var msg eval.WorkerMessage
	if err := json.Unmarshal(out.Bytes(), &msg); err != nil || code != 0 {
		t.Fatalf("worker exit %d, output %q: %v", code, out.String(), err)
	}
	if !msg.Final || !strings.Contains(msg.Error, want) {
		t.Errorf("worker message %+v, want an error with %q", msg, want)
	}
}

// TestEvalDType: `coldint eval --dtype bf16` computes in bf16 on the CPU:
// its losses are close to the f32 ones but not equal, and --max-memory
// counts bf16 bytes.
func TestEvalDType(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	spec := synth.Spec{Arch: "llama", Layers: 2, Hidden: 32, Heads: 4, KVHeads: 2, Intermediate: 64, Vocab: 90, Std: 0.1, Seed: 8}
	if err := synth.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(data, []byte(`{"ids": `+idsJSON(synth.RandomIDs(5, 50, spec.Vocab))+`}`+"\n"), 0o644)
	loss := func(args ...string) float64 {
		t.Helper()
		out, stderr, code := runCLI(t, append([]string{"eval", "--model", dir, "--data", data, "--threads", "1", "--device", "cpu"}, args...)...)
		if code != 0 {
			t.Fatalf("eval %v failed (%d): %s", args, code, stderr)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			t.Fatalf("eval %v output %q", args, out)
		}
		return v
	}
	f32, bf16 := loss("--dtype", "f32"), loss("--dtype", "bf16")
	if auto := loss(); auto != f32 {
		t.Errorf("auto dtype on the CPU gave %v, f32 %v", auto, f32)
	}
	if f32 == bf16 || relDiff(f32, bf16) > 0.02 {
		t.Errorf("f32 loss %v, bf16 loss %v: want close but different", f32, bf16)
	}
	// A budget of the bf16 size holds the model whole in bf16 (same loss)
	// and not in f32 (sliced: still the same loss, bit for bit).
	budget := strconv.FormatInt(2*spec.Params(), 10)
	if got := loss("--dtype", "bf16", "--max-memory", budget); got != bf16 {
		t.Errorf("bf16 with a bf16-sized budget: %v, want %v", got, bf16)
	}
	if got := loss("--dtype", "bf16", "--max-memory", "unlimited"); got != bf16 {
		t.Errorf("bf16 without budget: %v, want %v", got, bf16)
	}
	_, stderr, code := runCLI(t, "eval", "--model", dir, "--data", data, "--device", "cpu", "--max-memory", "1KiB")
	if code != ExitError || !strings.Contains(stderr, "too large for the memory budget") || !strings.Contains(stderr, "1024") {
		t.Errorf("1 KiB budget: exit %d, stderr %q; want the too-large refusal", code, stderr)
	}
}

// TestSliceInfoDType: surgeon slice-info counts the compute dtype's bytes.
func TestSliceInfoDType(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	spec := synth.Spec{Arch: "llama", Layers: 2, Hidden: 32, Heads: 4, Intermediate: 64, Vocab: 90, Seed: 8}
	if err := synth.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	for dt, size := range map[string]int64{"f32": 4 * spec.Params(), "bf16": 2 * spec.Params()} {
		out, stderr, code := runCLI(t, "surgeon", "slice-info", "--max-memory", "1000000", "--device", "cpu", "--dtype", dt, dir)
		if want := fmt.Sprintf("model %s bytes %d on cpu", dt, size); code != 0 || !strings.Contains(out, want) {
			t.Errorf("--dtype %s: exit %d, output %q (stderr %q); want %q", dt, code, out, stderr, want)
		}
	}
}

func relDiff(a, b float64) float64 {
	d := a - b
	if d < 0 {
		d = -d
	}
	if b < 0 {
		b = -b
	}
	return d / b
}

func TestParseMaxMemory(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": model.NoBudget, " none ": model.NoBudget, "Unlimited": model.NoBudget, "0B": model.NoBudget,
		"1024": 1024, "2KiB": 2048, "1G": 1e9, "1.5GiB": 3 << 29,
	} {
		if got, err := parseMaxMemory(in); err != nil || got != want {
			t.Errorf("parseMaxMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-5", "lots", "5 parsecs", "1e400"} {
		if got, err := parseMaxMemory(in); err == nil {
			t.Errorf("parseMaxMemory(%q) = %d, want an error", in, got)
		}
	}
}

func FuzzParseMaxMemory(f *testing.F) {
	for _, s := range []string{"", "0", "unlimited", "1.5GiB", "12KB", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseMaxMemory(s)
		if err == nil && n < model.NoBudget {
			t.Fatalf("parseMaxMemory(%q) = %d", s, n)
		}
	})
}
