package model

// Stress tests of the patched gotch build (tools/gotchpatch, mk/torch.mk):
//   - TestGotchStressConcurrentTraining: several goroutines, each locked to an
//     OS thread, train their own MLP with AdamW and read the loss with
//     Float64Values while another goroutine forces garbage collections. Stock
//     gotch v0.9.1 frees tensors from GC finalizers while cgo calls still use
//     them (SIGSEGV in at_copy_data, docs/engine.md#the-gotch-patch); the patch's
//     runtime.KeepAlive calls fix that. A crash kills the test binary.
//   - TestGotchStressRSS: thousands of forward/backward steps with explicit
//     drops; resident memory after warm-up and at the end must not grow by
//     more than a generous bound (a leak check, not a timing assertion).
//     Measured here: RSS climbs ~90 MB over the first few hundred steps
//     (allocator pools, AdamW state) and then stays flat (251.6 -> 251.9 MB
//     from step 1,000 to 8,000), so a leak of one 128 KiB activation per step
//     would exceed the bound many times over.

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// stressMLP is a two-layer perceptron with its own VarStore and AdamW optimizer.
type stressMLP struct {
	vs     *nn.VarStore
	l1, l2 *nn.Linear
	opt    *nn.Optimizer
}

func newStressMLP(in, hidden, out int64, lr float64) (*stressMLP, error) {
	vs := nn.NewVarStore(gotch.CPU)
	root := vs.Root()
	m := &stressMLP{
		vs: vs,
		l1: nn.NewLinear(root.Sub("fc1"), in, hidden, nn.DefaultLinearConfig()),
		l2: nn.NewLinear(root.Sub("fc2"), hidden, out, nn.DefaultLinearConfig()),
	}
	opt, err := nn.DefaultAdamWConfig().Build(vs, lr)
	if err != nil {
		return nil, fmt.Errorf("build adamw: %w", err)
	}
	m.opt = opt
	return m, nil
}

// step runs one training step on (x, y) and returns the mean-square loss
// before the update. Every intermediate is dropped explicitly. With clip it
// clips the gradient norm to 1 first (exercising the patched ClipGradNorm).
func (m *stressMLP) step(x, y *ts.Tensor, clip bool) (float64, error) {
	h := m.l1.Forward(x)
	a := h.MustRelu(true)
	p := m.l2.Forward(a)
	a.MustDrop()
	d := p.MustSub(y, true)
	loss := d.MustSquare(true).MustMean(gotch.Float, true)
	if err := m.opt.ZeroGrad(); err != nil {
		loss.MustDrop()
		return 0, fmt.Errorf("zero grad: %w", err)
	}
	loss.MustBackward()
	if clip {
		if err := m.opt.ClipGradNorm(1.0); err != nil {
			loss.MustDrop()
			return 0, fmt.Errorf("clip grad norm: %w", err)
		}
	}
	if err := m.opt.Step(); err != nil {
		loss.MustDrop()
		return 0, fmt.Errorf("adamw step: %w", err)
	}
	// Float64Values leaves its temporary Double copy to the GC: the pattern
	// that crashed stock gotch.
	v := loss.Float64Values()
	loss.MustDrop()
	if len(v) != 1 {
		return 0, fmt.Errorf("read loss: %d values", len(v))
	}
	return v[0], nil
}

// stressData returns a fixed regression problem: y = sin(x·w) for a random w.
func stressData(n, in int64) (x, y *ts.Tensor) {
	x = ts.MustRandn([]int64{n, in}, gotch.Float, gotch.CPU)
	w := ts.MustRandn([]int64{in, 1}, gotch.Float, gotch.CPU)
	y = x.MustMatmul(w, false).MustSin(true)
	w.MustDrop()
	return x, y
}

// stressWorker trains one MLP on a locked OS thread and reports the mean loss
// of its first and last 10 % of steps.
func stressWorker(steps int) (first, last float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gotch panic: %v", r)
		}
	}()
	ts.SetNumThreads(1)
	m, err := newStressMLP(16, 32, 1, 3e-3)
	if err != nil {
		return 0, 0, err
	}
	x, y := stressData(64, 16)
	defer x.MustDrop()
	defer y.MustDrop()
	tenth := steps / 10
	for i := 0; i < steps; i++ {
		l, err := m.step(x, y, i%4 == 0)
		if err != nil {
			return 0, 0, fmt.Errorf("step %d: %w", i, err)
		}
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return 0, 0, fmt.Errorf("step %d: loss %v", i, l)
		}
		switch {
		case i < tenth:
			first += l / float64(tenth)
		case i >= steps-tenth:
			last += l / float64(tenth)
		}
	}
	return first, last, nil
}

func TestGotchStressConcurrentTraining(t *testing.T) {
	const workers = 4
	steps := 2500
	if testing.Short() {
		steps = 300
	}
	old := debug.SetGCPercent(1)
	defer debug.SetGCPercent(old)

	// GC pressure: collections back to back plus garbage, until the workers finish.
	done := make(chan struct{})
	var gcs int
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		var sink [][]byte
		for {
			select {
			case <-done:
				return
			default:
			}
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 16 {
				sink = sink[:0]
			}
			runtime.GC()
			gcs++
			time.Sleep(200 * time.Microsecond)
		}
	}()

	start := time.Now()
	type result struct {
		first, last float64
		err         error
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f, l, err := stressWorker(steps)
			results[w] = result{f, l, err}
		}(w)
	}
	wg.Wait()
	close(done)
	gcWG.Wait()
	t.Logf("%d workers × %d AdamW steps with %d forced GCs in %v", workers, steps, gcs, time.Since(start).Round(time.Millisecond))
	for w, r := range results {
		if r.err != nil {
			t.Errorf("worker %d: %v", w, r.err)
			continue
		}
		t.Logf("worker %d: mean loss first 10%% %.4f, last 10%% %.4f", w, r.first, r.last)
		if !(r.last < r.first) {
			t.Errorf("worker %d: loss did not decrease (%.4f -> %.4f): training is broken", w, r.first, r.last)
		}
	}
}

// stressVmRSS returns the resident set size of this process in bytes, from /proc/self/status.
func stressVmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("skipped: no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 3 && string(f[0]) == "VmRSS:" && string(f[2]) == "kB" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", f[1], err)
			}
			return kb << 10
		}
	}
	t.Fatalf("parse /proc/self/status: no VmRSS line")
	return 0
}

func TestGotchStressRSS(t *testing.T) {
	const (
		warmup   = 300
		maxGrowB = 64 << 20
	)
	steps := 2000
	if testing.Short() {
		steps = 1000
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.SetNumThreads(1)

	// Big enough that a leaked activation per step (64×512 floats = 128 KiB)
	// would add hundreds of MB over the run.
	m, err := newStressMLP(256, 512, 8, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	x := ts.MustRandn([]int64{64, 256}, gotch.Float, gotch.CPU)
	y := ts.MustRandn([]int64{64, 8}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	defer y.MustDrop()

	settle := func() int64 {
		runtime.GC()
		runtime.GC() // the second cycle frees what the first one's finalizers released
		return stressVmRSS(t)
	}
	var after int64
	start := time.Now()
	for i := 0; i < warmup+steps; i++ {
		if i == warmup {
			after = settle()
		}
		if _, err := m.step(x, y, i%8 == 0); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	end := settle()
	grow := end - after
	t.Logf("RSS after %d warm-up steps %.1f MB, after %d more steps %.1f MB, growth %+.1f MB (%v, %.2f ms/step)",
		warmup, float64(after)/(1<<20), steps, float64(end)/(1<<20), float64(grow)/(1<<20),
		time.Since(start).Round(time.Millisecond), float64(time.Since(start).Microseconds())/1e3/float64(warmup+steps))
	if grow > maxGrowB {
		t.Fatalf("RSS grew by %.1f MB over %d forward/backward steps (bound %d MB): leak", float64(grow)/(1<<20), steps, maxGrowB>>20)
	}
}
