package model

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// arena collects intermediate tensors so that they can be dropped together.
// Dropping a tensor twice is harmless.
type arena struct{ list []*ts.Tensor }

// add registers t and returns it.
func (a *arena) add(t *ts.Tensor) *ts.Tensor {
	a.list = append(a.list, t)
	return t
}

// t registers the result of a gotch call, panicking on its error.
func (a *arena) t(t *ts.Tensor, err error) *ts.Tensor { return a.add(must(t, err)) }

// free drops every registered tensor.
func (a *arena) free() {
	for _, t := range a.list {
		_ = t.Drop()
	}
	a.list = a.list[:0]
}

// drop frees tensors, ignoring nil ones.
func drop(list ...*ts.Tensor) {
	for _, t := range list {
		if t != nil {
			_ = t.Drop()
		}
	}
}

// inPlace runs a gotch in-place operation (a method ending in "_") on t and
// panics with its error. gotch's in-place wrappers give t a new libtorch
// handle and never free the old one, which keeps the tensor's storage alive
// for good (in gotch v0.9.1 every in-place op leaks); inPlace frees it.
func inPlace(t *ts.Tensor, op func() error) {
	old := t.Ctensor()
	check(op())
	if cur := t.Ctensor(); old != nil && cur != old {
		lib.AtFree(lib.Ctensor(old))
	}
}

// emptyFloat allocates an uninitialised float32 CPU tensor.
func emptyFloat(shape ...int64) *ts.Tensor {
	return must(ts.Empty(shape, gotch.Float, gotch.CPU))
}

// floatData returns the memory of a contiguous float32 tensor as a slice. The
// slice is valid while t is alive.
func floatData(t *ts.Tensor, n int64) []float32 {
	if n == 0 {
		return nil
	}
	p, err := t.DataPtr()
	check(err)
	return unsafe.Slice((*float32)(p), n)
}

// floatTensor copies values into a new float32 tensor of the given shape.
func floatTensor(values []float32, shape ...int64) *ts.Tensor {
	t := emptyFloat(shape...)
	copy(floatData(t, int64(len(values))), values)
	return t
}

// longTensor copies ids into a new int64 tensor of shape [len(ids)].
func longTensor(ids []int32) *ts.Tensor {
	t := must(ts.Empty([]int64{int64(len(ids))}, gotch.Int64, gotch.CPU))
	if len(ids) > 0 {
		p, err := t.DataPtr()
		check(err)
		dst := unsafe.Slice((*int64)(p), len(ids))
		for i, id := range ids {
			dst[i] = int64(id)
		}
	}
	return t
}

// boolTensor copies mask into a new bool tensor of the given shape.
func boolTensor(mask []bool, shape ...int64) *ts.Tensor {
	b := make([]byte, len(mask))
	for i, m := range mask {
		if m {
			b[i] = 1
		}
	}
	return must(ts.OfDataSize(b, shape, gotch.Bool))
}

// scalarValue reads the single float32 value of t.
func scalarValue(t *ts.Tensor) float64 {
	if t.DType() != gotch.Float {
		panic(torchError{fmt.Errorf("libtorch: scalar of dtype %v, want float32", t.DType())})
	}
	return float64(floatData(t, 1)[0])
}

// copyOut copies a contiguous float32 tensor of n elements into a new slice.
func copyOut(t *ts.Tensor, n int64) []float32 {
	out := make([]float32, n)
	copy(out, floatData(t, n))
	return out
}

// negInf is -Inf as a libtorch scalar, made when the first engine starts
// (not at package initialisation, which would load the native library).
var (
	negInf     *ts.Scalar
	negInfOnce sync.Once
)
