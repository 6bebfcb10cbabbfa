package model

import (
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Placement helpers: every tensor the engine computes with is made on the
// host, moved once to the engine's device in the compute dtype, and results
// come back through an explicit copy to a CPU tensor. Nothing reads device
// memory through a host pointer. On the CPU the moves are no-ops that keep
// the storage (zero-copy), so the same code runs on both.

// gotch is the libtorch dtype of t.
func (t DType) gotch() gotch.DType {
	if t == DTypeBF16 {
		return gotch.BFloat16
	}
	return gotch.Float
}

// Bytes is the size of one element of t (a resolved dtype; auto counts as
// float32).
func (t DType) Bytes() int64 {
	if t == DTypeBF16 {
		return 2
	}
	return 4
}

// toDevice moves t to dev in dtype dt and drops t. When t already is there
// in that dtype the result shares t's storage.
func toDevice(t *ts.Tensor, dev Device, dt gotch.DType) *ts.Tensor {
	return must(t.ToDevice(dev.gotch(), dt, false, false, true))
}

// pinned returns host tensor t in page-locked memory when dev is a GPU (so
// that the copy to it is a direct DMA), else t itself. It drops t when it
// makes a copy.
func pinned(t *ts.Tensor, dev Device) *ts.Tensor {
	if !dev.CUDA {
		return t
	}
	return must(t.PinMemory(dev.gotch(), true))
}

// hostCopy returns t as a contiguous float32 tensor on the CPU; the caller
// drops it. On the CPU a contiguous float32 t is returned as a new handle on
// the same storage, without a copy.
func hostCopy(t *ts.Tensor) *ts.Tensor {
	h := must(t.ToDevice(gotch.CPU, gotch.Float, false, false, false))
	c := must(h.Contiguous(false))
	drop(h)
	return c
}

// hostFloats copies the values of t (any device, any float dtype) into a
// new Go slice, through [hostCopy].
func hostFloats(t *ts.Tensor) []float32 {
	h := hostCopy(t)
	defer drop(h)
	sz, err := h.Size()
	check(err)
	return copyOut(h, numel(sz))
}

// hostScalar reads the single value of t (any device, any float dtype).
func hostScalar(t *ts.Tensor) float64 {
	h := hostCopy(t)
	defer drop(h)
	return scalarValue(h)
}

// longTensorOn copies ids into a new int64 tensor of shape [len(ids)] on dev.
func longTensorOn(ids []int32, dev Device) *ts.Tensor {
	return toDevice(longTensor(ids), dev, gotch.Int64)
}

// floatTensorOn copies values into a new tensor of the given shape on dev,
// in dtype dt (rounded from float32 by libtorch).
func floatTensorOn(values []float32, dev Device, dt gotch.DType, shape ...int64) *ts.Tensor {
	return toDevice(floatTensor(values, shape...), dev, dt)
}

// boolTensorOn copies mask into a new bool tensor of the given shape on dev.
func boolTensorOn(mask []bool, dev Device, shape ...int64) *ts.Tensor {
	return toDevice(boolTensor(mask, shape...), dev, gotch.Bool)
}

// hostRaw allocates an uninitialised contiguous CPU tensor of dtype dt and
// returns it with its memory as bytes (valid while the tensor lives). It is
// how stored weights reach libtorch without a conversion in Go.
func hostRaw(dt gotch.DType, elemSize int64, shape ...int64) (*ts.Tensor, []byte) {
	t := must(ts.Empty(shape, dt, gotch.CPU))
	n := numel(shape) * elemSize
	if n == 0 {
		return t, nil
	}
	p, err := t.DataPtr()
	check(err)
	return t, unsafe.Slice((*byte)(p), n)
}

// sameDevice reports whether t lives on dev.
func sameDevice(t *ts.Tensor, dev Device) bool {
	d, err := t.Device()
	check(err)
	if !dev.CUDA {
		return d.Name == "CPU" // gotch reads the CPU back with another Value
	}
	return d.Name == "CUDA" && d.Value == dev.Index
}

// checkDevice panics with an error naming what when t is not on dev.
func checkDevice(what string, t *ts.Tensor, dev Device) {
	if !sameDevice(t, dev) {
		panic(torchError{fmt.Errorf("%s is on %v, want %s", what, t.MustDevice(), dev)})
	}
}
