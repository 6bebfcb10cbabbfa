package model

// #include <stdlib.h>
// #include "native_train.h"
import "C"

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/sugarme/gotch/ts"
)

// devAdamWArgs are the scalars of one AdamW step over a group of parameters
// sharing one weight decay (see native_train.h).
type devAdamWArgs struct {
	lr, beta1, beta2, weightDecay, eps, gradScale float64
	step                                          int64
}

// handles returns the C handles of ts as C memory the caller frees.
func handles(list []*ts.Tensor) *unsafe.Pointer {
	if len(list) == 0 {
		return nil
	}
	p := (*unsafe.Pointer)(C.malloc(C.size_t(len(list)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	s := unsafe.Slice(p, len(list))
	for i, t := range list {
		s[i] = t.Ctensor()
	}
	return p
}

// nativeErr turns a message set by native_train.cc into an error and frees it.
func nativeErr(msg *C.char) error {
	if msg == nil {
		return errors.New("libtorch: unknown error")
	}
	defer C.free(unsafe.Pointer(msg))
	return cleanTorchErr(errors.New(C.GoString(msg)))
}

// deviceGradNorm returns the global L2 norm of grads, reduced on their device
// with one copy of the result to the host.
func deviceGradNorm(grads []*ts.Tensor) float64 {
	if len(grads) == 0 {
		return 0
	}
	h := handles(grads)
	defer C.free(unsafe.Pointer(h))
	var msg *C.char
	n := float64(C.coldint_train_grad_norm(h, C.int(len(grads)), &msg))
	runtime.KeepAlive(grads)
	if n < 0 {
		check(nativeErr(msg))
	}
	return n
}

// deviceAdamW runs one AdamW step over the group p (with gradients g and
// moments m, v) on the tensors' device and reports whether libtorch's fused
// kernel did it (allowFused, CUDA and a libtorch that has one).
func deviceAdamW(p, g, m, v []*ts.Tensor, a devAdamWArgs, allowFused bool) (fused bool) {
	n := len(p)
	if n == 0 {
		return false
	}
	hp, hg, hm, hv := handles(p), handles(g), handles(m), handles(v)
	defer func() {
		for _, h := range []*unsafe.Pointer{hp, hg, hm, hv} {
			C.free(unsafe.Pointer(h))
		}
	}()
	args := C.struct_coldint_train_adamw_args{
		lr: C.double(a.lr), beta1: C.double(a.beta1), beta2: C.double(a.beta2), weight_decay: C.double(a.weightDecay),
		eps: C.double(a.eps), grad_scale: C.double(a.gradScale), step: C.int64_t(a.step),
	}
	af := C.int(0)
	if allowFused {
		af = 1
	}
	var msg *C.char
	rc := C.coldint_train_adamw(hp, hg, hm, hv, C.int(n), &args, af, &msg)
	runtime.KeepAlive(p)
	runtime.KeepAlive(g)
	runtime.KeepAlive(m)
	runtime.KeepAlive(v)
	if rc < 0 {
		check(nativeErr(msg))
	}
	return rc == 1
}

// hasFusedAdamW reports whether this build's libtorch has at::_fused_adamw_.
func hasFusedAdamW() bool { return C.coldint_train_has_fused_adamw() != 0 }
