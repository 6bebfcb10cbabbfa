package commands

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
)

// pageRecord is one output line of `coldint data pages`.
type pageRecord struct {
	Page   string `json:"page"`
	Text   string `json:"text"`
	Capped bool   `json:"capped,omitempty"`
}

// dataPagesOptions are the inputs of `coldint data pages`.
type dataPagesOptions struct {
	IO          IO
	Local       cli.StringSlice
	Dataset     string
	Server      string
	Pages       int
	RowsPerPage int
	Seed        uint64
	SeedSet     bool // --page-seed given (else a random seed)
	TextMode    string
	PerFile     bool
	Cap         int
}

func newDataPagesCmd(f *Factory, runF func(context.Context, *dataPagesOptions) error) *cli.Command {
	o := &dataPagesOptions{IO: f.IO}
	if runF == nil {
		runF = runDataPages
	}
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
			&cli.StringSliceFlag{Name: "local", Usage: "local files or folders to read instead of the datasets-server", Destination: &o.Local},
			&cli.StringFlag{Name: "dataset", Value: data.DefaultDataset, Usage: "dataset id on the datasets-server", Destination: &o.Dataset},
			&cli.StringFlag{Name: "server", Usage: "datasets-server base URL (default $HF_DATASETS_SERVER or the public server)", Destination: &o.Server},
			&cli.IntFlag{Name: "pages", Value: 1, Usage: "number of pages", Destination: &o.Pages},
			&cli.IntFlag{Name: "rows-per-page", Value: 25, Usage: "rows per page", Destination: &o.RowsPerPage},
			&cli.Uint64Flag{Name: "page-seed", Aliases: []string{"seed"}, Usage: "seed of the page choice (default: random, logged)", Destination: &o.Seed},
			textModeFlagTo(&o.TextMode),
			&cli.BoolFlag{Name: "per-file", Usage: "with --local: one config per file", Destination: &o.PerFile},
			&cli.IntFlag{Name: "cap", Usage: "cap_sample_len in characters (0: no cap)", Destination: &o.Cap},
		},
		Action: func(c *cli.Context) error {
			o.SeedSet = c.IsSet("page-seed")
			return runF(c.Context, o)
		},
	}
}

// textModeFlagTo is --text-mode of the commands that read local text files.
func textModeFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "text-mode", Value: "paragraph", Usage: ".txt documents: paragraph, line or file", Destination: dest}
}

func runDataPages(ctx context.Context, o *dataPagesOptions) error {
	if o.Pages <= 0 || o.RowsPerPage <= 0 {
		return usageErrorf("parse --pages/--rows-per-page: must be positive")
	}
	if o.Cap < 0 {
		return usageErrorf("parse --cap %d: must be 0 or more", o.Cap)
	}
	mode, err := data.ParseTextMode(o.TextMode)
	if err != nil {
		return usageErrorf("%v", err)
	}
	seed := o.Seed
	if !o.SeedSet {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	slog.Info("picking pages", "seed", seed)
	src, err := o.source(ctx, mode)
	if err != nil {
		return err
	}
	fetched, err := data.Fetch(ctx, src, data.NewRand(seed), o.Pages, o.RowsPerPage)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(o.IO.Out)
	enc.SetEscapeHTML(false)
	for _, f := range fetched {
		for _, t := range f.Texts {
			text, capped := data.CapSample(t, o.Cap)
			if err := enc.Encode(pageRecord{Page: f.Page.String(), Text: text, Capped: capped}); err != nil {
				return err
			}
		}
	}
	return nil
}

// source is the --local files, or else the datasets-server.
func (o *dataPagesOptions) source(ctx context.Context, mode data.TextMode) (data.Source, error) {
	if locals := o.Local.Value(); len(locals) > 0 {
		l, err := data.OpenLocal(ctx, locals, data.LocalOptions{TextMode: mode, PerFile: o.PerFile})
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	s := data.NewServer(o.Dataset)
	if o.Server != "" {
		s.BaseURL = strings.TrimRight(o.Server, "/")
	}
	return s, nil
}
