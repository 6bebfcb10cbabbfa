package model

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/sugarme/gotch/ts"
)

// ErrClosed is returned by calls on a closed [Engine] or [Model].
var ErrClosed = errors.New("engine closed")

// Engine owns the goroutine that runs every libtorch call. It is safe for
// concurrent use: calls are queued and run one at a time.
type Engine struct {
	work    chan func()
	quit    chan struct{}
	done    chan struct{}
	threads int
	dev     Device
	once    sync.Once
}

// EngineOptions configure [NewEngineWith].
type EngineOptions struct {
	Threads int    // libtorch intra-op threads (0: all CPUs)
	Device  Device // where tensors live (see [ResolveDevice])
}

// NewEngine starts the engine goroutine, locks it to an OS thread, sets
// libtorch's intra-op thread count to threads (runtime.NumCPU() when threads
// <= 0) and disables autograd on that thread.
func NewEngine(threads int) (*Engine, error) {
	return NewEngineWith(EngineOptions{Threads: threads})
}

// NewEngineWith is [NewEngine] on the device of opts.
func NewEngineWith(opts EngineOptions) (*Engine, error) {
	if err := loadNative(); err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	e := &Engine{
		work:    make(chan func()),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		threads: threads,
		dev:     opts.Device,
	}
	ready := make(chan error, 1)
	go e.loop(ready)
	if err := <-ready; err != nil {
		<-e.done
		return nil, fmt.Errorf("start engine: %w", err)
	}
	return e, nil
}

// Threads is the libtorch thread count the engine runs with.
func (e *Engine) Threads() int { return e.threads }

// Device is where the engine's tensors live.
func (e *Engine) Device() Device { return e.dev }

func (e *Engine) loop(ready chan<- error) {
	// The goroutine never unlocks: when it returns, its OS thread (with its
	// libtorch thread-local state) ends with it.
	runtime.LockOSThread()
	defer close(e.done)
	err := protect(func() error {
		negInfOnce.Do(func() { negInf = ts.FloatScalar(math.Inf(-1)) })
		ts.SetNumThreads(e.threads)
		if _, err := ts.GradSetEnabled(false); err != nil {
			return fmt.Errorf("disable autograd: %w", err)
		}
		return checkNativeABI() // the native library must have this binary's interface version
	})
	ready <- err
	if err != nil {
		return
	}
	for {
		select {
		case fn := <-e.work:
			fn()
		case <-e.quit:
			return
		}
	}
}

// Do runs fn on the engine goroutine and waits for it. A panic inside fn (for
// example from gotch) is recovered and returned as an error. Do returns
// ctx.Err() if ctx ends before fn starts; fn should check ctx itself between
// steps of long work.
func (e *Engine) Do(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	job := func() { res <- protect(fn) }
	select {
	case e.work <- job:
	case <-e.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-res
}

// Close stops the engine goroutine after the running call. Models loaded by
// the engine must be closed first; their tensors are otherwise left to the GC.
func (e *Engine) Close() error {
	e.once.Do(func() { close(e.quit) })
	<-e.done
	return nil
}

// torchError carries a libtorch error through a panic to [protect].
type torchError struct{ err error }

// protect runs fn and turns a panic into an error.
func protect(fn func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if te, ok := r.(torchError); ok {
			err = te.err
			return
		}
		slog.Debug("engine panic", "panic", r, "stack", string(debug.Stack()))
		if e, ok := r.(error); ok {
			err = fmt.Errorf("engine: %w", e)
			return
		}
		err = fmt.Errorf("engine: %v", r)
	}()
	return fn()
}

// cleanTorchErr shortens gotch's error text, which carries a Go stack trace
// and libtorch's C++ backtrace, to its first line.
func cleanTorchErr(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "Libtorch API Error: ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("libtorch: %s", strings.TrimSpace(msg))
}

// check panics with a torchError when err is set.
func check(err error) {
	if err != nil {
		panic(torchError{cleanTorchErr(err)})
	}
}

// must returns t or panics with a torchError.
func must(t *ts.Tensor, err error) *ts.Tensor {
	check(err)
	return t
}
