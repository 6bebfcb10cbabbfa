package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
)

// newHubCmd groups the Hugging Face Hub commands: a local server and a
// client for it or for huggingface.co.
func newHubCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "hub",
		Usage: "serve a local Hugging Face-compatible hub, or talk to one (info, download, upload, create, visibility)",
		Description: `The client commands use https://huggingface.co unless --endpoint or HF_ENDPOINT
names another server (such as one started with "coldint hub serve"), or --dir names
a local directory hub. The access token comes from HF_TOKEN, HF_ACCESS_TOKEN or the
file written by "huggingface-cli login" ($HF_HOME/token); it is never printed.`,
		Subcommands: []*cli.Command{
			newHubServeCmd(f, nil),
			newHubInfoCmd(f, nil),
			newHubDownloadCmd(f, nil),
			newHubUploadCmd(f, nil),
			newHubCreateCmd(f, nil),
			newHubVisibilityCmd(f, nil),
		},
	}
}

// hubRepoArgs are the inputs every hub client command that names a repo
// shares: the factory (hub flags), --repo-type and the arguments.
type hubRepoArgs struct {
	F           *Factory
	RepoType    string
	RepoTypeSet bool // --repo-type given
	Args        []string
}

// hubRepoFlags are the client flags of the hub commands that name a repo.
func hubRepoFlags(r *hubRepoArgs) []cli.Flag {
	return append(r.F.hubFlags(),
		&cli.StringFlag{Name: "repo-type", Usage: "model or dataset: the kind of REPO (default: model, or dataset for datasets/namespace/name)", Category: "hub", Destination: &r.RepoType})
}

// repo parses argument i as the repo of command cmd (named in errors).
func (r *hubRepoArgs) repo(cmd string, i int) (hf.RepoID, error) {
	if len(r.Args) <= i {
		return hf.RepoID{}, usageErrorf("%s: missing REPO argument (namespace/name or datasets/namespace/name)", cmd)
	}
	s := r.Args[i]
	id, err := hf.ParseRepo(s)
	if r.RepoTypeSet {
		typ, terr := hf.ParseRepoType(r.RepoType)
		if terr != nil {
			return hf.RepoID{}, &UsageError{Err: fmt.Errorf("%s: --repo-type: %w", cmd, terr)}
		}
		id, err = hf.ParseTypedRepo(s, typ)
	}
	if err != nil {
		return hf.RepoID{}, &UsageError{Err: err}
	}
	return id, nil
}

// sumProgress returns a transfer progress callback that moves bar to the
// bytes done over all files.
func sumProgress(bar *progress) func(hf.Progress) {
	var mu sync.Mutex
	done := map[string]int64{}
	return func(p hf.Progress) {
		mu.Lock()
		defer mu.Unlock()
		done[p.Path] = p.Done
		var sum int64
		for _, n := range done {
			sum += n
		}
		bar.Set(sum)
	}
}

// --- info ---

type hubInfoOptions struct {
	hubRepoArgs
	Revision string
	JSON     bool
}

func newHubInfoCmd(f *Factory, runF func(context.Context, *hubInfoOptions) error) *cli.Command {
	o := &hubInfoOptions{hubRepoArgs: hubRepoArgs{F: f}}
	if runF == nil {
		runF = runHubInfo
	}
	return &cli.Command{
		Name:      "info",
		Usage:     "show a model repo at a revision: commit, visibility, files and sizes",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(&o.hubRepoArgs),
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "branch or commit", Destination: &o.Revision},
			jsonFlagTo(&o.JSON),
		),
		Action: func(c *cli.Context) error {
			o.Args, o.RepoTypeSet = c.Args().Slice(), c.IsSet("repo-type")
			return runF(c.Context, o)
		},
	}
}

func runHubInfo(ctx context.Context, o *hubInfoOptions) error {
	repo, err := o.repo("info", 0)
	if err != nil {
		return err
	}
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	info, err := h.ModelInfo(ctx, repo, o.Revision)
	if err != nil {
		return err
	}
	out := o.F.IO.Out
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"id": info.ID.String(), "sha": info.SHA, "private": info.Private,
			"lastModified": info.LastModified, "totalSize": info.TotalSize(), "files": info.Files})
	}
	fmt.Fprintf(out, "repo     %s\ncommit   %s\nprivate  %v\nsize     %d bytes\n", info.ID, info.SHA, info.Private, info.TotalSize())
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, f := range info.Files {
		kind := ""
		if f.LFS != nil {
			kind = "lfs"
		}
		fmt.Fprintf(tw, "%d\t%s\t %s\n", f.Size, kind, f.Path)
	}
	return tw.Flush()
}

// --- create / visibility ---

type hubCreateOptions struct {
	hubRepoArgs
	Public  bool
	ExistOK bool
}

func newHubCreateCmd(f *Factory, runF func(context.Context, *hubCreateOptions) error) *cli.Command {
	o := &hubCreateOptions{hubRepoArgs: hubRepoArgs{F: f}}
	if runF == nil {
		runF = runHubCreate
	}
	return &cli.Command{
		Name:      "create",
		Usage:     "create a model repo (private unless --public)",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(&o.hubRepoArgs),
			&cli.BoolFlag{Name: "public", Usage: "create the repo public", Destination: &o.Public},
			&cli.BoolFlag{Name: "exist-ok", Usage: "succeed if the repo already exists", Destination: &o.ExistOK},
		),
		Action: func(c *cli.Context) error {
			o.Args, o.RepoTypeSet = c.Args().Slice(), c.IsSet("repo-type")
			return runF(c.Context, o)
		},
	}
}

func runHubCreate(ctx context.Context, o *hubCreateOptions) error {
	repo, err := o.repo("create", 0)
	if err != nil {
		return err
	}
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	err = h.CreateRepo(ctx, repo, !o.Public)
	if errors.Is(err, hf.ErrRepoExists) && o.ExistOK {
		err = nil
	}
	return err
}

type hubVisibilityOptions struct {
	hubRepoArgs
}

func newHubVisibilityCmd(f *Factory, runF func(context.Context, *hubVisibilityOptions) error) *cli.Command {
	o := &hubVisibilityOptions{hubRepoArgs: hubRepoArgs{F: f}}
	if runF == nil {
		runF = runHubVisibility
	}
	return &cli.Command{
		Name:      "visibility",
		Usage:     "make a repo public or private",
		ArgsUsage: "REPO public|private",
		Flags:     hubRepoFlags(&o.hubRepoArgs),
		Action: func(c *cli.Context) error {
			o.Args, o.RepoTypeSet = c.Args().Slice(), c.IsSet("repo-type")
			return runF(c.Context, o)
		},
	}
}

func runHubVisibility(ctx context.Context, o *hubVisibilityOptions) error {
	repo, err := o.repo("visibility", 0)
	if err != nil {
		return err
	}
	var private bool
	switch vis := hubArgAt(o.Args, 1); vis {
	case "private":
		private = true
	case "public":
	default:
		return usageErrorf("hub visibility: second argument must be public or private, got %q", vis)
	}
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	return h.SetVisibility(ctx, repo, private)
}

// hubArgAt is argument i, or "" when there are fewer.
func hubArgAt(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}
