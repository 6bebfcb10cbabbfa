package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
)

// newSurgeonCmd groups the model surgery commands. Each takes one model
// folder (DIR or --model), except merge, which takes several.
func newSurgeonCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "surgeon",
		Usage: "change model directories: grow, add layers, resize vocab, merge, convert",
		Subcommands: []*cli.Command{
			newInspectCmd(f, "surgeon inspect", "architecture, geometry, parameters per group, dtype, tied weights, tokenizer size vs embedding rows", nil),
			newSurgeonCheckCmd(f, nil),
			newSurgeonAddLayersCmd(f, nil),
			newSurgeonGrowHiddenCmd(f, nil),
			newSurgeonGrowIntermediateCmd(f, nil),
			newSurgeonResizeVocabCmd(f, nil),
			newSurgeonSwapTokenizerCmd(f, nil),
			newSurgeonConvertCmd(f, nil),
			newSurgeonMergeCmd(f, nil),
			newSurgeonSliceInfoCmd(f, nil),
		},
	}
}

// dirAction is the Action of a command whose argument is one model folder
// (DIR or --model, not both): it stores the folder in *dir and calls run.
func dirAction(what string, dir *string, run func(context.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		d, err := modelDir(c, what)
		if err != nil {
			return err
		}
		*dir = d
		return run(c.Context)
	}
}

// surgeonOutFlagTo is --out of the surgeon commands that write a model.
func surgeonOutFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "out", Required: true, Usage: "output model directory (must not exist)", Destination: dest}
}

// initSeedFlagTo is --init-seed of the surgeon commands that add weights.
func initSeedFlagTo(dest *uint64) cli.Flag {
	return &cli.Uint64Flag{Name: "init-seed", Aliases: []string{"seed"}, Usage: "seed of the newly initialised weights", Destination: dest}
}

// surgeryArgs are the inputs every one-model surgery shares: the model
// folder and --out.
type surgeryArgs struct {
	IO  IO
	Dir string
	Out string
}

// apply loads the model folder, changes it with op and saves the result
// to --out; op's errors are prefixed with what.
func (s *surgeryArgs) apply(ctx context.Context, what string, op func(*surgeon.Model) (*surgeon.Model, error)) error {
	m, err := surgeon.Load(s.Dir)
	if err != nil {
		return err
	}
	out, err := op(m)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return saveAndReport(ctx, s.IO, s.Out, out)
}

// saveAndReport writes m to dst and prints what was written.
func saveAndReport(ctx context.Context, stdio IO, dst string, m *surgeon.Model) error {
	if err := m.Save(ctx, dst); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdio.Out, "wrote %s: %s, %d layers, hidden %d, vocab %d, %d params, %s\n",
		dst, m.Config.ModelType, m.Config.NumHiddenLayers, m.Config.HiddenSize, m.Config.VocabSize, m.Config.ParamCount(), m.DType)
	return err
}

// --- check ---

// surgeonCheckOptions are the inputs of `coldint surgeon check`.
type surgeonCheckOptions struct {
	IO           IO
	Dir          string
	Competitions string
	Competition  string
	JSON         bool
}

func newSurgeonCheckCmd(f *Factory, runF func(context.Context, *surgeonCheckOptions) error) *cli.Command {
	o := &surgeonCheckOptions{IO: f.IO}
	if runF == nil {
		runF = runSurgeonCheck
	}
	return &cli.Command{
		Name: "check", Usage: "apply every constraint a validator applies and list which competitions accept the model",
		ArgsUsage: "DIR", Flags: []cli.Flag{
			&cli.StringFlag{Name: "competitions", Required: true, Usage: "competitions.json file or URL", Destination: &o.Competitions},
			&cli.StringFlag{Name: "competition", Usage: "check only this competition", Destination: &o.Competition},
			jsonFlagTo(&o.JSON)},
		Action: dirAction("surgeon check", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonCheck(ctx context.Context, o *surgeonCheckOptions) error {
	data, err := eval.Fetch(ctx, nil, o.Competitions)
	if err != nil {
		return fmt.Errorf("surgeon check: %w", err)
	}
	cfg, err := eval.ParseCompetitions(data)
	if err != nil {
		return fmt.Errorf("surgeon check: %w", err)
	}
	for _, w := range cfg.Warnings {
		slog.Warn("competitions file: part ignored", "what", w)
	}
	rep, err := surgeon.Check(ctx, o.Dir, cfg, o.Competition)
	if err != nil {
		return err
	}
	if err := printCheckReport(o.IO, o.Dir, rep, o.JSON); err != nil {
		return err
	}
	if len(rep.Accepted()) == 0 {
		return fmt.Errorf("surgeon check: no competition accepts %q", o.Dir)
	}
	return nil
}

func printCheckReport(stdio IO, dir string, rep *surgeon.CheckReport, asJSON bool) error {
	w := stdio.Out
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "model %s: class %s, repo bytes %d\n", dir, rep.ClassName, rep.RepoBytes)
	for _, cc := range rep.Competitions {
		verdict := "ACCEPTED"
		if !cc.Accepted {
			verdict = "REJECTED"
		}
		fmt.Fprintf(w, "%-12s %s\n", cc.Competition, verdict)
		for _, r := range cc.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		for _, n := range cc.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	return nil
}

// --- slice-info ---

// surgeonSliceInfoOptions are the inputs of `coldint surgeon slice-info`.
type surgeonSliceInfoOptions struct {
	F         *Factory
	Dir       string
	MaxMemory string
}

func newSurgeonSliceInfoCmd(f *Factory, runF func(context.Context, *surgeonSliceInfoOptions) error) *cli.Command {
	o := &surgeonSliceInfoOptions{F: f}
	if runF == nil {
		runF = runSurgeonSliceInfo
	}
	return &cli.Command{
		Name: "slice-info", Usage: "show how sliced evaluation would split the model under a memory budget",
		ArgsUsage: "DIR", Flags: append([]cli.Flag{maxMemoryFlagTo(&o.MaxMemory)}, f.engineFlags()...),
		Action: dirAction("surgeon slice-info", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonSliceInfo(_ context.Context, o *surgeonSliceInfoOptions) error {
	// Resident weights take the compute dtype's bytes per parameter.
	ec, err := o.F.EngineChoice("surgeon slice-info")
	if err != nil {
		return err
	}
	budget, err := parseMaxMemory(o.MaxMemory)
	if err != nil {
		return usageErrorf("surgeon slice-info: --max-memory: %v", err)
	}
	info, err := modeldir.Inspect(o.Dir)
	if err != nil {
		return err
	}
	if budget == 0 { // the device's default, as eval would use
		if budget, err = model.DefaultBudget(ec.Device); err != nil {
			return fmt.Errorf("surgeon slice-info: %w", err)
		}
	}
	size := info.Params * ec.DType.Bytes()
	plan := surgeon.SlicePlan(info.Layers, size, budget)
	w := o.F.IO.Out
	fmt.Fprintf(w, "model %s bytes %d on %s, budget %d, %d slice(s)\n", ec.DType, size, ec.Device, budget, len(plan)-1)
	for i := 0; i+1 < len(plan); i++ {
		fmt.Fprintf(w, "slice %d: layers [%d, %d)\n", i, plan[i], plan[i+1])
	}
	return nil
}
