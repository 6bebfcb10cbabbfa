package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
)

// ErrNoCUDA is returned when a CUDA device is asked for and the engine has
// none: the libtorch it was built against has no CUDA, or no GPU is visible.
var ErrNoCUDA = errors.New("no CUDA device")

// Device is where the engine computes: the CPU or one CUDA GPU.
type Device struct {
	CUDA  bool
	Index int // the GPU's index when CUDA
}

// CPU is the host device.
var CPU = Device{}

// String is the device as --device spells it: "cpu" or "cuda:N".
func (d Device) String() string {
	if !d.CUDA {
		return "cpu"
	}
	return "cuda:" + strconv.Itoa(d.Index)
}

// gotch is the device as gotch names it.
func (d Device) gotch() gotch.Device {
	if !d.CUDA {
		return gotch.CPU
	}
	return gotch.CudaBuilder(uint(d.Index))
}

// ParseDevice reads a --device value: "" or "auto" (CUDA when the engine has
// it and a GPU is visible, else the CPU), "cpu", "cuda" (GPU 0) or "cuda:N".
// It only checks the spelling; [ResolveDevice] checks that the device exists.
func ParseDevice(s string) (dev Device, auto bool, err error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); {
	case v == "" || v == "auto":
		return Device{}, true, nil
	case v == "cpu":
		return CPU, false, nil
	case v == "cuda" || v == "gpu":
		return Device{CUDA: true}, false, nil
	case strings.HasPrefix(v, "cuda:"):
		n, err := strconv.Atoi(v[len("cuda:"):])
		if err != nil || n < 0 {
			return Device{}, false, fmt.Errorf("parse device %q: the GPU index must be a number >= 0", s)
		}
		return Device{CUDA: true, Index: n}, false, nil
	default:
		return Device{}, false, fmt.Errorf("parse device %q: want cpu, cuda or cuda:N", s)
	}
}

// cudaDevices is the number of CUDA GPUs libtorch sees (0 on a CPU build).
func cudaDevices() int {
	var cu gotch.Cuda
	if !cu.IsAvailable() {
		return 0
	}
	return int(cu.DeviceCount())
}

// ResolveDevice parses s and checks it against what the engine has. Asking
// for CUDA where there is none is an error wrapping [ErrNoCUDA], never a
// silent fallback to the CPU.
func ResolveDevice(s string) (Device, error) {
	dev, auto, err := ParseDevice(s)
	if err != nil {
		return Device{}, err
	}
	if err := loadNative(); err != nil {
		return Device{}, err
	}
	n := cudaDevices()
	switch {
	case auto && n > 0:
		return Device{CUDA: true}, nil
	case auto || !dev.CUDA:
		return CPU, nil
	case n == 0:
		return Device{}, fmt.Errorf("use device %q: %w: this engine's libtorch has no CUDA or no GPU is visible (use --device cpu)", s, ErrNoCUDA)
	case dev.Index >= n:
		return Device{}, fmt.Errorf("use device %q: %w: GPU %d asked for, %d visible", s, ErrNoCUDA, dev.Index, n)
	}
	return dev, nil
}

// DType is the compute dtype of weights and activations. Logits and the
// cross-entropy are always float32.
type DType string

const (
	DTypeAuto DType = ""     // bf16 on CUDA (as the reference validator), f32 on the CPU
	DTypeF32  DType = "f32"  // float32 everywhere
	DTypeBF16 DType = "bf16" // bfloat16 weights and activations
)

// ParseDType reads a --dtype value: "" or "auto", "f32" (float32) or "bf16"
// (bfloat16).
func ParseDType(s string) (DType, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "auto":
		return DTypeAuto, nil
	case "f32", "float32", "fp32":
		return DTypeF32, nil
	case "bf16", "bfloat16":
		return DTypeBF16, nil
	default:
		return "", fmt.Errorf("parse dtype %q: want auto, f32 or bf16", s)
	}
}

// On resolves the auto dtype for dev.
func (t DType) On(dev Device) DType {
	if t != DTypeAuto {
		return t
	}
	if dev.CUDA {
		return DTypeBF16
	}
	return DTypeF32
}
