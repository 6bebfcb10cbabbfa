package commands

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// surgeonCommand groups the model surgery commands.
func surgeonCommand() *cli.Command {
	outFlag := &cli.StringFlag{Name: "out", Required: true, Usage: "output model directory (must not exist)"}
	seedFlag := &cli.Uint64Flag{Name: "init-seed", Aliases: []string{"seed"}, Usage: "seed of the newly initialised weights"}
	return &cli.Command{
		Name:  "surgeon",
		Usage: "change model directories: grow, add layers, resize vocab, merge, convert",
		Subcommands: []*cli.Command{
			{
				Name: "inspect", Usage: "architecture, geometry, parameters per group, dtype, tied weights, tokenizer size vs embedding rows",
				ArgsUsage: "DIR", Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					dir, err := oneArg(c, "surgeon inspect")
					if err != nil {
						return err
					}
					info, err := modeldir.Inspect(dir)
					if err != nil {
						return err
					}
					return printModelInfo(ioFrom(c), info, c.Bool("json"))
				},
			},
			{
				Name: "check", Usage: "apply every constraint a validator applies and list which competitions accept the model",
				ArgsUsage: "DIR", Flags: []cli.Flag{
					&cli.StringFlag{Name: "competitions", Required: true, Usage: "competitions.json file or URL"},
					&cli.StringFlag{Name: "competition", Usage: "check only this competition"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: runCheck,
			},
			{
				Name: "add-layers", Usage: "insert identity-initialised layers (zero o_proj/down_proj) before layer --at",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, &cli.IntFlag{Name: "at", Required: true, Usage: "insert before this layer (0..L)"}, &cli.IntFlag{Name: "count", Value: 1, Usage: "layers to add"}},
				Action: surgery("surgeon add-layers", func(c *cli.Context, m *surgeon.Model) (*surgeon.Model, error) {
					return surgeon.AddLayers(m, c.Int("at"), c.Int("count"))
				}),
			},
			{
				Name: "grow-hidden", Usage: "widen the hidden size by whole heads, function-preserving via norm_divisor",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, seedFlag, &cli.IntFlag{Name: "hidden", Aliases: []string{"to"}, Required: true, Usage: "new hidden size"}},
				Action: surgery("surgeon grow-hidden", func(c *cli.Context, m *surgeon.Model) (*surgeon.Model, error) {
					return surgeon.GrowHidden(m, c.Int("hidden"), c.Uint64("init-seed"))
				}),
			},
			{
				Name: "grow-intermediate", Usage: "widen the MLPs, function-preserving",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, seedFlag, &cli.IntFlag{Name: "intermediate", Aliases: []string{"to"}, Required: true, Usage: "new intermediate size"}},
				Action: surgery("surgeon grow-intermediate", func(c *cli.Context, m *surgeon.Model) (*surgeon.Model, error) {
					return surgeon.GrowIntermediate(m, c.Int("intermediate"), c.Uint64("init-seed"))
				}),
			},
			{
				Name: "resize-vocab", Usage: "resize the embedding (and untied lm_head) to N rows",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, seedFlag,
					&cli.IntFlag{Name: "vocab", Aliases: []string{"to"}, Required: true, Usage: "new vocabulary size"},
					&cli.IntFlag{Name: "pad-multiple", Usage: "round the size up to a multiple of this"},
					&cli.StringFlag{Name: "init-rows", Aliases: []string{"init"}, Value: surgeon.InitNormal, Usage: "new rows: normal (N(0, initializer_range²)) or mean (mean of old rows)"}},
				Action: surgery("surgeon resize-vocab", func(c *cli.Context, m *surgeon.Model) (*surgeon.Model, error) {
					return surgeon.ResizeVocab(m, c.Int("vocab"), c.Int("pad-multiple"), c.String("init-rows"), c.Uint64("init-seed"))
				}),
			},
			{
				Name: "swap-tokenizer", Usage: "replace the tokenizer, rebuilding embedding rows from the old tokenizer's rows",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, &cli.StringFlag{Name: "tokenizer", Required: true, Usage: "folder (or tokenizer.json) of the new tokenizer"},
					&cli.BoolFlag{Name: "keep-special", Usage: "keep the new tokenizer's BOS/EOS insertion (by default it is removed, as validators require the exact text back)"},
					&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}},
				Action: runSwapTokenizer,
			},
			{
				Name: "convert", Usage: "change the storage dtype",
				ArgsUsage: "DIR", Flags: []cli.Flag{outFlag, &cli.StringFlag{Name: "save-dtype", Aliases: []string{"dtype"}, Required: true, Usage: "dtype of the saved weights: bf16, f16 or f32"}},
				Action: surgery("surgeon convert", func(c *cli.Context, m *surgeon.Model) (*surgeon.Model, error) {
					dt, err := safetensors.ParseDType(c.String("save-dtype"))
					if err != nil {
						return nil, &UsageError{Err: err}
					}
					m.DType = dt
					return m, nil
				}),
			},
			{
				Name: "merge", Usage: "merge models of identical geometry (linear, slerp, task-arithmetic)",
				ArgsUsage: "A B [C…]", Flags: []cli.Flag{outFlag,
					&cli.StringFlag{Name: "method", Value: surgeon.MergeLinear, Usage: "linear, slerp or task-arithmetic"},
					&cli.StringFlag{Name: "merge-weights", Aliases: []string{"weights"}, Usage: "comma-separated weights (linear: one per model; slerp: t; task-arithmetic: one per model after the base A)"}},
				Action: runMerge,
			},
			{
				Name: "slice-info", Usage: "show how sliced evaluation would split the model under a memory budget",
				ArgsUsage: "DIR", Flags: []cli.Flag{maxMemoryFlag(), deviceFlag(), dtypeFlag()},
				Action: func(c *cli.Context) error {
					dir, err := oneArg(c, "surgeon slice-info")
					if err != nil {
						return err
					}
					// Resident weights take the compute dtype's bytes per parameter.
					ec, err := resolveEngine(c, "surgeon slice-info")
					if err != nil {
						return err
					}
					budget, err := parseMaxMemory(c.String("max-memory"))
					if err != nil {
						return usageErrorf("surgeon slice-info: --max-memory: %v", err)
					}
					info, err := modeldir.Inspect(dir)
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
					w := ioFrom(c).Out
					fmt.Fprintf(w, "model %s bytes %d on %s, budget %d, %d slice(s)\n", ec.DType, size, ec.Device, budget, len(plan)-1)
					for i := 0; i+1 < len(plan); i++ {
						fmt.Fprintf(w, "slice %d: layers [%d, %d)\n", i, plan[i], plan[i+1])
					}
					return nil
				},
			},
		},
	}
}

func oneArg(c *cli.Context, what string) (string, error) { return modelDir(c, what) }

// surgery wraps a one-model operation: load DIR, apply op, save to --out.
func surgery(what string, op func(*cli.Context, *surgeon.Model) (*surgeon.Model, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		dir, err := oneArg(c, what)
		if err != nil {
			return err
		}
		m, err := surgeon.Load(dir)
		if err != nil {
			return err
		}
		out, err := op(c, m)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return saveAndReport(c, out)
	}
}

func saveAndReport(c *cli.Context, m *surgeon.Model) error {
	dst := c.String("out")
	if err := m.Save(c.Context, dst); err != nil {
		return err
	}
	_, err := fmt.Fprintf(ioFrom(c).Out, "wrote %s: %s, %d layers, hidden %d, vocab %d, %d params, %s\n",
		dst, m.Config.ModelType, m.Config.NumHiddenLayers, m.Config.HiddenSize, m.Config.VocabSize, m.Config.ParamCount(), m.DType)
	return err
}

func runCheck(c *cli.Context) error {
	dir, err := oneArg(c, "surgeon check")
	if err != nil {
		return err
	}
	data, err := eval.Fetch(c.Context, nil, c.String("competitions"))
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
	rep, err := surgeon.Check(c.Context, dir, cfg, c.String("competition"))
	if err != nil {
		return err
	}
	w := ioFrom(c).Out
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
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
	}
	if len(rep.Accepted()) == 0 {
		return fmt.Errorf("surgeon check: no competition accepts %q", dir)
	}
	return nil
}

func runSwapTokenizer(c *cli.Context) error {
	dir, err := oneArg(c, "surgeon swap-tokenizer")
	if err != nil {
		return err
	}
	m, err := surgeon.Load(dir)
	if err != nil {
		return err
	}
	if m.TokenizerDir == "" {
		return fmt.Errorf("surgeon swap-tokenizer: model %q has no tokenizer.json to map rows from", dir)
	}
	oldTok, err := tokenizer.Load(m.TokenizerDir)
	if err != nil {
		return fmt.Errorf("surgeon swap-tokenizer: old tokenizer: %w", err)
	}
	newPath := c.String("tokenizer")
	var files map[string][]byte
	var newTok *tokenizer.Tokenizer
	patched := false
	if c.Bool("keep-special") {
		newTok, err = tokenizer.Load(newPath)
	} else {
		files, newTok, patched, err = surgeon.LoadValidatorSafeTokenizer(newPath)
	}
	if err != nil {
		return fmt.Errorf("surgeon swap-tokenizer: new tokenizer: %w", err)
	}
	out, rep, err := surgeon.SwapTokenizer(m, oldTok, newTok, newPath)
	if err != nil {
		return err
	}
	out.TokenizerFiles = files
	rep.TokenizerPatched = patched
	rep.RoundTripFailures = surgeon.RoundTripFailures(newTok)
	if err := out.Save(c.Context, c.String("out")); err != nil {
		return err
	}
	w := ioFrom(c).Out
	if c.Bool("json") {
		return json.NewEncoder(w).Encode(rep)
	}
	fmt.Fprintf(w, "wrote %s: vocab %d -> %d: %d rows copied, %d composed, %d special by role, %d new; params %d -> %d (saved %d)\n",
		c.String("out"), rep.OldVocab, rep.NewVocab, rep.Copied, rep.Composed, rep.Special, rep.New,
		rep.ParamsBefore, rep.ParamsAfter, rep.ParamsBefore-rep.ParamsAfter)
	if rep.TokenizerPatched {
		fmt.Fprintln(w, "tokenizer: removed default BOS/EOS insertion so validators get the exact text back")
	}
	for _, f := range rep.RoundTripFailures {
		fmt.Fprintf(w, "warning: the new tokenizer does not round-trip %q\n", f)
	}
	return nil
}

func runMerge(c *cli.Context) error {
	if c.NArg() < 2 {
		return usageErrorf("surgeon merge: want at least two model directories")
	}
	var weights []float64
	if s := strings.TrimSpace(c.String("merge-weights")); s != "" {
		for _, f := range strings.Split(s, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return usageErrorf("surgeon merge: parse --weights %q: %v", s, err)
			}
			weights = append(weights, w)
		}
	} else if c.String("method") == surgeon.MergeLinear {
		for range c.NArg() {
			weights = append(weights, 1/float64(c.NArg()))
		}
	}
	models := make([]*surgeon.Model, 0, c.NArg())
	for _, dir := range c.Args().Slice() {
		m, err := surgeon.Load(dir)
		if err != nil {
			return err
		}
		models = append(models, m)
	}
	out, err := surgeon.Merge(models, c.String("method"), weights)
	if err != nil {
		return err
	}
	return saveAndReport(c, out)
}
