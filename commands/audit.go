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
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
)

// auditCommand is `coldint audit STEP`: re-check a validator's published step.
func auditCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.Uint64Flag{Name: "step", Usage: "step number of a publication folder or repo (0: the one latest.json names)"},
		&cli.StringSliceFlag{Name: "data", Usage: "local text source of the samples (.txt, .jsonl, .jsonl.gz files or folders), as the validator's --data: PATH for every dataset not named, NAME=PATH for the samples of dataset NAME; samples of other datasets are read from the datasets-server (HF_DATASETS_SERVER sets its URL)", Category: "data"},
		networkFlag(),
		&cli.UintFlag{Name: "netuid", Usage: "subnet of the validator's commitment (default: the manifest's)", Category: "chain"},
		&cli.BoolFlag{Name: "check-chain", Usage: "check the step root against the validator's chain commitment (implied by --network)", Category: "chain"},
		validateDeviceFlag(),
		dtypeFlag(),
		maxMemoryFlag(),
		&cli.IntFlag{Name: "threads", Usage: "engine threads (0: all cores)"},
		&cli.StringFlag{Name: "download-dir", Value: "~/.coldint/audit", Usage: "where the audit downloads models and tokenizers (a Hugging Face cache layout)"},
		&cli.Float64Flag{Name: "tolerance", Value: eval.CacheRelTolerance, Usage: "relative loss difference at which a sample is disputed (default: the validator's eval cache tolerance)"},
		&cli.BoolFlag{Name: "json", Usage: "write the report as JSON to stdout"},
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
		Flags:  append(flags, hubClientFlags()...),
		Action: runAudit,
	}
}

func runAudit(c *cli.Context) error {
	ctx := c.Context
	if c.NArg() != 1 {
		return usageErrorf("audit: want one STEP argument (a step folder, a publication folder or a hub repo)")
	}
	o, err := auditOptions(c)
	if err != nil {
		return err
	}
	src, err := evalproof.Open(ctx, expandHome(c.Args().First()), c.Uint64("step"), o.Hub)
	if err != nil {
		return err
	}
	step, err := evalproof.Load(ctx, src.Get)
	if err != nil {
		return fmt.Errorf("audit %s: %w", src.Where, err)
	}
	o.Previous = src.Manifest
	if c.IsSet("network") || c.Bool("check-chain") {
		cc, err := openChain(c)
		if err != nil {
			return err
		}
		defer cc.Close()
		o.Chain, o.Netuid = cc.Reader, chain.NetUID(step.Manifest.Netuid)
		if c.IsSet("netuid") {
			o.Netuid = chain.NetUID(c.Uint("netuid"))
		}
	}
	slog.Info("auditing", "step", src.Where)
	rep, err := audit.Run(ctx, step, o)
	if err != nil {
		return err
	}
	stdio := ioFrom(c)
	if c.Bool("json") {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", " ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdio.Out)
	}
	if !rep.Agree {
		return fmt.Errorf("audit %s: the step does not check out (%d disputed samples, %d models not re-evaluated)", src.Where, rep.Disputed, rep.NotAudited)
	}
	return nil
}

// auditOptions builds the hub, text sources and scorer of the audit.
func auditOptions(c *cli.Context) (audit.Options, error) {
	h, err := openHub(c)
	if err != nil {
		return audit.Options{}, err
	}
	o := audit.Options{Hub: h, CacheDir: expandHome(c.String("download-dir")), Threads: c.Int("threads"), Tolerance: c.Float64("tolerance"), Logger: slog.Default()}
	if o.MaxMemory, err = parseMaxMemory(c.String("max-memory")); err != nil {
		return o, usageErrorf("audit: --max-memory: %v", err)
	}
	o.Texts = auditTexts(c.StringSlice("data"))
	if c.String("device") == "random" {
		o.Scorer = eval.RandomScorer{}
		return o, nil
	}
	ec, err := resolveEngine(c, "audit")
	if err != nil {
		return o, err
	}
	exe, err := os.Executable()
	if err != nil {
		return o, fmt.Errorf("find own executable for the eval worker: %w", err)
	}
	o.Device, o.DType = ec.Device.String(), string(ec.DType)
	o.Scorer = &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"}, Timeout: eval.TTLModelEval, Stderr: ioFrom(c).Err}
	return o, nil
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
