package model

// #include <stdlib.h>
// #include "c10d.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// ddpBucketBytes is the size of the buffers gradients are flattened into for
// one all-reduce each (tests make it small to have many buckets).
var ddpBucketBytes int64 = 25 << 20

// DDPOptions name one rank of a data-parallel group.
type DDPOptions struct {
	// Addr and Port are where rank 0 hosts the rendezvous store.
	Addr string
	Port int
	// Rank is this process's index among World processes.
	Rank, World int
	// Timeout bounds the rendezvous and every collective: a rank whose peer
	// is gone or stuck fails after at most this long.
	Timeout time.Duration
	// AgentStore means the launcher hosts the store (torchrun with
	// TORCHELASTIC_USE_AGENT_STORE=True): rank 0 connects to it too.
	AgentStore bool
}

// DDP is one rank's membership of a data-parallel group over libtorch's c10d
// (a TCPStore rendezvous, Gloo for CPU tensors, NCCL for CUDA tensors in a
// CUDA build). Its collectives run on the engine goroutine.
type DDP struct {
	e    *Engine
	pg   unsafe.Pointer
	opts DDPOptions
}

// Rank is this process's index in the group.
func (d *DDP) Rank() int { return d.opts.Rank }

// World is the number of processes in the group.
func (d *DDP) World() int { return d.opts.World }

// c10dErr turns a message set by c10d.cc into an error and frees it.
func c10dErr(msg *C.char) error {
	if msg == nil {
		return errors.New("c10d: unknown error")
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}

// JoinDDP joins the data-parallel group described by o. It blocks until
// every rank has joined or o.Timeout has passed.
func (e *Engine) JoinDDP(ctx context.Context, o DDPOptions) (*DDP, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Addr == "" {
		return nil, fmt.Errorf("join data-parallel group: no rendezvous address")
	}
	d := &DDP{e: e, opts: o}
	err := e.Do(ctx, func() error {
		addr := C.CString(o.Addr)
		defer C.free(unsafe.Pointer(addr))
		var msg *C.char
		if C.coldint_c10d_new(addr, C.int(o.Port), C.int(o.Rank), C.int(o.World), C.int64_t(o.Timeout.Milliseconds()),
			C.int(boolInt(e.Device().CUDA)), C.int(boolInt(o.AgentStore)), &d.pg, &msg) != 0 {
			return c10dErr(msg)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("join data-parallel group: %w", err)
	}
	return d, nil
}

// Close leaves the group.
func (d *DDP) Close() error {
	if d.pg == nil {
		return nil
	}
	pg := d.pg
	d.pg = nil
	return d.e.Do(context.Background(), func() error {
		C.coldint_c10d_free(pg)
		return nil
	})
}

// Barrier waits until every rank has reached it.
func (d *DDP) Barrier(ctx context.Context) error {
	return d.e.Do(ctx, func() error { return d.barrier() })
}

func (d *DDP) barrier() error {
	var msg *C.char
	if C.coldint_c10d_barrier(d.pg, &msg) != 0 {
		return c10dErr(msg)
	}
	return nil
}

// Agree fails unless every rank passes the same digest for what (a short
// name such as "run state"); the error names the first rank that differs.
// Every rank calls it once per what.
func (d *DDP) Agree(ctx context.Context, what, digest string) error {
	return d.e.Do(ctx, func() error { return d.agree(what, digest) })
}

func (d *DDP) agree(what, digest string) error {
	w, dg := C.CString(what), C.CString(digest)
	defer C.free(unsafe.Pointer(w))
	defer C.free(unsafe.Pointer(dg))
	var msg *C.char
	if C.coldint_c10d_agree(d.pg, w, dg, &msg) != 0 {
		return c10dErr(msg)
	}
	return nil
}

// allReduceSum replaces every tensor by its sum over the ranks (engine
// goroutine).
func (d *DDP) allReduceSum(list []*ts.Tensor) error {
	h := handles(list)
	defer C.free(unsafe.Pointer(h))
	var msg *C.char
	rc := C.coldint_c10d_allreduce_sum(d.pg, h, C.int(len(list)), &msg)
	runtime.KeepAlive(list)
	if rc != 0 {
		return c10dErr(msg)
	}
	return nil
}

// broadcast copies rank root's tensors into every rank's (engine goroutine).
func (d *DDP) broadcast(list []*ts.Tensor, root int) error {
	if len(list) == 0 {
		return nil
	}
	h := handles(list)
	defer C.free(unsafe.Pointer(h))
	var msg *C.char
	rc := C.coldint_c10d_broadcast(d.pg, h, C.int(len(list)), C.int(root), C.int64_t(ddpBucketBytes), &msg)
	runtime.KeepAlive(list)
	if rc != 0 {
		return c10dErr(msg)
	}
	return nil
}

// pendingReduce is a gradient all-reduce started by startAllReduce.
type pendingReduce struct {
	work unsafe.Pointer
	list []*ts.Tensor
}

// startAllReduce starts summing list over the ranks on the process group's
// threads and returns at once (engine goroutine); the tensors must not
// change until finish.
func (d *DDP) startAllReduce(list []*ts.Tensor) (*pendingReduce, error) {
	h := handles(list)
	defer C.free(unsafe.Pointer(h))
	var work unsafe.Pointer
	var msg *C.char
	if C.coldint_c10d_allreduce_start(d.pg, h, C.int(len(list)), C.int64_t(ddpBucketBytes), &work, &msg) != 0 {
		return nil, c10dErr(msg)
	}
	return &pendingReduce{work: work, list: list}, nil
}

// finish waits for the reduction and returns its results: a tensor that
// shared a bucket with others is not overwritten, its result comes back as
// views[i], a view into the bucket's buffer, which saves copying it back
// (views[i] is nil for a tensor reduced in place); the caller owns the
// views (engine goroutine).
func (d *DDP) finish(p *pendingReduce) ([]*ts.Tensor, error) {
	out := handles(p.list)
	defer C.free(unsafe.Pointer(out))
	var msg *C.char
	rc := C.coldint_c10d_allreduce_finish(d.pg, p.work, out, &msg)
	runtime.KeepAlive(p.list)
	views := make([]*ts.Tensor, len(p.list))
	if rc != 0 {
		return nil, c10dErr(msg)
	}
	for i, v := range unsafe.Slice(out, len(p.list)) {
		if v != nil {
			views[i] = ts.New(lib.Ctensor(v))
		}
	}
	return views, nil
}
