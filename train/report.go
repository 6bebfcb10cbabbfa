package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// LogRecord is one line of a run's JSON log (JSON Lines: one object per
// line, appended across resumed runs, as metric loggers such as W&B and
// TensorBoard's JSON exporters write them).
type LogRecord struct {
	Time time.Time `json:"time"`
	// Event is "step", "eval" or "checkpoint".
	Event string `json:"event"`
	Step  int    `json:"step"`
	Steps int    `json:"steps"`
	// Loss is the mean training loss of the step, or the held-out loss of
	// an eval.
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr,omitempty"`
	GradNorm float64 `json:"grad_norm,omitempty"`
	// Tokens are the scored tokens of the step (of the eval).
	Tokens int `json:"tokens"`
	// TotalTokens are the scored tokens of every step so far (resumed runs
	// included).
	TotalTokens int64 `json:"total_tokens,omitempty"`
	// TokensPerS is the step's pace; RunTokensPerS the pace since this
	// process started (or resumed) the run.
	TokensPerS    float64 `json:"tokens_per_s,omitempty"`
	RunTokensPerS float64 `json:"run_tokens_per_s,omitempty"`
	ElapsedS      float64 `json:"elapsed_s,omitempty"`
	// ETAS is the expected time to the last step at the pace so far.
	ETAS float64 `json:"eta_s,omitempty"`
	// Position is the data position after the step.
	Position   string `json:"position,omitempty"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

// Pace follows the speed of a run to report tokens/s and the time left.
type Pace struct {
	startStep   int
	startTokens int64
}

// NewPace starts measuring a run that starts (or resumes) at step with
// tokens already trained on.
func NewPace(step int, tokens int64) *Pace { return &Pace{startStep: step, startTokens: tokens} }

// RunTokensPerS is the pace since the start of this process's run.
func (p *Pace) RunTokensPerS(s StepInfo) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.AllTokens-p.startTokens) / s.Elapsed.Seconds()
}

// ETA is the time left to step s.Total at the pace of the steps done in
// this run.
func (p *Pace) ETA(s StepInfo) time.Duration {
	done := s.Step - p.startStep
	if done <= 0 {
		return 0
	}
	per := s.Elapsed.Seconds() / float64(done)
	return time.Duration(per * float64(s.Total-s.Step) * float64(time.Second)).Round(time.Second)
}

// StepRecord is the log line of a step.
func (p *Pace) StepRecord(s StepInfo, now time.Time) LogRecord {
	return LogRecord{Time: now.UTC(), Event: "step", Step: s.Step, Steps: s.Total, Loss: finite(s.Loss), LR: s.LR, GradNorm: finite(s.GradNorm),
		Tokens: s.Tokens, TotalTokens: s.AllTokens, TokensPerS: round1(s.TokensPS), RunTokensPerS: round1(p.RunTokensPerS(s)),
		ElapsedS: round1(s.Elapsed.Seconds()), ETAS: p.ETA(s).Seconds(), Position: s.Position}
}

// Describe is the progress line of a step: loss, learning rate, pace, time
// left and data position.
func (p *Pace) Describe(s StepInfo) string {
	return fmt.Sprintf("loss %.4f lr %.2e %.0f tok/s eta %v data %s", s.Loss, s.LR, p.RunTokensPerS(s), p.ETA(s), s.Position)
}

// JSONLog writes LogRecords as JSON Lines.
type JSONLog struct{ w io.Writer }

// NewJSONLog writes records to w.
func NewJSONLog(w io.Writer) *JSONLog { return &JSONLog{w: w} }

// Write appends one record as one line.
func (l *JSONLog) Write(r LogRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("write JSON log: %w", err)
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write JSON log: %w", err)
	}
	return nil
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// finite keeps NaN and infinities out of JSON (which cannot hold them).
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}
