package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/audit"
	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
)

// auditOptions are the inputs of `coldint audit`.
type auditOptions struct {
	F *Factory
	// Arg is STEP: a step folder, a publication folder or a hub repo.
	Arg         string
	Step        uint64
	Data        cli.StringSlice
	CheckChain  bool
	NetuidSet   bool
	MaxMemory   string
	Threads     int
	DownloadDir string
	Tolerance   float64
	JSON        bool
}

// newAuditCmd is `coldint audit STEP`: re-check a validator's published
// step. runF replaces runAudit in tests.
func newAuditCmd(f *Factory, runF func(context.Context, *auditOptions) error) *cli.Command {
	o := &auditOptions{F: f}
	if runF == nil {
		runF = runAudit
	}
	return &cli.Command{
		Name:      "audit",
		Usage:     "re-check a validator's published step: roots, chain commitment, sample texts, and every model's losses recomputed",
		ArgsUsage: "STEP",
		Description: "STEP is a published step folder (STEP/manifest.json), a publication folder (with --step, or its latest step),\n" +
			"or a Hub dataset repo [datasets/]namespace/name[@revision] (with --step, or its latest step).\n" +
			"The audit verifies the files against their roots, with --network that the validator's chain commitment covers\n" +
			"the step, fetches each sample text by its id and checks its sha256, downloads every model at its committed\n" +
			"revision, recomputes its per-sample losses with this engine and reports per model how far the published\n" +
			"losses are; a disputed sample comes with its inclusion proof. Exit status 1 when the step does not check out.",
		Flags: auditFlags(f, o),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("audit: want one STEP argument (a step folder, a publication folder or a hub repo)")
			}
			o.Arg, o.NetuidSet = c.Args().First(), c.IsSet("netuid")
			o.CheckChain = o.CheckChain || c.IsSet("network")
			return runF(c.Context, o)
		},
	}
}

func auditFlags(f *Factory, o *auditOptions) []cli.Flag {
	flags := append(f.chainFlags(),
		&cli.Uint64Flag{Name: "step", Usage: "step number of a publication folder or repo (0: the one latest.json names)", Destination: &o.Step},
		&cli.StringSliceFlag{Name: "data", Usage: "local text source of the samples (.txt, .jsonl, .jsonl.gz files or folders), as the validator's --data: PATH for every dataset not named, NAME=PATH for the samples of dataset NAME; samples of other datasets are read from the datasets-server (HF_DATASETS_SERVER sets its URL)", Category: "data", Destination: &o.Data},
		&cli.BoolFlag{Name: "check-chain", Usage: "check the step root against the validator's chain commitment (implied by --network; --netuid defaults to the manifest's)", Category: "chain", Destination: &o.CheckChain},
		deviceFlagTo(&f.Engine.Device, "; or random (fake losses, for tests)"),
		dtypeFlagTo(&f.Engine.DType),
		maxMemoryFlagTo(&o.MaxMemory),
		threadsFlagTo(&o.Threads),
		&cli.StringFlag{Name: "download-dir", Value: "~/.coldint/audit", Usage: "where the audit downloads models and tokenizers (a Hugging Face cache layout)", Destination: &o.DownloadDir},
		&cli.Float64Flag{Name: "tolerance", Value: eval.CacheRelTolerance, Usage: "relative loss difference at which a sample is disputed (default: the validator's eval cache tolerance)", Destination: &o.Tolerance},
		&cli.BoolFlag{Name: "json", Usage: "write the report as JSON to stdout", Destination: &o.JSON},
	)
	return append(flags, f.hubFlags()...)
}

func runAudit(ctx context.Context, o *auditOptions) error {
	ao, err := o.options()
	if err != nil {
		return err
	}
	src, err := evalproof.Open(ctx, keys.ExpandPath(o.Arg), o.Step, ao.Hub)
	if err != nil {
		return err
	}
	step, err := evalproof.Load(ctx, src.Get)
	if err != nil {
		return fmt.Errorf("audit %s: %w", src.Where, err)
	}
	ao.Previous = src.Manifest
	if o.CheckChain {
		cc, err := o.F.ChainConn(ctx)
		if err != nil {
			return err
		}
		ao.Chain, ao.Netuid = cc.Reader, chain.NetUID(step.Manifest.Netuid)
		if o.NetuidSet {
			ao.Netuid = chain.NetUID(o.F.Chain.Netuid)
		}
	}
	slog.Info("auditing", "step", src.Where)
	rep, err := audit.Run(ctx, step, ao)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(o.F.IO.Out)
		enc.SetIndent("", " ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(o.F.IO.Out)
	}
	if !rep.Agree {
		return fmt.Errorf("audit %s: the step does not check out (%d disputed samples, %d models not re-evaluated)", src.Where, rep.Disputed, rep.NotAudited)
	}
	return nil
}

// options builds the hub, text sources and scorer of the audit.
func (o *auditOptions) options() (audit.Options, error) {
	h, err := o.F.HubClient()
	if err != nil {
		return audit.Options{}, err
	}
	ao := audit.Options{Hub: h, CacheDir: keys.ExpandPath(o.DownloadDir), Threads: o.Threads, Tolerance: o.Tolerance,
		Texts: auditTexts(o.Data.Value()), Logger: slog.Default()}
	if ao.MaxMemory, err = parseMaxMemory(o.MaxMemory); err != nil {
		return ao, usageErrorf("audit: --max-memory: %v", err)
	}
	if o.F.Engine.Device == "random" {
		ao.Scorer = eval.RandomScorer{}
		return ao, nil
	}
	ec, err := o.F.EngineChoice("audit")
	if err != nil {
		return ao, err
	}
	exe, err := os.Executable()
	if err != nil {
		return ao, fmt.Errorf("find own executable for the eval worker: %w", err)
	}
	ao.Device, ao.DType = ec.Device.String(), string(ec.DType)
	ao.Scorer = &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"}, Timeout: eval.TTLModelEval, Stderr: o.F.IO.Err}
	return ao, nil
}

// auditTexts is where the samples' texts come from: --data NAME=PATH for
// dataset NAME, plain --data paths for any other, else the datasets-server.
func auditTexts(entries []string) func(ctx context.Context, dataset string) (data.Source, error) {
	named := map[string][]string{}
	var plain []string
	for _, e := range entries {
		if name, p, ok := strings.Cut(e, "="); ok && name != "" && !strings.ContainsAny(name, "/\\") {
			named[name] = append(named[name], p)
		} else {
			plain = append(plain, e)
		}
	}
	return func(ctx context.Context, dataset string) (data.Source, error) {
		if paths := named[dataset]; len(paths) > 0 {
			return data.OpenLocal(ctx, paths, data.LocalOptions{})
		}
		if len(plain) > 0 {
			return data.OpenLocal(ctx, plain, data.LocalOptions{})
		}
		if dataset == "local" || strings.TrimSpace(dataset) == "" {
			return nil, fmt.Errorf("the samples of dataset %q come from the validator's local data: give the same files with --data", dataset)
		}
		return data.NewServer(dataset), nil
	}
}
