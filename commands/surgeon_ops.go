package commands

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/surgeon"
)

// The surgeries that change one model's geometry or storage: each loads
// DIR, changes it and writes the result to --out.

// --- add-layers ---

type surgeonAddLayersOptions struct {
	surgeryArgs
	At    int
	Count int
}

func newSurgeonAddLayersCmd(f *Factory, runF func(context.Context, *surgeonAddLayersOptions) error) *cli.Command {
	o := &surgeonAddLayersOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonAddLayers
	}
	return &cli.Command{
		Name: "add-layers", Usage: "insert identity-initialised layers (zero o_proj/down_proj) before layer --at",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out),
			&cli.IntFlag{Name: "at", Required: true, Usage: "insert before this layer (0..L)", Destination: &o.At},
			&cli.IntFlag{Name: "count", Value: 1, Usage: "layers to add", Destination: &o.Count}},
		Action: dirAction("surgeon add-layers", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonAddLayers(ctx context.Context, o *surgeonAddLayersOptions) error {
	return o.apply(ctx, "surgeon add-layers", func(m *surgeon.Model) (*surgeon.Model, error) {
		return surgeon.AddLayers(m, o.At, o.Count)
	})
}

// --- grow-hidden ---

type surgeonGrowHiddenOptions struct {
	surgeryArgs
	Hidden int
	Seed   uint64
}

func newSurgeonGrowHiddenCmd(f *Factory, runF func(context.Context, *surgeonGrowHiddenOptions) error) *cli.Command {
	o := &surgeonGrowHiddenOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonGrowHidden
	}
	return &cli.Command{
		Name: "grow-hidden", Usage: "widen the hidden size by whole heads, function-preserving via norm_divisor",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out), initSeedFlagTo(&o.Seed),
			&cli.IntFlag{Name: "hidden", Aliases: []string{"to"}, Required: true, Usage: "new hidden size", Destination: &o.Hidden}},
		Action: dirAction("surgeon grow-hidden", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonGrowHidden(ctx context.Context, o *surgeonGrowHiddenOptions) error {
	return o.apply(ctx, "surgeon grow-hidden", func(m *surgeon.Model) (*surgeon.Model, error) {
		return surgeon.GrowHidden(m, o.Hidden, o.Seed)
	})
}

// --- grow-intermediate ---

type surgeonGrowIntermediateOptions struct {
	surgeryArgs
	Intermediate int
	Seed         uint64
}

func newSurgeonGrowIntermediateCmd(f *Factory, runF func(context.Context, *surgeonGrowIntermediateOptions) error) *cli.Command {
	o := &surgeonGrowIntermediateOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonGrowIntermediate
	}
	return &cli.Command{
		Name: "grow-intermediate", Usage: "widen the MLPs, function-preserving",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out), initSeedFlagTo(&o.Seed),
			&cli.IntFlag{Name: "intermediate", Aliases: []string{"to"}, Required: true, Usage: "new intermediate size", Destination: &o.Intermediate}},
		Action: dirAction("surgeon grow-intermediate", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonGrowIntermediate(ctx context.Context, o *surgeonGrowIntermediateOptions) error {
	return o.apply(ctx, "surgeon grow-intermediate", func(m *surgeon.Model) (*surgeon.Model, error) {
		return surgeon.GrowIntermediate(m, o.Intermediate, o.Seed)
	})
}

// --- resize-vocab ---

type surgeonResizeVocabOptions struct {
	surgeryArgs
	Vocab       int
	PadMultiple int
	InitRows    string
	Seed        uint64
}

func newSurgeonResizeVocabCmd(f *Factory, runF func(context.Context, *surgeonResizeVocabOptions) error) *cli.Command {
	o := &surgeonResizeVocabOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonResizeVocab
	}
	return &cli.Command{
		Name: "resize-vocab", Usage: "resize the embedding (and untied lm_head) to N rows",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out), initSeedFlagTo(&o.Seed),
			&cli.IntFlag{Name: "vocab", Aliases: []string{"to"}, Required: true, Usage: "new vocabulary size", Destination: &o.Vocab},
			&cli.IntFlag{Name: "pad-multiple", Usage: "round the size up to a multiple of this", Destination: &o.PadMultiple},
			&cli.StringFlag{Name: "init-rows", Aliases: []string{"init"}, Value: surgeon.InitNormal, Usage: "new rows: normal (N(0, initializer_range²)) or mean (mean of old rows)", Destination: &o.InitRows}},
		Action: dirAction("surgeon resize-vocab", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonResizeVocab(ctx context.Context, o *surgeonResizeVocabOptions) error {
	return o.apply(ctx, "surgeon resize-vocab", func(m *surgeon.Model) (*surgeon.Model, error) {
		return surgeon.ResizeVocab(m, o.Vocab, o.PadMultiple, o.InitRows, o.Seed)
	})
}

// --- convert ---

type surgeonConvertOptions struct {
	surgeryArgs
	DType string
}

func newSurgeonConvertCmd(f *Factory, runF func(context.Context, *surgeonConvertOptions) error) *cli.Command {
	o := &surgeonConvertOptions{surgeryArgs: surgeryArgs{IO: f.IO}}
	if runF == nil {
		runF = runSurgeonConvert
	}
	return &cli.Command{
		Name: "convert", Usage: "change the storage dtype",
		ArgsUsage: "DIR", Flags: []cli.Flag{surgeonOutFlagTo(&o.Out),
			&cli.StringFlag{Name: "save-dtype", Aliases: []string{"dtype"}, Required: true, Usage: "dtype of the saved weights: bf16, f16 or f32", Destination: &o.DType}},
		Action: dirAction("surgeon convert", &o.Dir, func(ctx context.Context) error { return runF(ctx, o) }),
	}
}

func runSurgeonConvert(ctx context.Context, o *surgeonConvertOptions) error {
	dt, err := safetensors.ParseDType(o.DType)
	if err != nil {
		return usageErrorf("surgeon convert: %w", err)
	}
	return o.apply(ctx, "surgeon convert", func(m *surgeon.Model) (*surgeon.Model, error) {
		m.DType = dt
		return m, nil
	})
}
