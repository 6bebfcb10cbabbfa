package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coldint/coldint/web"
	"github.com/urfave/cli/v2"
)

// serveOptions are the inputs of `coldint serve`.
type serveOptions struct {
	F         *Factory
	Addr      string
	State     string
	MaxTokens int
	NoEngine  bool
	Threads   int
}

// newServeCmd is `coldint serve`: the web leaderboard and playground. runF
// replaces runServe in tests.
func newServeCmd(f *Factory, runF func(context.Context, *serveOptions) error) *cli.Command {
	o := &serveOptions{F: f}
	if runF == nil {
		runF = runServe
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the web leaderboard, model pages, playground and JSON API over a validator state folder",
		Description: "--state is a validator --model-dir (holding vali-state/) or a `coldint demo` folder. Step reports are\n" +
			"read from steps/*.json there (write them with `coldint validate --save-step-json <state>/steps/step-N.json`).\n" +
			"The server binds the loopback interface unless --addr says otherwise; it reads nothing outside --state.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address (host:port; port 0 picks a free one)", Destination: &o.Addr},
			&cli.StringFlag{Name: "state", Value: "demo", Usage: "validator state folder (default: the folder make demo leaves)", Destination: &o.State},
			&cli.IntFlag{Name: "max-tokens", Value: web.DefaultMaxTokens, Usage: "longest generation the playground allows", Destination: &o.MaxTokens},
			&cli.BoolFlag{Name: "no-engine", Usage: "run without the engine (the playground is off)", Destination: &o.NoEngine},
			threadsFlagTo(&o.Threads),
		}, f.engineFlags()...),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runServe(ctx context.Context, o *serveOptions) error {
	if n := o.MaxTokens; n < 1 || n > 4096 {
		return usageErrorf("parse --max-tokens %d: must be between 1 and 4096", n)
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return usageErrorf("parse --addr %q: %v", o.Addr, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	opts := web.Options{StateDir: o.State, MaxTokens: o.MaxTokens, Logger: slog.Default(), LoopbackHosts: loopback}
	if !o.NoEngine {
		ec, err := o.F.EngineChoice("serve")
		if err != nil {
			return err
		}
		g, err := newEngineGenerator(o.Threads, ec)
		if err != nil {
			return err
		}
		defer g.Close()
		opts.Generator = g
	}
	srv, err := web.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", o.Addr, err)
	}
	if !loopback {
		slog.Warn("serving beyond the loopback interface", "addr", ln.Addr().String())
	}
	fmt.Fprintf(o.F.IO.Out, "serving %s on http://%s/\n", srv.Root(), ln.Addr())
	return serveHTTP(ctx, ln, srv)
}

// serveHTTP serves h on ln until ctx ends, then shuts the server down.
// Requests inherit ctx: an interrupt also ends the generations in flight.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
