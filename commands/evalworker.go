package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/model"
	"github.com/urfave/cli/v2"
)

// evalWorkerOptions are the inputs of the hidden `coldint eval-worker`.
type evalWorkerOptions struct {
	IO         IO
	TestExitIf string
	TestHangIf string
}

// newEvalWorkerCmd is the hidden child process of `coldint validate`: it
// evaluates one model (an eval.EvalJob as JSON on stdin) and writes
// eval.WorkerMessage lines on stdout, so that a crash, hang or NaN in one
// model cannot take the validator down.
func newEvalWorkerCmd(f *Factory, runF func(context.Context, *evalWorkerOptions) error) *cli.Command {
	o := &evalWorkerOptions{IO: f.IO}
	if runF == nil {
		runF = runEvalWorker
	}
	return &cli.Command{
		Name:   "eval-worker",
		Usage:  "internal: evaluate one model for `coldint validate` (JSON job on stdin, JSON lines on stdout)",
		Hidden: true,
		// Test-only hooks (hidden flags, so also COLDINT_TEST_EXIT_IF and
		// COLDINT_TEST_HANG_IF, which the validator's children inherit): when
		// the job's model folder contains the value, the worker exits with
		// status 3 (a crash) or hangs until the validator's timeout kills it.
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "test-exit-if", Hidden: true, Destination: &o.TestExitIf},
			&cli.StringFlag{Name: "test-hang-if", Hidden: true, Destination: &o.TestHangIf},
		},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

// runEvalWorker answers the job on stdin. Every failure is reported as a
// final message on stdout (the validator reads it), not as an exit status.
func runEvalWorker(ctx context.Context, o *evalWorkerOptions) error {
	var mu sync.Mutex
	enc := json.NewEncoder(o.IO.Out)
	send := func(m eval.WorkerMessage) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
	}
	b, err := io.ReadAll(o.IO.In)
	if err != nil {
		send(eval.WorkerMessage{Final: true, Error: "read job: " + err.Error()})
		return nil
	}
	var job eval.EvalJob
	if err := json.Unmarshal(b, &job); err != nil {
		send(eval.WorkerMessage{Final: true, Error: "parse job: " + err.Error()})
		return nil
	}
	if s := o.TestExitIf; s != "" && strings.Contains(job.Dir, s) {
		send(eval.WorkerMessage{Done: 0, Total: len(job.Samples)})
		os.Exit(3)
	}
	if s := o.TestHangIf; s != "" && strings.Contains(job.Dir, s) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Hour):
		}
		return nil
	}
	losses, slices, err := engineLosses(ctx, &job, func(done, total int) { send(eval.WorkerMessage{Done: done, Total: total}) })
	if err != nil {
		send(eval.WorkerMessage{Final: true, Error: err.Error()})
		return nil
	}
	send(eval.WorkerMessage{Final: true, Losses: eval.JSONFloats(losses), Slices: slices})
	return nil
}

// engineLosses runs a job through the libtorch engine in this process, on
// the job's device and in its dtype.
func engineLosses(ctx context.Context, job *eval.EvalJob, progress func(done, total int)) ([]float64, int, error) {
	ec, err := resolveEngineStrings("eval-worker", job.Device, job.DType)
	if err != nil {
		return nil, 0, err
	}
	e, err := ec.newEngine(job.Threads)
	if err != nil {
		return nil, 0, fmt.Errorf("start engine: %w", err)
	}
	defer e.Close()
	m, err := e.Load(ctx, job.Dir, ec.loadOptions(job.MaxMemory))
	if err != nil {
		return nil, 0, fmt.Errorf("load model: %w", err)
	}
	defer m.Close()
	samples := make([]model.Sample, len(job.Samples))
	for i, s := range job.Samples {
		samples[i] = model.Sample{Ids: s, Valid: s != nil}
	}
	if err := m.CheckVocab(samples); err != nil {
		return nil, 0, err
	}
	losses, err := m.Losses(ctx, samples, progress)
	if err != nil {
		return nil, 0, fmt.Errorf("losses: %w", err)
	}
	return losses, len(m.Slices()), nil
}
