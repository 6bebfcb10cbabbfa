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

// generateCommand is `coldint generate`: sample text from a model folder.
func generateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "generate text from a model folder, streaming the tokens to stdout",
		Description: "Samples a continuation of --prompt with the engine: greedy at --temperature 0, otherwise softmax sampling\n" +
			"with optional --top-k and --top-p (nucleus) cuts. The same --seed and options give the same text.\n" +
			"The model folder needs config.json, safetensors weights and a tokenizer.json (or give --tokenizer).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Required: true, Usage: "model folder"},
			&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer folder or tokenizer.json (default: the model's)"},
			&cli.StringFlag{Name: "prompt", Required: true, Usage: "text to continue"},
			&cli.IntFlag{Name: "max-tokens", Value: 64, Usage: fmt.Sprintf("tokens to generate at most (1..%d)", model.MaxGenerateTokens)},
			&cli.Float64Flag{Name: "temperature", Value: 0, Usage: "sampling temperature (0: greedy)"},
			&cli.IntFlag{Name: "top-k", Usage: "keep the K most likely tokens (0: all)"},
			&cli.Float64Flag{Name: "top-p", Usage: "nucleus sampling: keep the most likely tokens up to this probability (0 or 1: all)"},
			&cli.Uint64Flag{Name: "sampling-seed", Aliases: []string{"seed"}, Usage: "seed of the token sampling"},
			&cli.BoolFlag{Name: "no-stop", Usage: "do not stop at the end-of-sequence token"},
			&cli.BoolFlag{Name: "echo", Usage: "print the prompt before the generated text"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch threads (0: all cores)"},
			deviceFlag(),
			dtypeFlag(),
		},
		Action: runGenerate,
	}
}

func runGenerate(c *cli.Context) error {
	stdio := ioFrom(c)
	req := web.GenerateRequest{Prompt: c.String("prompt"), MaxTokens: c.Int("max-tokens"), Temperature: c.Float64("temperature"),
		TopK: c.Int("top-k"), TopP: c.Float64("top-p"), Seed: c.Uint64("sampling-seed")}
	if req.Prompt == "" {
		return usageErrorf("parse --prompt: must not be empty")
	}
	if req.MaxTokens < 1 || req.MaxTokens > model.MaxGenerateTokens {
		return usageErrorf("parse --max-tokens %d: must be between 1 and %d", req.MaxTokens, model.MaxGenerateTokens)
	}
	if err := sampleOptions(req).Validate(); err != nil {
		return usageErrorf("parse sampling flags: %v", err)
	}
	ec, err := resolveEngine(c, "generate")
	if err != nil {
		return err
	}
	g, err := newEngineGenerator(c.Int("threads"), ec)
	if err != nil {
		return err
	}
	defer g.Close()
	g.tokenizerPath = c.String("tokenizer")
	g.noStop = c.Bool("no-stop")
	if c.Bool("echo") {
		if _, err := io.WriteString(stdio.Out, req.Prompt); err != nil {
			return err
		}
	}
	w := stdio.Out
	_, err = g.Generate(c.Context, c.String("model"), req, func(text string) error {
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
