package commands

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/train"
)

// trainReport shows a run's progress: a progress line on a terminal (loss,
// learning rate, tokens/s, time left, data position), log lines otherwise,
// and the JSON log, all on rank 0.
type trainReport struct {
	bar      *progress
	pace     *train.Pace
	log      *train.JSONLog
	file     *os.File
	path     string
	logEvery int
	rank     int
	start    time.Time
	tokens   int64
}

// newTrainReport starts reporting a run of cfg from st (nil: a fresh run).
func newTrainReport(stdio IO, cfg train.Config, st *train.State, rank int, logJSON string, logEvery int) (*trainReport, error) {
	r := &trainReport{rank: rank, logEvery: max(logEvery, 1), start: time.Now()}
	step := 0
	if st != nil {
		step, r.tokens = st.Step, st.Tokens
	}
	r.pace = train.NewPace(step, r.tokens)
	if rank != 0 {
		return r, nil
	}
	if logJSON == "" && cfg.Out != "" {
		logJSON = filepath.Join(cfg.Out, "metrics.jsonl")
	}
	if logJSON != "" {
		if err := os.MkdirAll(filepath.Dir(logJSON), 0o755); err != nil {
			return nil, fmt.Errorf("open the JSON log: %w", err)
		}
		f, err := os.OpenFile(logJSON, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open the JSON log: %w", err)
		}
		r.file, r.path, r.log = f, logJSON, train.NewJSONLog(f)
	}
	r.bar = newProgress(stdio, int64(cfg.Steps), "training", false)
	r.bar.Set(int64(step))
	return r, nil
}

func (r *trainReport) write(rec train.LogRecord) {
	if r.log == nil {
		return
	}
	if err := r.log.Write(rec); err != nil {
		slog.Warn("the JSON log stops", "file", r.path, "err", err)
		r.log = nil
	}
}

// hooks are the training loop's hooks that report.
func (r *trainReport) hooks() train.Hooks {
	return train.Hooks{
		Step: func(s train.StepInfo) {
			r.tokens = s.AllTokens
			if r.rank != 0 {
				return
			}
			r.write(r.pace.StepRecord(s, time.Now()))
			r.bar.Set(int64(s.Step))
			r.bar.Describe(r.pace.Describe(s))
			if r.bar == nil && (s.Step%r.logEvery == 0 || s.Step == s.Total) {
				slog.Info("step", "step", s.Step, "of", s.Total, "loss", round4(s.Loss), "lr", s.LR, "grad_norm", round4(s.GradNorm),
					"tokens_per_s", math.Round(r.pace.RunTokensPerS(s)), "eta", r.pace.ETA(s).String(), "data", s.Position)
			}
		},
		Eval: func(e train.EvalPoint) {
			r.write(train.LogRecord{Time: time.Now().UTC(), Event: "eval", Step: e.Step, Loss: e.Loss, Tokens: e.Tokens})
			slog.Info("held-out loss", "step", e.Step, "loss", round4(e.Loss), "tokens", e.Tokens)
		},
		Checkpoint: func(dir string, step int) {
			r.write(train.LogRecord{Time: time.Now().UTC(), Event: "checkpoint", Step: step, Checkpoint: dir})
			slog.Info("checkpoint saved", "step", step, "dir", dir)
		},
	}
}

// close finishes the progress line and closes the JSON log.
func (r *trainReport) close() {
	r.bar.Finish()
	if r.file != nil {
		if err := r.file.Close(); err != nil {
			slog.Warn("close the JSON log", "file", r.path, "err", err)
		}
		r.file = nil
	}
}

// summary is the result of `mine train --json`.
func (r *trainReport) summary(final *train.State, started *train.State, model string) map[string]any {
	wall := time.Since(r.start).Seconds()
	var before int64
	if started != nil {
		before = started.Tokens
	}
	res := map[string]any{"model": model, "steps": final.Step, "tokens": final.Tokens,
		"tokens_this_run": final.Tokens - before, "wall_s": math.Round(wall*10) / 10,
		"tokens_per_s": math.Round(float64(final.Tokens-before) / max(wall, 1e-9)),
		"world":        max(final.World, 1)}
	if n := len(final.Evals); n > 0 {
		res["eval_loss_start"], res["eval_loss_end"] = final.Evals[0].Loss, final.Evals[n-1].Loss
	}
	if n := len(final.Curve); n > 0 {
		res["train_loss_end"] = final.Curve[n-1].Loss
	}
	if final.Config.Out != "" {
		res["checkpoint"] = filepath.Join(final.Config.Out, train.CheckpointDir)
	}
	if r.path != "" {
		res["log_json"] = r.path
	}
	if final.Stream != nil {
		res["data_position"] = final.Stream
	} else {
		res["data_position"] = final.Data
	}
	return res
}
