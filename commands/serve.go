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

// serveCommand is `coldint serve`: the web leaderboard and playground.
func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the web leaderboard, model pages, playground and JSON API over a validator state folder",
		Description: "--state is a validator --model-dir (holding vali-state/) or a `coldint demo` folder. Step reports are\n" +
			"read from steps/*.json there (write them with `coldint validate --save-step-json <state>/steps/step-N.json`).\n" +
			"The server binds the loopback interface unless --addr says otherwise; it reads nothing outside --state.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "state", Value: "demo", Usage: "validator state folder (default: the folder make demo leaves)"},
			&cli.IntFlag{Name: "max-tokens", Value: web.DefaultMaxTokens, Usage: "longest generation the playground allows"},
			&cli.BoolFlag{Name: "no-engine", Usage: "run without the engine (the playground is off)"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch threads for the playground (0: all cores)"},
			deviceFlag(),
			dtypeFlag(),
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	stdio := ioFrom(c)
	if n := c.Int("max-tokens"); n < 1 || n > 4096 {
		return usageErrorf("parse --max-tokens %d: must be between 1 and 4096", n)
	}
	host, _, err := net.SplitHostPort(c.String("addr"))
	if err != nil {
		return usageErrorf("parse --addr %q: %v", c.String("addr"), err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	opts := web.Options{StateDir: c.String("state"), MaxTokens: c.Int("max-tokens"), Logger: slog.Default(), LoopbackHosts: loopback}
	if !c.Bool("no-engine") {
		ec, err := resolveEngine(c, "serve")
		if err != nil {
			return err
		}
		g, err := newEngineGenerator(c.Int("threads"), ec)
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
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("listen on %q: %w", c.String("addr"), err)
	}
	if !loopback {
		slog.Warn("serving beyond the loopback interface", "addr", ln.Addr().String())
	}
	fmt.Fprintf(stdio.Out, "serving %s on http://%s/\n", srv.Root(), ln.Addr())
	// Requests inherit the command's context: an interrupt also ends the
	// generations in flight.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return c.Context }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-c.Context.Done():
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
