package model

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/sugarme/gotch"
)

func TestParseMemAvailable(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		err      string
	}{
		{"real", "MemTotal:       24615060 kB\nMemFree:         1520312 kB\nMemAvailable:   20044756 kB\nBuffers:  1 kB\n", 20044756 << 10, ""},
		{"first line", "MemAvailable: 1 kB", 1024, ""},
		{"missing", "MemTotal: 5 kB\n", 0, "no MemAvailable"},
		{"no unit", "MemAvailable: 5\n", 0, "not \"N kB\""},
		{"other unit", "MemAvailable: 5 MB\n", 0, "not \"N kB\""},
		{"negative", "MemAvailable: -5 kB\n", 0, "not a size"},
		{"huge", "MemAvailable: 99999999999999999999 kB\n", 0, "not a size"},
		{"prefix only", "MemAvailableX: 5 kB\n", 0, "no MemAvailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMemAvailable([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %d, %v; want error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func FuzzParseMemAvailable(f *testing.F) {
	f.Add([]byte("MemAvailable:   20044756 kB\n"))
	f.Add([]byte("MemTotal: 1 kB\nMemAvailable: 0 kB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseMemAvailable(data)
		if err == nil && (n < 0 || n%1024 != 0) {
			t.Fatalf("parsed %d bytes from %q", n, data)
		}
	})
}

// TestDefaultBudget: on the CPU the default is half of MemAvailable; a GPU
// budget on this CPU-only libtorch is an error naming the missing runtime.
func TestDefaultBudget(t *testing.T) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skipf("no /proc/meminfo on this system: %v", err)
	}
	avail, err := parseMemAvailable(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DefaultBudget(CPU)
	if err != nil {
		t.Fatal(err)
	}
	// MemAvailable moves between the two reads: allow 10%.
	if want := avail / 2; got < want*9/10 || got > want*11/10 {
		t.Errorf("CPU budget %d, want about %d (half of MemAvailable)", got, want)
	}
	if cudaDevices() > 0 {
		t.Skip("this libtorch has CUDA: the no-runtime case cannot be checked here")
	}
	_, err = DefaultBudget(Device{CUDA: true})
	if !errors.Is(err, errNoCUDARuntime) || !strings.Contains(err.Error(), "cuda:0") {
		t.Errorf("GPU budget without CUDA: got %v", err)
	}
	for _, tc := range []struct{ in, want int64 }{{-1, 0}, {NoBudget, 0}, {123, 123}} {
		if b, err := resolveBudget(tc.in, CPU); err != nil || b != tc.want {
			t.Errorf("resolveBudget(%d) = %d, %v; want %d", tc.in, b, err, tc.want)
		}
	}
	if b, err := resolveBudget(0, CPU); err != nil || b <= 0 {
		t.Errorf("resolveBudget(0) = %d, %v; want the CPU default", b, err)
	}
}

func TestIsOOM(t *testing.T) {
	for msg, want := range map[string]bool{
		"libtorch: CUDA out of memory. Tried to allocate 20.00 MiB":                                                                        true,
		"libtorch: [enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes": true,
		"libtorch: DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes":                                                  true,
		"libtorch: shape '[2, 3]' is invalid for input of size 5":                                                                          false,
	} {
		if got := isOOM(errors.New(msg)); got != want {
			t.Errorf("isOOM(%q) = %v", msg, got)
		}
	}
	if isOOM(nil) {
		t.Error("isOOM(nil)")
	}
}

// TestHostCopy: results come back to a float32 CPU tensor from any dtype;
// the on-device constructors place tensors on the engine's device.
func TestHostCopy(t *testing.T) {
	err := testEngine(t).Do(context.Background(), func() error {
		vals := []float32{1, -2.5, 3.140625, 1e-3}
		bf := floatTensorOn(vals, CPU, gotch.BFloat16, 2, 2)
		defer drop(bf)
		if bf.DType() != gotch.BFloat16 || !sameDevice(bf, CPU) || sameDevice(bf, Device{CUDA: true}) {
			t.Errorf("tensor of dtype %v on %v", bf.DType(), bf.MustDevice())
		}
		got := hostFloats(bf)
		want := []float32{1, -2.5, 3.140625, safetensors.BF16ToF32(safetensors.F32ToBF16(1e-3))}
		if want[3] == 1e-3 {
			t.Fatal("1e-3 is exact in bf16: the check would not see a missing rounding")
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("value %d: %v, want %v", i, got[i], want[i])
			}
		}
		f := floatTensorOn(vals, CPU, gotch.Float, 4)
		defer drop(f)
		if v := hostScalar(must(f.Narrow(0, 2, 1, false))); float32(v) != vals[2] {
			t.Errorf("scalar %v, want %v", v, vals[2])
		}
		ids := longTensorOn([]int32{7, 9}, CPU)
		defer drop(ids)
		if ids.DType() != gotch.Int64 {
			t.Errorf("ids of dtype %v", ids.DType())
		}
		mask := boolTensorOn([]bool{true, false}, CPU, 2)
		defer drop(mask)
		checkDevice("mask", mask, CPU)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
