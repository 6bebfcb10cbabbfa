package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/web"
	"github.com/urfave/cli/v2"
)

// generateOptions are the inputs of `coldint generate`.
type generateOptions struct {
	F           *Factory
	Model       string
	Tokenizer   string // "" means the model folder's
	Prompt      string
	MaxTokens   int
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
	NoStop      bool
	Echo        bool
	Threads     int
}

// newGenerateCmd is `coldint generate`: sample text from a model folder.
// runF replaces runGenerate in tests.
func newGenerateCmd(f *Factory, runF func(context.Context, *generateOptions) error) *cli.Command {
	o := &generateOptions{F: f}
	if runF == nil {
		runF = runGenerate
	}
	return &cli.Command{
		Name:  "generate",
		Usage: "generate text from a model folder, streaming the tokens to stdout",
		Description: "Samples a continuation of --prompt with the engine: greedy at --temperature 0, otherwise softmax sampling\n" +
			"with optional --top-k and --top-p (nucleus) cuts. The same --seed and options give the same text.\n" +
			"The model folder needs config.json, safetensors weights and a tokenizer.json (or give --tokenizer).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Required: true, Usage: "model folder", Destination: &o.Model},
			&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer folder or tokenizer.json (default: the model's)", Destination: &o.Tokenizer},
			&cli.StringFlag{Name: "prompt", Required: true, Usage: "text to continue", Destination: &o.Prompt},
			&cli.IntFlag{Name: "max-tokens", Value: 64, Usage: fmt.Sprintf("tokens to generate at most (1..%d)", model.MaxGenerateTokens), Destination: &o.MaxTokens},
			&cli.Float64Flag{Name: "temperature", Value: 0, Usage: "sampling temperature (0: greedy)", Destination: &o.Temperature},
			&cli.IntFlag{Name: "top-k", Usage: "keep the K most likely tokens (0: all)", Destination: &o.TopK},
			&cli.Float64Flag{Name: "top-p", Usage: "nucleus sampling: keep the most likely tokens up to this probability (0 or 1: all)", Destination: &o.TopP},
			&cli.Uint64Flag{Name: "sampling-seed", Aliases: []string{"seed"}, Usage: "seed of the token sampling", Destination: &o.Seed},
			&cli.BoolFlag{Name: "no-stop", Usage: "do not stop at the end-of-sequence token", Destination: &o.NoStop},
			&cli.BoolFlag{Name: "echo", Usage: "print the prompt before the generated text", Destination: &o.Echo},
			threadsFlagTo(&o.Threads),
		}, f.engineFlags()...),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

// request checks the prompt and sampling flags.
func (o *generateOptions) request() (web.GenerateRequest, error) {
	req := web.GenerateRequest{Prompt: o.Prompt, MaxTokens: o.MaxTokens, Temperature: o.Temperature,
		TopK: o.TopK, TopP: o.TopP, Seed: o.Seed}
	if req.Prompt == "" {
		return req, usageErrorf("parse --prompt: must not be empty")
	}
	if req.MaxTokens < 1 || req.MaxTokens > model.MaxGenerateTokens {
		return req, usageErrorf("parse --max-tokens %d: must be between 1 and %d", req.MaxTokens, model.MaxGenerateTokens)
	}
	if err := sampleOptions(req).Validate(); err != nil {
		return req, usageErrorf("parse sampling flags: %v", err)
	}
	return req, nil
}

func runGenerate(ctx context.Context, o *generateOptions) error {
	req, err := o.request()
	if err != nil {
		return err
	}
	ec, err := o.F.EngineChoice("generate")
	if err != nil {
		return err
	}
	g, err := newEngineGenerator(o.Threads, ec)
	if err != nil {
		return err
	}
	defer g.Close()
	g.tokenizerPath = o.Tokenizer
	g.noStop = o.NoStop
	w := o.F.IO.Out
	if o.Echo {
		if _, err := io.WriteString(w, req.Prompt); err != nil {
			return err
		}
	}
	_, err = g.Generate(ctx, o.Model, req, func(text string) error {
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
		if f, ok := w.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
		return nil
	})
	fmt.Fprintln(w)
	return err
}

func sampleOptions(req web.GenerateRequest) model.SampleOptions {
	return model.SampleOptions{Temperature: req.Temperature, TopK: req.TopK, TopP: req.TopP, Seed: req.Seed}
}

// engineGenerator implements web.Generator with the engine. It keeps the
// last model it used loaded; calls are serialised.
type engineGenerator struct {
	eng           *model.Engine
	choice        engineChoice
	tokenizerPath string // "" means the model folder's
	noStop        bool

	mu  sync.Mutex
	dir string
	m   *model.Model
	tok *tokenizer.Tokenizer
}

var _ web.Generator = (*engineGenerator)(nil)

func newEngineGenerator(threads int, ec engineChoice) (*engineGenerator, error) {
	eng, err := ec.newEngine(threads)
	if err != nil {
		return nil, err
	}
	return &engineGenerator{eng: eng, choice: ec}, nil
}

// Close frees the loaded model and stops the engine.
func (g *engineGenerator) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var err error
	if g.m != nil {
		err = g.m.Close()
		g.m = nil
	}
	return errors.Join(err, g.eng.Close())
}

func (g *engineGenerator) load(ctx context.Context, dir string) error {
	if g.m != nil && g.dir == dir {
		return nil
	}
	tokPath := g.tokenizerPath
	if tokPath == "" {
		tokPath = dir
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("load model %q: %w", dir, err)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return fmt.Errorf("load tokenizer for %q: %w", dir, err)
	}
	m, err := g.eng.Load(ctx, dir, g.choice.loadOptions(0))
	if err != nil {
		return err
	}
	if g.m != nil {
		_ = g.m.Close()
	}
	g.dir, g.m, g.tok = dir, m, tok
	return nil
}

// Generate implements web.Generator.
func (g *engineGenerator) Generate(ctx context.Context, dir string, req web.GenerateRequest, onText func(string) error) (web.GenerateResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.load(ctx, dir); err != nil {
		return web.GenerateResult{}, err
	}
	ids, err := g.tok.Encode(req.Prompt, true)
	if err != nil {
		return web.GenerateResult{}, fmt.Errorf("encode prompt: %w", err)
	}
	roles := g.tok.Roles()
	if roles.AddEOS && len(ids) > 1 && ids[len(ids)-1] == roles.EOS {
		ids = ids[:len(ids)-1]
	}
	if len(ids) == 0 {
		return web.GenerateResult{}, fmt.Errorf("encode prompt: no tokens")
	}
	prompt := make([]int32, len(ids))
	for i, id := range ids {
		prompt[i] = int32(id)
	}
	opts := model.GenerateOptions{SampleOptions: sampleOptions(req), MaxTokens: req.MaxTokens}
	if roles.EOS >= 0 && !g.noStop {
		opts.StopIDs = []int32{int32(roles.EOS)}
	}
	stream, err := model.NewTextStream(g.tok, ids)
	if err != nil {
		return web.GenerateResult{}, err
	}
	out, err := g.m.Generate(ctx, prompt, opts, func(id int32) error {
		text, err := stream.Add(int(id))
		if err != nil || text == "" {
			return err
		}
		return onText(text)
	})
	if err != nil {
		return web.GenerateResult{Tokens: len(out)}, err
	}
	if text, err := stream.Flush(); err != nil {
		return web.GenerateResult{Tokens: len(out)}, err
	} else if text != "" {
		if err := onText(text); err != nil {
			return web.GenerateResult{Tokens: len(out)}, err
		}
	}
	return web.GenerateResult{Tokens: len(out)}, nil
}
