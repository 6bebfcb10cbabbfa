package model

import (
	"errors"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Device
		auto bool
		bad  bool
	}{
		{in: "", auto: true}, {in: "auto", auto: true}, {in: "cpu", want: CPU}, {in: "CPU", want: CPU},
		{in: "cuda", want: Device{CUDA: true}}, {in: "cuda:3", want: Device{CUDA: true, Index: 3}},
		{in: "cuda:-1", bad: true}, {in: "cuda:x", bad: true}, {in: "tpu", bad: true}, {in: "random", bad: true},
	} {
		got, auto, err := ParseDevice(tc.in)
		if (err != nil) != tc.bad || got != tc.want || auto != tc.auto {
			t.Errorf("ParseDevice(%q) = %v, %v, %v", tc.in, got, auto, err)
		}
	}
}

// TestResolveDeviceWithoutCUDA runs on a CPU-only libtorch (skipped where a
// GPU is visible): cuda must be refused, never replaced by the CPU.
func TestResolveDeviceWithoutCUDA(t *testing.T) {
	if cudaDevices() > 0 {
		t.Skip("a CUDA GPU is visible: this test checks the refusal on CPU-only engines")
	}
	for _, s := range []string{"cuda", "cuda:0", "cuda:1"} {
		if d, err := ResolveDevice(s); !errors.Is(err, ErrNoCUDA) {
			t.Errorf("ResolveDevice(%q) = %v, %v; want ErrNoCUDA", s, d, err)
		}
	}
	for _, s := range []string{"", "auto", "cpu"} {
		if d, err := ResolveDevice(s); err != nil || d != CPU {
			t.Errorf("ResolveDevice(%q) = %v, %v; want cpu", s, d, err)
		}
	}
}

func TestParseDType(t *testing.T) {
	for in, want := range map[string]DType{"": DTypeAuto, "auto": DTypeAuto, "f32": DTypeF32, "float32": DTypeF32, "bf16": DTypeBF16} {
		if got, err := ParseDType(in); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseDType("f16"); err == nil {
		t.Error("f16 accepted")
	}
	if DTypeAuto.On(Device{CUDA: true}) != DTypeBF16 || DTypeAuto.On(CPU) != DTypeF32 || DTypeF32.On(Device{CUDA: true}) != DTypeF32 {
		t.Error("auto dtype resolution")
	}
}
