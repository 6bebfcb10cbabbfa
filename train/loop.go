package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// OptimParams are the AdamW settings of one optimizer step.
type OptimParams struct {
	// Step is the 1-based optimizer step (for the bias corrections).
	Step        int
	LR          float64
	WeightDecay float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	// Clip is the maximum global gradient norm (0: no clipping).
	Clip float64
}

// StepStats is what one optimizer step measured.
type StepStats struct {
	// Loss is the mean cross-entropy per scored token over all micro-batches.
	Loss float64
	// Tokens is the number of scored tokens.
	Tokens int
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
}

// Model is a trainable causal LM. Implementations need not be safe for
// concurrent use; the loop calls them from one goroutine.
type Model interface {
	// TrainStep runs forward and backward over the micro-batches with the
	// loss Σ token cross-entropy / Σ scored tokens (gradient accumulation),
	// clips the gradient, applies AdamW and clears the gradients.
	TrainStep(ctx context.Context, micro []Batch, p OptimParams) (StepStats, error)
	// EvalLoss returns the summed cross-entropy and the scored tokens of b,
	// without gradients.
	EvalLoss(ctx context.Context, b Batch) (sum float64, tokens int, err error)
	// SaveCheckpoint writes the float32 weights (a model folder) and the
	// optimizer state into the existing folder dir.
	SaveCheckpoint(ctx context.Context, dir string) error
}

// Config is a training run.
type Config struct {
	Steps           int     `json:"steps"`
	Batch           int     `json:"batch"` // rows per micro-batch
	Accum           int     `json:"accum"` // micro-batches per optimizer step
	LR              float64 `json:"lr"`
	MinLRRatio      float64 `json:"min_lr_ratio"`
	Warmup          int     `json:"warmup"` // linear warmup steps; AutoWarmup: WarmupShare of Steps
	WeightDecay     float64 `json:"weight_decay"`
	Beta1           float64 `json:"beta1"`
	Beta2           float64 `json:"beta2"`
	Eps             float64 `json:"eps"`
	Clip            float64 `json:"clip"`
	EvalEvery       int     `json:"eval_every"`       // 0: only at the end
	CheckpointEvery int     `json:"checkpoint_every"` // 0: only at the end and on cancel
	// Out is the run folder; checkpoints go to Out/checkpoint. Empty: no
	// checkpoints.
	Out string `json:"-"`
	// Group makes the run one rank of a data-parallel group (nil: alone);
	// see [Group]. Batch is then the rows of each rank.
	Group Group `json:"-"`
}

// AutoWarmup as Config.Warmup asks for a warmup of WarmupShare of the steps.
const AutoWarmup = -1

// WarmupShare is the share of the steps that the automatic warmup takes.
const WarmupShare = 0.05

// DefaultConfig returns the defaults of `coldint mine train`.
func DefaultConfig() Config {
	return Config{Steps: 1000, Batch: 8, Accum: 1, LR: 3e-4, MinLRRatio: 0.1, Warmup: AutoWarmup, WeightDecay: 0.1,
		Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1.0, EvalEvery: 100, CheckpointEvery: 500}
}

// Validate checks the numbers.
func (c Config) Validate() error {
	switch {
	case c.Steps < 1:
		return fmt.Errorf("training config: steps %d, want at least 1", c.Steps)
	case c.Batch < 1:
		return fmt.Errorf("training config: batch %d, want at least 1", c.Batch)
	case c.Accum < 1:
		return fmt.Errorf("training config: accum %d, want at least 1", c.Accum)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("training config: learning rate %g, want > 0", c.LR)
	case c.Warmup < 0 && c.Warmup != AutoWarmup:
		return fmt.Errorf("training config: warmup %d, want >= 0", c.Warmup)
	case c.WeightDecay < 0:
		return fmt.Errorf("training config: weight decay %g, want >= 0", c.WeightDecay)
	case c.Clip < 0:
		return fmt.Errorf("training config: clip %g, want >= 0", c.Clip)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("training config: betas %g, %g, want in [0, 1)", c.Beta1, c.Beta2)
	case c.EvalEvery < 0 || c.CheckpointEvery < 0:
		return fmt.Errorf("training config: negative interval")
	}
	return nil
}

// WarmupSteps is the warmup the run uses: Warmup, or WarmupShare of the
// steps (rounded) for AutoWarmup.
func (c Config) WarmupSteps() int {
	if c.Warmup == AutoWarmup {
		return int(math.Round(WarmupShare * float64(c.Steps)))
	}
	return c.Warmup
}

// WarmupWarning explains, when the warmup covers every step, that the
// learning rate never reaches LR ("" otherwise).
func (c Config) WarmupWarning() string {
	if w := c.WarmupSteps(); w >= c.Steps && w > 0 {
		return fmt.Sprintf("warmup of %d steps covers all %d steps: the learning rate never reaches %g (lower --warmup or leave it at its default, %.0f%% of --steps)",
			w, c.Steps, c.LR, 100*WarmupShare)
	}
	return ""
}

// Schedule returns the learning-rate schedule of the run.
func (c Config) Schedule() Schedule {
	return Schedule{LR: c.LR, Warmup: c.WarmupSteps(), Total: c.Steps, MinRatio: c.MinLRRatio}
}

// Point is one optimizer step of the loss curve.
type Point struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	Tokens   int     `json:"tokens"`
}

// EvalPoint is one held-out evaluation.
type EvalPoint struct {
	Step   int     `json:"step"`
	Loss   float64 `json:"loss"` // mean per scored token
	Tokens int     `json:"tokens"`
}

// State is the progress of a run; it is saved with each checkpoint.
type State struct {
	Version int       `json:"version"`
	Step    int       `json:"step"`
	Tokens  int64     `json:"tokens"`
	Seed    uint64    `json:"seed"`
	Data    DataState `json:"data"`
	// World is the number of data-parallel ranks of the last run (0: one);
	// every step drew World × Batch rows per micro-batch.
	World int `json:"world,omitempty"`
	// DataConfig is the data shape the position in Data refers to.
	DataConfig DataConfig `json:"data_config"`
	// Stream is the position of a streamed run (nil for local files).
	Stream *StreamState `json:"stream,omitempty"`
	Config Config       `json:"config"`
	Curve  []Point      `json:"curve"`
	Evals  []EvalPoint  `json:"evals,omitempty"`
}

// StepInfo is passed to Hooks.Step.
type StepInfo struct {
	Point
	Total     int
	TokensPS  float64 // scored tokens per second of this step
	Elapsed   time.Duration
	AllTokens int64
	// Position is this rank's data position after the step, in words.
	Position string
}

// Hooks receive the loop's events. Nil fields are skipped.
type Hooks struct {
	Step       func(StepInfo)
	Eval       func(EvalPoint)
	Checkpoint func(dir string, step int)
}

// ErrInterrupted wraps the context error when the loop stopped early (after
// saving a checkpoint when it could).
var ErrInterrupted = errors.New("training interrupted")

// Run trains m from st (nil: a fresh run) until cfg.Steps optimizer steps
// are done. It checks ctx between steps: when ctx ends it writes a
// checkpoint (if cfg.Out is set) and returns an error wrapping
// ErrInterrupted and ctx.Err(). It returns the final state.
func Run(ctx context.Context, m Model, d Source, cfg Config, st *State, hooks Hooks) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dc := d.Config()
	if st == nil {
		st = &State{Version: stateVersion, Seed: dc.Seed}
	}
	if st.Step > 0 && (st.DataConfig.SeqLen != dc.SeqLen || st.DataConfig.Pack != dc.Pack || st.DataConfig.EvalDocs != dc.EvalDocs) {
		return nil, fmt.Errorf("resume: the checkpoint's data position is for sequence length %d, packing %v, %d held-out documents; now %d, %v, %d",
			st.DataConfig.SeqLen, st.DataConfig.Pack, st.DataConfig.EvalDocs, dc.SeqLen, dc.Pack, dc.EvalDocs)
	}
	if err := d.begin(ctx, st, cfg); err != nil {
		return nil, err
	}
	st.DataConfig = dc
	rank, world := rankOf(cfg.Group)
	if err := agreeOnState(ctx, cfg.Group, st, cfg); err != nil {
		return st, err
	}
	st.Config = cfg
	st.World = world
	var evalBatches []Batch
	var err error
	if rank == 0 {
		if evalBatches, err = d.EvalBatches(ctx, cfg.Batch); err != nil {
			return nil, err
		}
	}
	sched := cfg.Schedule()
	start := time.Now()
	lastCkpt := st.Step
	save := func() error {
		if rank != 0 || cfg.Out == "" || lastCkpt == st.Step && st.Step != 0 && checkpointExists(cfg.Out) {
			return nil
		}
		if err := d.settle(context.WithoutCancel(ctx), st); err != nil {
			return err
		}
		dir, err := SaveCheckpoint(context.WithoutCancel(ctx), cfg.Out, m, st)
		if err != nil {
			return err
		}
		lastCkpt = st.Step
		if hooks.Checkpoint != nil {
			hooks.Checkpoint(dir, st.Step)
		}
		return nil
	}
	evaluate := func() error {
		if len(evalBatches) == 0 {
			return nil
		}
		var sum float64
		var tok int
		for _, b := range evalBatches {
			s, n, err := m.EvalLoss(ctx, b)
			if err != nil {
				return err
			}
			sum += s
			tok += n
		}
		ep := EvalPoint{Step: st.Step, Loss: sum / float64(max(tok, 1)), Tokens: tok}
		st.Evals = append(st.Evals, ep)
		if hooks.Eval != nil {
			hooks.Eval(ep)
		}
		return nil
	}
	if st.Step == 0 && len(st.Evals) == 0 && rank == 0 {
		if err := evaluate(); err != nil {
			return st, fmt.Errorf("evaluate: %w", err)
		}
	}
	interrupted := func(cause error) (*State, error) {
		if err := save(); err != nil {
			return st, errors.Join(fmt.Errorf("%w at step %d: %w", ErrInterrupted, st.Step, cause), err)
		}
		return st, fmt.Errorf("%w at step %d: %w", ErrInterrupted, st.Step, cause)
	}
	for st.Step < cfg.Steps {
		if err := ctx.Err(); err != nil {
			return interrupted(err)
		}
		t0 := time.Now()
		micro, advance, err := d.next(ctx, st, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx.Err())
			}
			return st, err
		}
		step := st.Step + 1
		p := OptimParams{Step: step, LR: sched.At(step), WeightDecay: cfg.WeightDecay, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, Clip: cfg.Clip}
		stats, err := m.TrainStep(ctx, micro, p)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx.Err())
			}
			return st, fmt.Errorf("train step %d: %w", step, err)
		}
		if math.IsNaN(stats.Loss) || math.IsInf(stats.Loss, 0) {
			return st, fmt.Errorf("train step %d: loss is %v (lower --lr?)", step, stats.Loss)
		}
		st.Step = step
		advance(st)
		st.Tokens += int64(stats.Tokens)
		pt := Point{Step: step, Loss: stats.Loss, LR: p.LR, GradNorm: stats.GradNorm, Tokens: stats.Tokens}
		st.Curve = append(st.Curve, pt)
		if hooks.Step != nil {
			dt := time.Since(t0)
			hooks.Step(StepInfo{Point: pt, Total: cfg.Steps, TokensPS: float64(stats.Tokens) / dt.Seconds(), Elapsed: time.Since(start),
				AllTokens: st.Tokens, Position: d.where(st)})
		}
		if cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0 && step != cfg.Steps {
			if err := evaluate(); err != nil {
				return st, fmt.Errorf("evaluate at step %d: %w", step, err)
			}
		}
		if cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0 && step != cfg.Steps {
			if err := save(); err != nil {
				return st, err
			}
		}
	}
	if n := len(st.Evals); rank == 0 && (n == 0 || st.Evals[n-1].Step != st.Step) {
		if err := evaluate(); err != nil {
			return st, fmt.Errorf("evaluate at step %d: %w", st.Step, err)
		}
	}
	if err := save(); err != nil {
		return st, err
	}
	slog.Debug("training done", "steps", st.Step, "tokens", st.Tokens, "seconds", time.Since(start).Seconds())
	return st, nil
}
