package commands

import (
	"io"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar drawn on stderr only when stderr is a terminal.
// A nil *progress is valid and does nothing.
type progress struct{ bar *progressbar.ProgressBar }

// newProgress returns a bar of total steps (-1 for unknown) labelled desc, or
// nil when the error stream is not a terminal.
func newProgress(stdio IO, total int64, desc string, bytes bool) *progress {
	if !stdio.ErrIsTTY() {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(stdio.Err),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionOnCompletion(func() { io.WriteString(stdio.Err, "\n") }),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return &progress{bar: progressbar.NewOptions64(total, opts...)}
}

// Set moves the bar to n.
func (p *progress) Set(n int64) {
	if p != nil {
		_ = p.bar.Set64(n)
	}
}

// Add advances the bar by n.
func (p *progress) Add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

// Describe changes the label.
func (p *progress) Describe(s string) {
	if p != nil {
		p.bar.Describe(s)
	}
}

// Finish completes the bar.
func (p *progress) Finish() {
	if p != nil {
		_ = p.bar.Finish()
	}
}
