package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/tokenizer"
)

// newModelCmd groups the model file commands (init, inspect).
func newModelCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "model",
		Usage: "create and inspect Hugging Face model directories",
		Subcommands: []*cli.Command{
			newModelInitCmd(f, nil),
			newModelInspectCmd(f, nil),
		},
	}
}

// modelInitOptions are the inputs of `coldint model init`.
type modelInitOptions struct {
	IO           IO
	Arch         string
	Layers       int
	Hidden       int
	Heads        int
	KVHeads      int
	Intermediate int
	Vocab        int
	VocabFrom    string
	Tie          bool
	Seed         uint64
	DType        string
	Out          string
	RopeTheta    float64
	MaxPos       int
}

func newModelInitCmd(f *Factory, runF func(context.Context, *modelInitOptions) error) *cli.Command {
	o := &modelInitOptions{IO: f.IO}
	if runF == nil {
		runF = runModelInit
	}
	return &cli.Command{
		Name:      "init",
		Usage:     "write a random but valid HF model directory (config.json, model.safetensors, tokenizer files)",
		UsageText: "coldint model init --arch llama --layers 2 --hidden 64 --heads 4 --intermediate 172 --vocab 32000 --out DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Value: "llama", Usage: "architecture: llama or phi3", Destination: &o.Arch},
			&cli.IntFlag{Name: "layers", Value: 2, Usage: "number of decoder layers", Destination: &o.Layers},
			&cli.IntFlag{Name: "hidden", Value: 64, Usage: "hidden size", Destination: &o.Hidden},
			&cli.IntFlag{Name: "heads", Value: 4, Usage: "attention heads", Destination: &o.Heads},
			&cli.IntFlag{Name: "kv-heads", Usage: "key/value heads (default: --heads)", Destination: &o.KVHeads},
			&cli.IntFlag{Name: "intermediate", Value: 0, Usage: "MLP intermediate size (default: 8/3·hidden rounded up to 8)", Destination: &o.Intermediate},
			&cli.IntFlag{Name: "vocab", Usage: "vocabulary size (embedding rows)", Destination: &o.Vocab},
			&cli.StringFlag{Name: "vocab-from", Usage: "tokenizer.json (or its folder) to size the vocabulary from; its files are copied into the model", Destination: &o.VocabFrom},
			&cli.BoolFlag{Name: "tie", Usage: "tie lm_head to the input embedding", Destination: &o.Tie},
			&cli.Uint64Flag{Name: "init-seed", Aliases: []string{"seed"}, Value: 0, Usage: "seed of the random weights", Destination: &o.Seed},
			&cli.StringFlag{Name: "save-dtype", Aliases: []string{"dtype"}, Value: "bf16", Usage: "dtype of the saved weights: bf16 or f32", Destination: &o.DType},
			&cli.Float64Flag{Name: "rope-theta", Value: 10000, Usage: "rotary base", Destination: &o.RopeTheta},
			&cli.IntFlag{Name: "max-position", Value: 4096, Usage: "max_position_embeddings", Destination: &o.MaxPos},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output directory (must not exist)", Destination: &o.Out},
		},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runModelInit(ctx context.Context, o *modelInitOptions) error {
	if (o.Vocab > 0) == (o.VocabFrom != "") {
		return usageErrorf("model init: give exactly one of --vocab N or --vocab-from TOKENIZER.json")
	}
	dt, err := safetensors.ParseDType(o.DType)
	if err != nil || dt == safetensors.F16 {
		return usageErrorf("model init: --dtype must be bf16 or f32, not %q", o.DType)
	}
	vocab, kvHeads, intermediate := o.Vocab, o.KVHeads, o.Intermediate
	if o.VocabFrom != "" {
		tok, err := tokenizer.Load(o.VocabFrom)
		if err != nil {
			return fmt.Errorf("model init: %w", err)
		}
		// Every id the tokenizer can produce needs an embedding row.
		vocab = max(tok.VocabSize(), tok.MaxID()+1)
	}
	if kvHeads == 0 {
		kvHeads = o.Heads
	}
	if intermediate == 0 {
		intermediate = (o.Hidden*8/3 + 7) / 8 * 8
	}
	cfg := &hf.ModelConfig{
		ModelType: o.Arch, VocabSize: vocab, HiddenSize: o.Hidden, IntermediateSize: intermediate,
		NumHiddenLayers: o.Layers, NumAttentionHeads: o.Heads, NumKeyValueHeads: kvHeads,
		MaxPositionEmbeddings: o.MaxPos, RopeTheta: o.RopeTheta, TieWordEmbeddings: o.Tie,
		HiddenAct: "silu", InitializerRange: 0.02, RMSNormEps: 1e-5,
	}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("model init: %v", err)
	}
	if err := modeldir.Init(ctx, o.Out, cfg, modeldir.InitOptions{Seed: o.Seed, DType: dt, TokenizerDir: o.VocabFrom}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.IO.Out, "wrote %s: %s, %d params, %s\n", o.Out, o.Arch, cfg.ParamCount(), dt)
	return err
}

// modelInspectOptions are the inputs of `coldint model inspect` (and of
// `coldint surgeon inspect`, the same command).
type modelInspectOptions struct {
	IO   IO
	Dir  string // the model folder: DIR or --model
	JSON bool
}

func newModelInspectCmd(f *Factory, runF func(context.Context, *modelInspectOptions) error) *cli.Command {
	return newInspectCmd(f, "model inspect", "print a model directory's geometry and parameter count", runF)
}

// newInspectCmd is the inspect command of the model group or, named
// "surgeon inspect", of the surgeon group.
func newInspectCmd(f *Factory, what, usage string, runF func(context.Context, *modelInspectOptions) error) *cli.Command {
	o := &modelInspectOptions{IO: f.IO}
	if runF == nil {
		runF = runModelInspect
	}
	return &cli.Command{
		Name:      "inspect",
		Usage:     usage,
		ArgsUsage: "DIR",
		Flags:     []cli.Flag{jsonFlagTo(&o.JSON)},
		Action: func(c *cli.Context) error {
			dir, err := modelDir(c, what)
			if err != nil {
				return err
			}
			o.Dir = dir
			return runF(c.Context, o)
		},
	}
}

func runModelInspect(_ context.Context, o *modelInspectOptions) error {
	info, err := modeldir.Inspect(o.Dir)
	if err != nil {
		return err
	}
	return printModelInfo(o.IO, info, o.JSON)
}

func printModelInfo(stdio IO, info *modeldir.Info, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	w := tabwriter.NewWriter(stdio.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s (%s)\n", info.Dir, info.ModelType)
	fmt.Fprintf(w, "layers\t%d\n", info.Layers)
	fmt.Fprintf(w, "hidden\t%d\n", info.Hidden)
	fmt.Fprintf(w, "intermediate\t%d\n", info.Intermediate)
	fmt.Fprintf(w, "heads\t%d (kv %d, head dim %d)\n", info.Heads, info.KVHeads, info.HeadDim)
	fmt.Fprintf(w, "vocab\t%d (embedding rows %d)\n", info.VocabSize, info.EmbeddingRows)
	fmt.Fprintf(w, "tied embeddings\t%v\n", info.Tied)
	if info.NormDivisor > 0 {
		fmt.Fprintf(w, "norm divisor\t%g\n", info.NormDivisor)
	}
	fmt.Fprintf(w, "parameters\t%d\n", info.Params)
	for _, g := range info.GroupNames() {
		fmt.Fprintf(w, "  %s\t%d\n", g, info.ParamsByGroup[g])
	}
	for dt, n := range info.DTypes {
		fmt.Fprintf(w, "dtype\t%s (%d params)\n", dt, n)
	}
	fmt.Fprintf(w, "weight bytes\t%d\n", info.WeightBytes)
	fmt.Fprintf(w, "dir bytes\t%d\n", info.DirBytes)
	if info.TokenizerSize > 0 {
		fmt.Fprintf(w, "tokenizer vocab\t%d\n", info.TokenizerSize)
	}
	for _, warn := range info.Warnings {
		fmt.Fprintf(w, "warning\t%s\n", warn)
	}
	return w.Flush()
}
