package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// The surgeries that combine a model with another model or tokenizer.

// --- swap-tokenizer ---

// surgeonSwapTokenizerOptions are the inputs of `coldint surgeon swap-tokenizer`.
type surgeonSwapTokenizerOptions struct {
	surgeryArgs
	Tokenizer   string
	KeepSpecial bool
	JSON        bool
}

func newSurgeonSwapTokenizerCmd(f *Factory, runF func(context.Context, *surgeonSwapTokenizerOptions) error) *cli.Command {
	o := &surgeonSwapTokenizerOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonSwapTokenizer
	}
	return &cli.Command{
		Name: "swap-tokenizer", Usage: "replace the tokenizer, rebuilding embedding rows from the old tokenizer's rows",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out),
			&cli.StringFlag{Name: "tokenizer", Required: true, Usage: "folder (or tokenizer.json) of the new tokenizer", Destination: &o.Tokenizer},
			&cli.BoolFlag{Name: "keep-special", Usage: "keep the new tokenizer's BOS/EOS insertion (by default it is removed, as validators require the exact text back)", Destination: &o.KeepSpecial},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON", Destination: &o.JSON}},
		Action: dirAction("surgeon swap-tokenizer", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonSwapTokenizer(ctx context.Context, o *surgeonSwapTokenizerOptions) error {
	m, err := surgeon.Load(o.Dir)
	if err != nil {
		return err
	}
	if m.TokenizerDir == "" {
		return fmt.Errorf("surgeon swap-tokenizer: model %q has no tokenizer.json to map rows from", o.Dir)
	}
	oldTok, err := tokenizer.Load(m.TokenizerDir)
	if err != nil {
		return fmt.Errorf("surgeon swap-tokenizer: old tokenizer: %w", err)
	}
	var files map[string][]byte
	var newTok *tokenizer.Tokenizer
	patched := false
	if o.KeepSpecial {
		newTok, err = tokenizer.Load(o.Tokenizer)
	} else {
		files, newTok, patched, err = surgeon.LoadValidatorSafeTokenizer(o.Tokenizer)
	}
	if err != nil {
		return fmt.Errorf("surgeon swap-tokenizer: new tokenizer: %w", err)
	}
	out, rep, err := surgeon.SwapTokenizer(m, oldTok, newTok, o.Tokenizer)
	if err != nil {
		return err
	}
	out.TokenizerFiles = files
	rep.TokenizerPatched = patched
	rep.RoundTripFailures = surgeon.RoundTripFailures(newTok)
	if err := out.Save(ctx, o.Out); err != nil {
		return err
	}
	return printSwapReport(o.IO, o.Out, rep, o.JSON)
}

func printSwapReport(stdio IO, dst string, rep *surgeon.SwapReport, asJSON bool) error {
	w := stdio.Out
	if asJSON {
		return json.NewEncoder(w).Encode(rep)
	}
	fmt.Fprintf(w, "wrote %s: vocab %d -> %d: %d rows copied, %d composed, %d special by role, %d new; params %d -> %d (saved %d)\n",
		dst, rep.OldVocab, rep.NewVocab, rep.Copied, rep.Composed, rep.Special, rep.New,
		rep.ParamsBefore, rep.ParamsAfter, rep.ParamsBefore-rep.ParamsAfter)
	if rep.TokenizerPatched {
		fmt.Fprintln(w, "tokenizer: removed default BOS/EOS insertion so validators get the exact text back")
	}
	for _, f := range rep.RoundTripFailures {
		fmt.Fprintf(w, "warning: the new tokenizer does not round-trip %q\n", f)
	}
	return nil
}

// --- merge ---

// surgeonMergeOptions are the inputs of `coldint surgeon merge`.
type surgeonMergeOptions struct {
	IO      IO
	Dirs    []string // the models, A first
	Out     string
	Method  string
	Weights string
}

func newSurgeonMergeCmd(f *Factory, runF func(context.Context, *surgeonMergeOptions) error) *cli.Command {
	o := &surgeonMergeOptions{IO: f.IO}
	if runF == nil {
		runF = runSurgeonMerge
	}
	return &cli.Command{
		Name: "merge", Usage: "merge models of identical geometry (linear, slerp, task-arithmetic)",
		ArgsUsage: "A B [C…]", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out),
			&cli.StringFlag{Name: "method", Value: surgeon.MergeLinear, Usage: "linear, slerp or task-arithmetic", Destination: &o.Method},
			&cli.StringFlag{Name: "merge-weights", Aliases: []string{"weights"}, Usage: "comma-separated weights (linear: one per model; slerp: t; task-arithmetic: one per model after the base A)", Destination: &o.Weights}},
		Action: func(c *cli.Context) error {
			o.Dirs = c.Args().Slice()
			return runF(c.Context, o)
		},
	}
}

func runSurgeonMerge(ctx context.Context, o *surgeonMergeOptions) error {
	n := len(o.Dirs)
	if n < 2 {
		return usageErrorf("surgeon merge: want at least two model directories")
	}
	var weights []float64
	if s := strings.TrimSpace(o.Weights); s != "" {
		for _, f := range strings.Split(s, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return usageErrorf("surgeon merge: parse --weights %q: %v", s, err)
			}
			weights = append(weights, w)
		}
	} else if o.Method == surgeon.MergeLinear {
		for range n {
			weights = append(weights, 1/float64(n))
		}
	}
	models := make([]*surgeon.Model, 0, n)
	for _, dir := range o.Dirs {
		m, err := surgeon.Load(dir)
		if err != nil {
			return err
		}
		models = append(models, m)
	}
	out, err := surgeon.Merge(models, o.Method, weights)
	if err != nil {
		return err
	}
	return saveAndReport(ctx, o.IO, o.Out, out)
}
