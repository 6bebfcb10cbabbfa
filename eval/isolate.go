package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/internal/jsonobj"
)

// EvalJob is one model's evaluation: the samples whose summed loss the
// engine computes (docs/scoring.md#per-sample-loss "Loss"). A nil sample is invalid (+Inf).
type EvalJob struct {
	// Dir is the model directory (config.json and safetensors).
	Dir string `json:"dir"`
	// Samples are token rows; nil marks an invalid sample.
	Samples [][]int32 `json:"samples"`
	// MaxMemory is the resident-weight budget in bytes, counted in the
	// compute dtype; a larger model is evaluated in layer slices. 0 means
	// the device's default budget, [NoBudget] none.
	MaxMemory int64 `json:"max_memory,omitempty"`
	// Threads is the engine's thread count (0: all cores).
	Threads int `json:"threads,omitempty"`
	// Device is where the engine computes, as --device spells it ("": auto).
	Device string `json:"device,omitempty"`
	// DType is the compute dtype, as --dtype spells it ("": auto).
	DType string `json:"dtype,omitempty"`
}

// NoBudget as a memory budget keeps every weight of a model resident (the
// engine's model.NoBudget).
const NoBudget int64 = -1

// ErrModelIssue marks a model that cannot be evaluated (crash, hang,
// non-finite losses, vocabulary mismatch): the model gets no results this
// step and the validator goes on.
var ErrModelIssue = errors.New("model issue")

// Scorer computes the summed losses of a job. Implementations must return
// one loss per sample (+Inf for invalid ones) or an error; an error wrapping
// [ErrModelIssue] blames the model rather than the validator.
type Scorer interface {
	Score(ctx context.Context, job *EvalJob, progress func(done, total int)) ([]float64, error)
}

// RandomScorer is `--device random` (docs/scoring.md#per-sample-loss): the loss of a sample of L
// tokens is (U(0,1)+0.5)·L, invalid samples +Inf. The uniform draw is seeded
// by the model directory and the sample's ids, so a recomputation gives the
// same value and cache spot checks pass.
type RandomScorer struct{}

// Score implements [Scorer].
func (RandomScorer) Score(ctx context.Context, job *EvalJob, progress func(done, total int)) ([]float64, error) {
	out := make([]float64, len(job.Samples))
	for i, s := range job.Samples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s == nil {
			out[i] = math.Inf(1)
			continue
		}
		h := fnv.New64a()
		io.WriteString(h, job.Dir)
		var b [4]byte
		for _, id := range s {
			b[0], b[1], b[2], b[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
			h.Write(b[:])
		}
		r := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
		out[i] = (r.Float64() + 0.5) * float64(len(s))
		if progress != nil {
			progress(i+1, len(job.Samples))
		}
	}
	return out, nil
}

// JSONFloat is a float64 whose JSON form also carries non-finite values:
// "inf", "-inf" and "nan" (null reads as +Inf).
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"nan"`), nil
	case math.IsInf(v, 1):
		return []byte(`"inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	switch s {
	case `"nan"`:
		*f = JSONFloat(math.NaN())
		return nil
	case `"inf"`, "null":
		*f = JSONFloat(math.Inf(1))
		return nil
	case `"-inf"`:
		*f = JSONFloat(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("parse loss %q: %w", jsonobj.Quote(b), err)
	}
	*f = JSONFloat(v)
	return nil
}

// JSONFloats converts losses for JSON.
func JSONFloats(v []float64) []JSONFloat {
	out := make([]JSONFloat, len(v))
	for i, x := range v {
		out[i] = JSONFloat(x)
	}
	return out
}

// WorkerMessage is one line the evaluation worker writes on its stdout:
// progress, or the final result (losses or an error).
type WorkerMessage struct {
	Done   int         `json:"done,omitempty"`
	Total  int         `json:"total,omitempty"`
	Losses []JSONFloat `json:"losses,omitempty"`
	Slices int         `json:"slices,omitempty"`
	// Error is the reason the model could not be evaluated.
	Error string `json:"error,omitempty"`
	// Final marks the last message.
	Final bool `json:"final,omitempty"`
}

// SubprocessScorer evaluates every model in a fresh child process
// (docs/validator.md#the-loop: a crash, hang or NaN in one model cannot stop the validator). The
// child reads the [EvalJob] as JSON on stdin and writes [WorkerMessage]
// lines on stdout, the last one Final. A child that exits without a final
// message, or runs past Timeout, fails the model with [ErrModelIssue].
type SubprocessScorer struct {
	// Command is the child's argv, e.g. {"/usr/bin/coldint", "eval-worker"}.
	Command []string
	// Env is added to the child's environment.
	Env []string
	// Timeout is the hard limit per model (default [TTLModelEval]).
	Timeout time.Duration
	// Stderr receives the child's stderr (logs); nil discards it.
	Stderr io.Writer
}

// Score implements [Scorer].
func (s *SubprocessScorer) Score(ctx context.Context, job *EvalJob, progress func(done, total int)) ([]float64, error) {
	if len(s.Command) == 0 {
		return nil, fmt.Errorf("evaluate %q: no worker command", job.Dir)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = TTLModelEval
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", job.Dir, err)
	}
	cmd := exec.CommandContext(cctx, s.Command[0], s.Command[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = s.Stderr
	cmd.WaitDelay = 2 * time.Second
	isolateGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", job.Dir, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("evaluate %q: start worker: %w", job.Dir, err)
	}
	var got *WorkerMessage
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			var m WorkerMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				continue // stray output
			}
			if m.Final {
				mm := m
				got = &mm
				continue
			}
			if progress != nil && m.Total > 0 {
				progress(m.Done, m.Total)
			}
		}
	}()
	select {
	case <-read:
	case <-cctx.Done():
		// The worker (or a child holding its stdout) overran: the process
		// group is killed by cmd.Cancel; stop waiting for output.
	}
	werr := cmd.Wait()
	var final *WorkerMessage
	select {
	case <-read:
		final = got
	case <-time.After(time.Second):
	}
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case cctx.Err() != nil:
		return nil, fmt.Errorf("evaluate %q: worker killed after the %s timeout: %w", job.Dir, timeout, ErrModelIssue)
	case final == nil && werr != nil:
		return nil, fmt.Errorf("evaluate %q: worker crashed: %v: %w", job.Dir, werr, ErrModelIssue)
	case final == nil:
		return nil, fmt.Errorf("evaluate %q: worker exited without a result: %w", job.Dir, ErrModelIssue)
	case final.Error != "":
		return nil, fmt.Errorf("evaluate %q: %s: %w", job.Dir, final.Error, ErrModelIssue)
	case len(final.Losses) != len(job.Samples):
		return nil, fmt.Errorf("evaluate %q: worker returned %d losses for %d samples: %w", job.Dir, len(final.Losses), len(job.Samples), ErrModelIssue)
	}
	losses := make([]float64, len(final.Losses))
	for i, v := range final.Losses {
		losses[i] = float64(v)
	}
	return losses, nil
}

// CheckLosses rejects a loss vector holding NaN for a valid sample
// (docs/validator.md#fixed-quirks: NaN must never count; a model whose forward pass yields NaN, e.g. from
// non-finite weights, is a model issue).
func CheckLosses(job *EvalJob, losses []float64) error {
	var bad []string
	for i, v := range losses {
		if math.IsNaN(v) && i < len(job.Samples) && job.Samples[i] != nil {
			bad = append(bad, strconv.Itoa(i))
		}
	}
	if n := len(bad); n > 0 {
		if n > 5 {
			bad = append(bad[:5], "...")
		}
		return fmt.Errorf("non-finite (NaN) loss on %d of %d samples (%s): non-finite weights or activations: %w",
			n, len(losses), strings.Join(bad, ","), ErrModelIssue)
	}
	return nil
}
