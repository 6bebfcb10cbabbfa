package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/hub"
)

// hubDownloadOptions are the inputs of `coldint hub download`.
type hubDownloadOptions struct {
	hubRepoArgs
	Revision   string
	CacheDir   string
	Files      cli.StringSlice
	FilesSet   bool // --file given
	ModelFiles bool
	MaxSize    int64
	JSON       bool
}

func newHubDownloadCmd(f *Factory, runF func(context.Context, *hubDownloadOptions) error) *cli.Command {
	o := &hubDownloadOptions{hubRepoArgs: hubRepoArgs{F: f}}
	if runF == nil {
		runF = runHubDownload
	}
	return &cli.Command{
		Name:      "download",
		Usage:     "download a repo at a commit into the Hugging Face cache layout and print the snapshot folder",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(&o.hubRepoArgs),
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "commit (or branch) to download", Destination: &o.Revision},
			&cli.StringFlag{Name: "cache-dir", Usage: "cache folder (default: HF_HUB_CACHE or $HF_HOME/hub)", Destination: &o.CacheDir},
			&cli.StringSliceFlag{Name: "file", Usage: "file to download (repeatable; default: all, or the validator allow-list with --model)", Destination: &o.Files},
			&cli.BoolFlag{Name: "model-files", Aliases: []string{"model"}, Usage: "download only what validators fetch: config, tokenizer files, safetensors weights", Destination: &o.ModelFiles},
			&cli.Int64Flag{Name: "max-size", Usage: "refuse repos whose files sum to more than this many bytes (0: no limit)", Destination: &o.MaxSize},
			&cli.BoolFlag{Name: "json", Usage: "print JSON {snapshot, commit, files}", Destination: &o.JSON},
		),
		Action: func(c *cli.Context) error {
			o.Args, o.RepoTypeSet = c.Args().Slice(), c.IsSet("repo-type")
			o.FilesSet = c.IsSet("file")
			return runF(c.Context, o)
		},
	}
}

func runHubDownload(ctx context.Context, o *hubDownloadOptions) error {
	repo, err := o.repo("download", 0)
	if err != nil {
		return err
	}
	if o.ModelFiles && o.FilesSet {
		return usageErrorf("hub download: give --model or --file, not both")
	}
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	info, err := h.ModelInfo(ctx, repo, o.Revision)
	if err != nil {
		return err
	}
	files := o.Files.Value()
	opts := hf.DownloadOptions{MaxTotalSize: o.MaxSize}
	if o.ModelFiles {
		if files, err = hub.ModelFiles(ctx, h, info); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		files = nil
	}
	plan, err := hf.PlanDownload(info, files, opts)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range plan {
		total += f.Size
	}
	bar := newProgress(o.F.IO, total, "download "+repo.String(), true)
	opts.Progress = sumProgress(bar)
	cache := o.CacheDir
	if cache == "" {
		cache = hub.DefaultCacheDir()
	}
	snap, err := h.Download(ctx, repo, info.SHA, files, cache, opts)
	bar.Finish()
	if err != nil {
		return err
	}
	// A branch asked for is recorded as huggingface_hub does, so that other
	// tools (transformers offline) resolve it from the cache.
	if o.Revision != info.SHA {
		if err := hfcache.Open(cache, hfcache.Type(repo.Type.String()), repo).WriteRef(o.Revision, info.SHA); err != nil {
			return fmt.Errorf("download %s: %w", repo, err)
		}
	}
	if o.JSON {
		names := make([]string, len(plan))
		for i, f := range plan {
			names[i] = f.Path
		}
		return json.NewEncoder(o.F.IO.Out).Encode(map[string]any{"snapshot": snap, "commit": info.SHA, "files": names, "bytes": total})
	}
	_, err = fmt.Fprintln(o.F.IO.Out, snap)
	return err
}
