package publish

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
)

func TestParseDType(t *testing.T) {
	tests := []struct {
		in   string
		want safetensors.DType
		err  bool
	}{
		{"bf16", safetensors.BF16, false}, {"BFloat16", safetensors.BF16, false},
		{"f16", safetensors.F16, false}, {"fp16", safetensors.F16, false}, {"float16", safetensors.F16, false},
		{"f32", safetensors.F32, false}, {"FP32", safetensors.F32, false},
		{"f8", "", true}, {"", "", true}, {"int8", "", true},
	}
	for _, tc := range tests {
		got, err := ParseDType(tc.in)
		if tc.err != (err != nil) || got != tc.want {
			t.Errorf("ParseDType(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseDType(%q): error %q does not name the value", tc.in, err)
		}
	}
}

// TestUploadDir converts an f32 model to bf16 and f16 copies next to it:
// weights rounded to the dtype, torch_dtype updated, the tokenizer carried
// along, the source untouched, and a second call reusing the copy.
func TestUploadDir(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "model")
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.F32}); err != nil {
		t.Fatal(err)
	}
	tok := []byte(`{"model":{"type":"BPE"}}`)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := UploadDir(ctx, dir, ""); err != nil || got != dir {
		t.Fatalf("no dtype: %q, %v; want the folder itself", got, err)
	}
	src := readAll(t, dir)
	for _, tc := range []struct {
		dt    safetensors.DType
		torch string
	}{{safetensors.BF16, "bfloat16"}, {safetensors.F16, "float16"}} {
		conv, err := UploadDir(ctx, dir, tc.dt)
		if err != nil {
			t.Fatal(err)
		}
		if want := dir + "." + strings.ToLower(string(tc.dt)); conv != want {
			t.Fatalf("converted folder %q, want %q", conv, want)
		}
		c, err := hf.LoadModelConfig(conv)
		if err != nil || c.TorchDtype != tc.torch {
			t.Fatalf("%s: torch_dtype %q (%v), want %q", tc.dt, c.TorchDtype, err, tc.torch)
		}
		if b, err := os.ReadFile(filepath.Join(conv, "tokenizer.json")); err != nil || string(b) != string(tok) {
			t.Fatalf("%s: tokenizer not copied: %q %v", tc.dt, b, err)
		}
		got := readAll(t, conv)
		if len(got) != len(src) {
			t.Fatalf("%s: %d tensors, want %d", tc.dt, len(got), len(src))
		}
		for name, want := range src {
			if got[name].dt != tc.dt {
				t.Fatalf("%s: %s stored as %s", tc.dt, name, got[name].dt)
			}
			for i, v := range want.vals {
				if d := got[name].vals[i] - v; d > 1e-2*abs(v)+1e-6 || -d > 1e-2*abs(v)+1e-6 {
					t.Fatalf("%s: %s[%d] = %v, want about %v", tc.dt, name, i, got[name].vals[i], v)
				}
			}
		}
		// A second call reuses the copy rather than converting again.
		marker := filepath.Join(conv, "marker")
		os.WriteFile(marker, nil, 0o644)
		if again, err := UploadDir(ctx, dir, tc.dt); err != nil || again != conv {
			t.Fatalf("second call: %q, %v", again, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("second call rewrote the copy: %v", err)
		}
	}
	if after := readAll(t, dir); after["model.embed_tokens.weight"].dt != safetensors.F32 {
		t.Fatal("the source folder changed")
	}
	if _, err := UploadDir(ctx, filepath.Join(t.TempDir(), "none"), safetensors.BF16); err == nil || !strings.Contains(err.Error(), "none") {
		t.Fatalf("missing model: %v", err)
	}
}

type tensor struct {
	dt   safetensors.DType
	vals []float32
}

func readAll(t *testing.T, dir string) map[string]tensor {
	t.Helper()
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	out := map[string]tensor{}
	for _, info := range set.Tensors() {
		vals, _, err := set.ReadFloat32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[info.Name] = tensor{info.DType, vals}
	}
	return out
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
