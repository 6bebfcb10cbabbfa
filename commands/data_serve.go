package commands

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
)

// dataServeOptions are the inputs of `coldint data serve`.
type dataServeOptions struct {
	IO       IO
	Local    cli.StringSlice
	Dataset  string
	Addr     string
	TextMode string
	PerFile  bool
}

func newDataServeCmd(f *Factory, runF func(context.Context, *dataServeOptions) error) *cli.Command {
	o := &dataServeOptions{IO: f.IO}
	if runF == nil {
		runF = runDataServe
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "serve local text files as a datasets-server (/size, /rows) for a private competition",
		Description: `Serves the documents of --local files or folders (read as by ` + "`coldint data pages`" + `)
with the Hugging Face datasets-server API subset validators use: GET /size?dataset=D
and GET /rows?dataset=D&config=C&split=train&offset=O&length=L (L ≤ 100). Point
validators at it with HF_DATASETS_SERVER=http://ADDR and the dataset name --dataset.
It prints the base URL on stdout and serves until interrupted.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "local", Usage: "local files or folders to serve", Required: true, Destination: &o.Local},
			&cli.StringFlag{Name: "dataset", Value: data.DefaultDataset, Usage: "dataset id answered", Destination: &o.Dataset},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8089", Usage: "listen address", Destination: &o.Addr},
			textModeFlagTo(&o.TextMode),
			&cli.BoolFlag{Name: "per-file", Usage: "one config per file", Destination: &o.PerFile},
		},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runDataServe(ctx context.Context, o *dataServeOptions) error {
	mode, err := data.ParseTextMode(o.TextMode)
	if err != nil {
		return usageErrorf("%v", err)
	}
	l, err := data.OpenLocal(ctx, o.Local.Value(), data.LocalOptions{TextMode: mode, PerFile: o.PerFile})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", o.Addr, err)
	}
	srv := &http.Server{Handler: data.Handler(l, o.Dataset), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(o.IO.Out, "http://%s\n", ln.Addr())
	splits, _ := l.Splits(ctx)
	slog.Info("serving datasets-server", "addr", ln.Addr().String(), "dataset", o.Dataset, "configs", len(splits))
	return serveUntilDone(ctx, srv, ln, "serve datasets-server", func() {})
}
