package commands

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coldint/coldint/data"
	"github.com/urfave/cli/v2"
)

// dataCommand groups the text-data commands.
func dataCommand() *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "text data for validation and training: build a local corpus, read random pages",
		Subcommands: []*cli.Command{
			buildCorpusCommand(),
			pagesCommand(),
			serveDataCommand(),
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

func buildCorpusCommand() *cli.Command {
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
			&cli.StringFlag{Name: "out", Usage: "output folder", Required: true},
			&cli.StringSliceFlag{Name: "sources", Usage: "sources to include (default: all): jargon, devil, kjv"},
			&cli.IntFlag{Name: "shard-docs", Value: 1000, Usage: "documents per shard"},
			&cli.Uint64Flag{Name: "shuffle-seed", Aliases: []string{"seed"}, Value: 29, Usage: "seed of the document shuffle"},
			&cli.BoolFlag{Name: "json", Usage: "print the manifest as JSON"},
		},
		Action: func(c *cli.Context) error {
			stdio := ioFrom(c)
			if c.Int("shard-docs") <= 0 {
				return usageErrorf("parse --shard-docs %d: must be positive", c.Int("shard-docs"))
			}
			var sources []string
			for _, s := range c.StringSlice("sources") {
				for _, p := range strings.Split(s, ",") {
					if p = strings.TrimSpace(p); p != "" {
						sources = append(sources, p)
					}
				}
			}
			man, err := data.BuildCorpus(c.Context, data.CorpusOptions{
				Out: c.String("out"), Sources: sources, ShardDocs: c.Int("shard-docs"), Seed: c.Uint64("shuffle-seed"),
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(man)
			}
			for _, s := range man.Sources {
				fmt.Fprintf(stdio.Out, "%-7s %6d docs %10d bytes\n", s.Name, s.Docs, s.TextBytes)
			}
			_, err = fmt.Fprintf(stdio.Out, "wrote %d docs in %d shards to %s\n", man.Docs, len(man.Shards), c.String("out"))
			return err
		},
	}
}

// pageRecord is one output line of `coldint data pages`.
type pageRecord struct {
	Page   string `json:"page"`
	Text   string `json:"text"`
	Capped bool   `json:"capped,omitempty"`
}

func pagesCommand() *cli.Command {
	return &cli.Command{
		Name:  "pages",
		Usage: "print random pages of documents as JSON lines, picked as the validator picks them",
		Description: `Picks --pages random pages of --rows-per-page rows like the validator: a
uniformly random config, then a uniform offset in [0, rows-1-rows-per-page]. Pages
that fail (HTTP 500 from the datasets-server) are skipped and replaced.

Without --local it reads the Hugging Face datasets-server (/size and /rows) at
--server, or $HF_DATASETS_SERVER, or https://datasets-server.huggingface.co.
With --local it reads .txt/.txt.gz/.jsonl/.jsonl.gz files or folders: one config per
path (or per file with --per-file); .txt files are cut into documents per
--text-mode: paragraph (blank-line separated, default), line, or file.

--cap applies the validator's cap_sample_len: texts longer than N characters are
cut at the last space before N and marked "capped" (such samples get no EOS).
Output: one {"page","text","capped"} object per line. The same --seed gives the
same pages.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "local", Usage: "local files or folders to read instead of the datasets-server"},
			&cli.StringFlag{Name: "dataset", Value: data.DefaultDataset, Usage: "dataset id on the datasets-server"},
			&cli.StringFlag{Name: "server", Usage: "datasets-server base URL (default $HF_DATASETS_SERVER or the public server)"},
			&cli.IntFlag{Name: "pages", Value: 1, Usage: "number of pages"},
			&cli.IntFlag{Name: "rows-per-page", Value: 25, Usage: "rows per page"},
			&cli.Uint64Flag{Name: "page-seed", Aliases: []string{"seed"}, Usage: "seed of the page choice (default: random, logged)"},
			&cli.StringFlag{Name: "text-mode", Value: "paragraph", Usage: ".txt documents: paragraph, line or file"},
			&cli.BoolFlag{Name: "per-file", Usage: "with --local: one config per file"},
			&cli.IntFlag{Name: "cap", Usage: "cap_sample_len in characters (0: no cap)"},
		},
		Action: func(c *cli.Context) error {
			stdio := ioFrom(c)
			if c.Int("pages") <= 0 || c.Int("rows-per-page") <= 0 {
				return usageErrorf("parse --pages/--rows-per-page: must be positive")
			}
			if c.Int("cap") < 0 {
				return usageErrorf("parse --cap %d: must be 0 or more", c.Int("cap"))
			}
			mode, err := data.ParseTextMode(c.String("text-mode"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			seed := c.Uint64("page-seed")
			if !c.IsSet("page-seed") {
				var b [8]byte
				_, _ = rand.Read(b[:])
				seed = binary.LittleEndian.Uint64(b[:])
			}
			slog.Info("picking pages", "seed", seed)
			var src data.Source
			if locals := c.StringSlice("local"); len(locals) > 0 {
				l, err := data.OpenLocal(c.Context, locals, data.LocalOptions{TextMode: mode, PerFile: c.Bool("per-file")})
				if err != nil {
					return err
				}
				src = l
			} else {
				s := data.NewServer(c.String("dataset"))
				if c.String("server") != "" {
					s.BaseURL = strings.TrimRight(c.String("server"), "/")
				}
				src = s
			}
			fetched, err := data.Fetch(c.Context, src, data.NewRand(seed), c.Int("pages"), c.Int("rows-per-page"))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdio.Out)
			enc.SetEscapeHTML(false)
			for _, f := range fetched {
				for _, t := range f.Texts {
					text, capped := data.CapSample(t, c.Int("cap"))
					if err := enc.Encode(pageRecord{Page: f.Page.String(), Text: text, Capped: capped}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

func serveDataCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve local text files as a datasets-server (/size, /rows) for a private competition",
		Description: `Serves the documents of --local files or folders (read as by ` + "`coldint data pages`" + `)
with the Hugging Face datasets-server API subset validators use: GET /size?dataset=D
and GET /rows?dataset=D&config=C&split=train&offset=O&length=L (L ≤ 100). Point
validators at it with HF_DATASETS_SERVER=http://ADDR and the dataset name --dataset.
It prints the base URL on stdout and serves until interrupted.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "local", Usage: "local files or folders to serve", Required: true},
			&cli.StringFlag{Name: "dataset", Value: data.DefaultDataset, Usage: "dataset id answered"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8089", Usage: "listen address"},
			&cli.StringFlag{Name: "text-mode", Value: "paragraph", Usage: ".txt documents: paragraph, line or file"},
			&cli.BoolFlag{Name: "per-file", Usage: "one config per file"},
		},
		Action: func(c *cli.Context) error {
			stdio := ioFrom(c)
			mode, err := data.ParseTextMode(c.String("text-mode"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			l, err := data.OpenLocal(c.Context, c.StringSlice("local"), data.LocalOptions{TextMode: mode, PerFile: c.Bool("per-file")})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", c.String("addr"))
			if err != nil {
				return fmt.Errorf("listen on %q: %w", c.String("addr"), err)
			}
			srv := &http.Server{Handler: data.Handler(l, c.String("dataset")), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(stdio.Out, "http://%s\n", ln.Addr())
			splits, _ := l.Splits(c.Context)
			slog.Info("serving datasets-server", "addr", ln.Addr().String(), "dataset", c.String("dataset"), "configs", len(splits))
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return fmt.Errorf("serve datasets-server: %w", err)
			case <-c.Context.Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				return nil
			}
		},
	}
}
