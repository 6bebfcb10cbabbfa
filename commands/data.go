package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
)

// newDataCmd groups the text-data commands.
func newDataCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "text data for validation and training: build a local corpus, read random pages",
		Subcommands: []*cli.Command{
			newDataBuildCorpusCmd(f, nil),
			newDataPagesCmd(f, nil),
			newDataServeCmd(f, nil),
		},
	}
}

func corpusSourcesHelp() string {
	var b strings.Builder
	for _, s := range data.CorpusSources() {
		fmt.Fprintf(&b, "  %-7s %s (Debian: %s; %s)\n", s.Name, s.Document, strings.Join(s.Packages, ", "), s.License)
	}
	return b.String()
}

// dataBuildCorpusOptions are the inputs of `coldint data build-corpus`.
type dataBuildCorpusOptions struct {
	IO        IO
	Out       string
	Sources   cli.StringSlice
	ShardDocs int
	Seed      uint64
	JSON      bool
}

func newDataBuildCorpusCmd(f *Factory, runF func(context.Context, *dataBuildCorpusOptions) error) *cli.Command {
	o := &dataBuildCorpusOptions{IO: f.IO}
	if runF == nil {
		runF = runDataBuildCorpus
	}
	return &cli.Command{
		Name:  "build-corpus",
		Usage: "write a public-domain text corpus from installed Debian packages as .jsonl.gz shards",
		Description: `Extracts public-domain texts from Debian packages (install them with
` + "`make setup-data`" + ` or apt-get install jargon-text dict-devil bible-kjv bible-kjv-text):

` + corpusSourcesHelp() + `
All documents are shuffled together with a PCG generator seeded by --seed and
written as shard-NNNNN.jsonl.gz (records {"text","id","source"}, --shard-docs per
shard) plus manifest.json (sources, counts, shard sha256). The output is
deterministic: the same packages, --sources, --seed and --shard-docs give
byte-identical files. Files are replaced atomically and stale shards removed.
Read it back with ` + "`coldint data pages --local DIR`" + ` (one config, rows in shard order).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output folder", Required: true, Destination: &o.Out},
			&cli.StringSliceFlag{Name: "sources", Usage: "sources to include (default: all): jargon, devil, kjv", Destination: &o.Sources},
			&cli.IntFlag{Name: "shard-docs", Value: 1000, Usage: "documents per shard", Destination: &o.ShardDocs},
			&cli.Uint64Flag{Name: "shuffle-seed", Aliases: []string{"seed"}, Value: 29, Usage: "seed of the document shuffle", Destination: &o.Seed},
			&cli.BoolFlag{Name: "json", Usage: "print the manifest as JSON", Destination: &o.JSON},
		},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runDataBuildCorpus(ctx context.Context, o *dataBuildCorpusOptions) error {
	if o.ShardDocs <= 0 {
		return usageErrorf("parse --shard-docs %d: must be positive", o.ShardDocs)
	}
	var sources []string
	for _, s := range o.Sources.Value() {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				sources = append(sources, p)
			}
		}
	}
	man, err := data.BuildCorpus(ctx, data.CorpusOptions{Out: o.Out, Sources: sources, ShardDocs: o.ShardDocs, Seed: o.Seed})
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(man)
	}
	for _, s := range man.Sources {
		fmt.Fprintf(o.IO.Out, "%-7s %6d docs %10d bytes\n", s.Name, s.Docs, s.TextBytes)
	}
	_, err = fmt.Fprintf(o.IO.Out, "wrote %d docs in %d shards to %s\n", man.Docs, len(man.Shards), o.Out)
	return err
}
