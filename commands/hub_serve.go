package commands

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
)

// hubServeOptions are the inputs of `coldint hub serve`.
type hubServeOptions struct {
	IO        IO
	Root      string
	Addr      string
	Tokens    cli.StringSlice
	PublicURL string
	ChunkSize int64
}

func newHubServeCmd(f *Factory, runF func(context.Context, *hubServeOptions) error) *cli.Command {
	o := &hubServeOptions{IO: f.IO}
	if runF == nil {
		runF = runHubServe
	}
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a directory hub over HTTP with the Hub API subset coldint and the official clients use",
		UsageText: "coldint hub serve --root DIR --addr 127.0.0.1:PORT [--token TOKEN]...",
		Description: `Serves model and dataset repos (datasets under /datasets/ and /api/datasets/):
info, resolve (with Range), create repo, visibility, preupload,
Git LFS batch (basic and multipart) and ndjson commits from a local folder, so a
group can run a private competition. Point clients at it with HF_ENDPOINT=http://ADDR
(huggingface_hub also needs HF_HUB_DISABLE_XET=1) or hubUrl in @huggingface/hub.
With --token, writes and private repos need one of the tokens; a token given
as NAME:TOKEN may only write to (and read private repos of) the namespace NAME,
so competitors cannot touch each other's repos. Without --token the server is
open to anyone who can reach the address.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Required: true, Usage: "folder holding the hub (created if missing)", Destination: &o.Root},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8088", Usage: "listen address host:port", Destination: &o.Addr},
			&cli.StringSliceFlag{Name: "token", Usage: "accepted bearer token, repeatable: TOKEN (admin: every namespace) or NAME:TOKEN (writes and private reads under NAME only)", Destination: &o.Tokens},
			&cli.StringFlag{Name: "public-url", Usage: "base URL written into upload links (default: http://<Host header>)", Destination: &o.PublicURL},
			&cli.Int64Flag{Name: "chunk-size", Value: 8 << 20, Usage: "part size of multipart LFS uploads in bytes", Destination: &o.ChunkSize},
		},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runHubServe(ctx context.Context, o *hubServeOptions) error {
	tokens := o.Tokens.Value()
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return usageErrorf("hub serve: parse --addr %q: %v", o.Addr, err)
	}
	if o.ChunkSize <= 0 {
		return usageErrorf("hub serve: --chunk-size must be positive")
	}
	for _, t := range tokens {
		if strings.TrimSpace(t) == "" {
			return usageErrorf("hub serve: empty --token")
		}
	}
	ip := net.ParseIP(host)
	if len(tokens) == 0 && (ip == nil || !ip.IsLoopback()) {
		slog.Warn("hub server is open (no --token) on a non-loopback address: anyone who can reach it may write", "addr", o.Addr)
	}
	dh, err := dirhub.Open(o.Root)
	if err != nil {
		return err
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: tokens, PublicURL: o.PublicURL, ChunkSize: o.ChunkSize})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("hub serve: listen on %q: %w", o.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	url := "http://" + ln.Addr().String()
	slog.Info("hub server listening", "url", url, "root", o.Root, "auth", len(tokens) > 0)
	fmt.Fprintln(o.IO.Out, url)
	return serveUntilDone(ctx, hs, ln, "hub serve", func() { slog.Info("hub server stopped") })
}

// serveUntilDone serves hs on ln until ctx ends, then shuts it down
// (waiting up to 5 seconds for requests in flight) and calls stopped. A
// serve error is returned prefixed with what.
func serveUntilDone(ctx context.Context, hs *http.Server, ln net.Listener, what string, stopped func()) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", what, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		stopped()
		return nil
	}
}
