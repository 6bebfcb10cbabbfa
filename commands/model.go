package commands

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/tokenizer"
)

// modelCommand groups the model file commands (init, inspect).
func modelCommand() *cli.Command {
	return &cli.Command{
		Name:  "model",
		Usage: "create and inspect Hugging Face model directories",
		Subcommands: []*cli.Command{
			modelInitCommand(),
			modelInspectCommand(),
		},
	}
}

type modelInitOptions struct {
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

func modelInitCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a random but valid HF model directory (config.json, model.safetensors, tokenizer files)",
		UsageText: "coldint model init --arch llama --layers 2 --hidden 64 --heads 4 --intermediate 172 --vocab 32000 --out DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Value: "llama", Usage: "architecture: llama or phi3"},
			&cli.IntFlag{Name: "layers", Value: 2, Usage: "number of decoder layers"},
			&cli.IntFlag{Name: "hidden", Value: 64, Usage: "hidden size"},
			&cli.IntFlag{Name: "heads", Value: 4, Usage: "attention heads"},
			&cli.IntFlag{Name: "kv-heads", Usage: "key/value heads (default: --heads)"},
			&cli.IntFlag{Name: "intermediate", Value: 0, Usage: "MLP intermediate size (default: 8/3·hidden rounded up to 8)"},
			&cli.IntFlag{Name: "vocab", Usage: "vocabulary size (embedding rows)"},
			&cli.StringFlag{Name: "vocab-from", Usage: "tokenizer.json (or its folder) to size the vocabulary from; its files are copied into the model"},
			&cli.BoolFlag{Name: "tie", Usage: "tie lm_head to the input embedding"},
			&cli.Uint64Flag{Name: "init-seed", Aliases: []string{"seed"}, Value: 0, Usage: "seed of the random weights"},
			&cli.StringFlag{Name: "save-dtype", Aliases: []string{"dtype"}, Value: "bf16", Usage: "dtype of the saved weights: bf16 or f32"},
			&cli.Float64Flag{Name: "rope-theta", Value: 10000, Usage: "rotary base"},
			&cli.IntFlag{Name: "max-position", Value: 4096, Usage: "max_position_embeddings"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output directory (must not exist)"},
		},
		Action: func(c *cli.Context) error {
			o := modelInitOptions{
				Arch: c.String("arch"), Layers: c.Int("layers"), Hidden: c.Int("hidden"), Heads: c.Int("heads"),
				KVHeads: c.Int("kv-heads"), Intermediate: c.Int("intermediate"), Vocab: c.Int("vocab"),
				VocabFrom: c.String("vocab-from"), Tie: c.Bool("tie"), Seed: c.Uint64("init-seed"), DType: c.String("save-dtype"),
				Out: c.String("out"), RopeTheta: c.Float64("rope-theta"), MaxPos: c.Int("max-position"),
			}
			return runModelInit(c, o)
		},
	}
}

func runModelInit(c *cli.Context, o modelInitOptions) error {
	if (o.Vocab > 0) == (o.VocabFrom != "") {
		return usageErrorf("model init: give exactly one of --vocab N or --vocab-from TOKENIZER.json")
	}
	dt, err := safetensors.ParseDType(o.DType)
	if err != nil || dt == safetensors.F16 {
		return usageErrorf("model init: --dtype must be bf16 or f32, not %q", o.DType)
	}
	if o.VocabFrom != "" {
		tok, err := tokenizer.Load(o.VocabFrom)
		if err != nil {
			return fmt.Errorf("model init: %w", err)
		}
		// Every id the tokenizer can produce needs an embedding row.
		o.Vocab = max(tok.VocabSize(), tok.MaxID()+1)
	}
	if o.KVHeads == 0 {
		o.KVHeads = o.Heads
	}
	if o.Intermediate == 0 {
		o.Intermediate = (o.Hidden*8/3 + 7) / 8 * 8
	}
	cfg := &hf.ModelConfig{
		ModelType: o.Arch, VocabSize: o.Vocab, HiddenSize: o.Hidden, IntermediateSize: o.Intermediate,
		NumHiddenLayers: o.Layers, NumAttentionHeads: o.Heads, NumKeyValueHeads: o.KVHeads,
		MaxPositionEmbeddings: o.MaxPos, RopeTheta: o.RopeTheta, TieWordEmbeddings: o.Tie,
		HiddenAct: "silu", InitializerRange: 0.02, RMSNormEps: 1e-5,
	}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("model init: %v", err)
	}
	if err := modeldir.Init(c.Context, o.Out, cfg, modeldir.InitOptions{Seed: o.Seed, DType: dt, TokenizerDir: o.VocabFrom}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(ioFrom(c).Out, "wrote %s: %s, %d params, %s\n", o.Out, o.Arch, cfg.ParamCount(), dt)
	return err
}

func modelInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print a model directory's geometry and parameter count",
		ArgsUsage: "DIR",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			dir, err := modelDir(c, "model inspect")
			if err != nil {
				return err
			}
			info, err := modeldir.Inspect(dir)
			if err != nil {
				return err
			}
			return printModelInfo(ioFrom(c), info, c.Bool("json"))
		},
	}
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
