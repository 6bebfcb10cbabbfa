package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

// ErrCheckpointExists means a fresh run was asked for in a run folder that
// already holds a checkpoint.
var ErrCheckpointExists = errors.New("already holds a checkpoint; use --resume or another --out")

// TrainOptions set up a training run. Exactly one start is used: Resume,
// Init, or Best.
type TrainOptions struct {
	// Config is the loop's configuration; Config.Out is the run folder
	// (checkpoint/, the final model/, and best/ for a download).
	Config train.Config
	// Resume continues the run in Config.Out from its last checkpoint.
	Resume bool
	// Init is the model folder to start from.
	Init string
	// Best starts from the competition's current best model.
	Best *BestSource
	// Tokenizer is the tokenizer folder ("": the start model's); when
	// given, it is copied into the final model.
	Tokenizer string
	// Data is the training text and the shape of its rows.
	Data TrainData
	// Device is where the trainer computes; DeviceIndexGiven says the GPU
	// index was named (else each rank takes the GPU of its local rank).
	Device           model.Device
	DeviceIndexGiven bool
	Threads          int
	Trainer          model.TrainerOptions
	// SaveDType is the dtype of the final model's weights.
	SaveDType safetensors.DType
	// Rank makes the run one rank of a data-parallel group (nil: alone);
	// DDPTimeout bounds the rendezvous and every collective.
	Rank       *RankEnv
	DDPTimeout time.Duration
}

// Run is a training run, set up and ready to train. Close releases it.
type Run struct {
	o     TrainOptions
	state *train.State // the resumed state (nil: a fresh run)
	tok   *tokenizer.Tokenizer
	data  *source
	eng   *model.Engine
	tr    *model.Trainer
	group *model.DDP
}

// TrainResult is what a finished run leaves (on rank 0).
type TrainResult struct {
	// Model is the final model's folder.
	Model string
	// Final is the run's state at its end; Started its state when this
	// process began (nil: a fresh run).
	Final, Started *train.State
}

// Prepare sets a run up: it finds the start (downloading the current best
// when asked), loads the tokenizer and the data, starts the engine and the
// trainer, and joins the data-parallel group.
func Prepare(ctx context.Context, o TrainOptions) (_ *Run, err error) {
	r := &Run{o: o}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	start, err := r.start(ctx)
	if err != nil {
		return nil, err
	}
	tokDir := o.Tokenizer
	if tokDir == "" {
		tokDir = start
	}
	if r.tok, err = tokenizer.Load(tokDir); err != nil {
		return nil, fmt.Errorf("mine train: load tokenizer (give --tokenizer?): %w", err)
	}
	rank, world := 0, 1
	if o.Rank != nil {
		rank, world = o.Rank.Rank, max(o.Rank.World, 1)
	}
	if r.data, err = openTrainData(ctx, o.Data, r.tok, r.state, rank, world, o.Config.Out); err != nil {
		return nil, err
	}
	if err := r.trainer(ctx, start); err != nil {
		return nil, err
	}
	if rows := r.tr.Config().VocabSize; r.tok.MaxID() >= rows {
		slog.Warn("the tokenizer has ids beyond the embedding rows; such documents fail", "max_id", r.tok.MaxID(), "vocab_size", rows)
	}
	return r, nil
}

// start returns the model folder the run starts from, and loads the state
// of a resumed run.
func (r *Run) start(ctx context.Context) (string, error) {
	o := r.o
	out := o.Config.Out
	if o.Resume {
		st, dir, err := train.LoadState(out)
		if err != nil {
			return "", err
		}
		r.state = st
		slog.Info("resuming", "checkpoint", dir, "step", st.Step)
		return dir, nil
	}
	if _, _, err := train.LoadState(out); err == nil {
		return "", fmt.Errorf("mine train: %q %w", out, ErrCheckpointExists)
	}
	switch {
	case o.Init != "" && o.Best != nil:
		return "", errors.New("mine train: give --init or --from-best, not both")
	case o.Init != "":
		return o.Init, nil
	case o.Best != nil:
		_, dir, err := o.Best.Current(ctx, filepath.Join(out, "best"))
		return dir, err
	}
	return "", errors.New("mine train: no start model")
}

// trainer starts the engine and the trainer on the start model and joins
// the data-parallel group.
func (r *Run) trainer(ctx context.Context, start string) error {
	dev, threads := r.o.Device, r.o.Threads
	if rk := r.o.Rank; rk != nil {
		dev, threads = rk.Device(dev, r.o.DeviceIndexGiven), rk.Threads(threads)
	}
	var err error
	if r.eng, err = model.NewEngineWith(model.EngineOptions{Threads: threads, Device: dev}); err != nil {
		return err
	}
	if r.tr, err = r.eng.NewTrainerWith(ctx, start, r.o.Trainer); err != nil {
		return err
	}
	if r.o.Rank != nil {
		if r.group, err = joinRun(ctx, r.eng, r.tr, *r.o.Rank, r.o.DDPTimeout); err != nil {
			return err
		}
	}
	slog.Info("training", "device", r.tr.Device().String(), "dtype", string(r.tr.DType()), "grad_checkpointing", r.o.Trainer.GradCheckpointing)
	return nil
}

// Resumed is a copy of the state the run resumes from (nil: a fresh run).
func (r *Run) Resumed() *train.State {
	if r.state == nil {
		return nil
	}
	st := *r.state
	return &st
}

// Rank is this process's rank (0 alone).
func (r *Run) Rank() int {
	if r.o.Rank == nil {
		return 0
	}
	return r.o.Rank.Rank
}

// Train runs the loop to the last step and, on rank 0, saves the final
// model to <out>/model and reports it; other ranks return a nil result.
// An interrupted run has checkpointed; the error says how to continue.
func (r *Run) Train(ctx context.Context, hooks train.Hooks) (*TrainResult, error) {
	cfg := r.o.Config
	if r.group != nil {
		cfg.Group = r.group
	}
	started := r.Resumed()
	final, err := train.Run(ctx, r.tr, r.data, cfg, r.state, hooks)
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return nil, fmt.Errorf("%w (continue with --resume --out %s)", err, cfg.Out)
		}
		return nil, err
	}
	if r.Rank() != 0 {
		return nil, nil
	}
	dst := filepath.Join(cfg.Out, "model")
	if err := os.RemoveAll(dst); err != nil {
		return nil, err
	}
	if err := r.tr.SaveModel(ctx, dst, r.o.SaveDType); err != nil {
		return nil, err
	}
	if r.tr.Config().VocabSize > 0 && r.o.Tokenizer != "" {
		if err := modeldir.CopyTokenizer(r.o.Tokenizer, dst); err != nil {
			return nil, err
		}
	}
	return &TrainResult{Model: dst, Final: final, Started: started}, nil
}

// Close releases the data, the group, the trainer and the engine.
func (r *Run) Close() {
	if r.data != nil {
		r.data.close()
	}
	if r.group != nil {
		r.group.Close()
	}
	if r.tr != nil {
		r.tr.Close()
	}
	if r.eng != nil {
		r.eng.Close()
	}
}

// EncodeInt32 encodes texts with tok, without special tokens, as the
// trainer's int32 ids.
func EncodeInt32(tok *tokenizer.Tokenizer) func(string) ([]int32, error) {
	return func(s string) ([]int32, error) {
		ids, err := tok.Encode(s, false)
		if err != nil {
			return nil, err
		}
		out := make([]int32, len(ids))
		for i, id := range ids {
			out[i] = int32(id)
		}
		return out, nil
	}
}
