package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// WithReadTimeout sets how long a download may receive no data before the
// connection is dropped and the transfer resumes on a new one (default 30 s).
func WithReadTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("read timeout must be positive, got %s", d)
		}
		c.readTimeout = d
		return nil
	}
}

// errStalled marks a response body that stopped sending data.
var errStalled = errors.New("download stalled")

// idleGuard cancels a request whose body has sent nothing for d.
type idleGuard struct {
	cancel context.CancelFunc
	timer  *time.Timer
	d      time.Duration
	fired  atomic.Bool
}

// newIdleGuard returns a request context and its guard; the guard is armed
// by the first touch (after the response headers arrive).
func newIdleGuard(parent context.Context, d time.Duration) (context.Context, *idleGuard) {
	ctx, cancel := context.WithCancel(parent)
	g := &idleGuard{cancel: cancel, d: d}
	g.timer = time.AfterFunc(time.Hour, func() { g.fired.Store(true); cancel() })
	g.timer.Stop()
	return ctx, g
}

func (g *idleGuard) touch() { g.timer.Reset(g.d) }

func (g *idleGuard) stop() {
	g.timer.Stop()
	g.cancel()
}

// wrap turns the cancellation caused by the guard into errStalled.
func (g *idleGuard) wrap(err error) error {
	if err != nil && g.fired.Load() {
		return fmt.Errorf("no data for %s: %w", g.d, errStalled)
	}
	return err
}

// body returns r that re-arms the guard on every read that returns data.
func (g *idleGuard) body(r io.Reader) io.Reader { return &touchReader{r: r, g: g} }

type touchReader struct {
	r io.Reader
	g *idleGuard
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.g.touch()
	}
	return n, err
}
