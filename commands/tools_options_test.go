package commands

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/web"
)

// TestToolOptions: hash, tokenize, demo, serve and generate fill their
// Options (and the Factory's engine flags) from their flags, arguments,
// aliases, defaults and COLDINT_<FLAG> variables.
func TestToolOptions(t *testing.T) {
	hash := func(f *Factory, got *any) *cli.Command { return newHashCmd(f, captured[hashOptions](got)) }
	demo := func(f *Factory, got *any) *cli.Command { return newDemoCmd(f, captured[demoOptions](got)) }
	serve := func(f *Factory, got *any) *cli.Command { return newServeCmd(f, captured[serveOptions](got)) }
	generate := func(f *Factory, got *any) *cli.Command { return newGenerateCmd(f, captured[generateOptions](got)) }
	hk := "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
	runOptionsCases(t, []optionsCase{
		{name: "hash", args: []string{"--hotkey", hk, "--all", "--workers", "3", "--json", "tiny"}, cmd: hash,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*hashOptions)
				sameFields(t, []any{o.Dir, o.Hotkey, o.HotkeySet, o.All, o.Workers, o.JSON}, []any{"tiny", hk, true, true, 3, true})
			}},
		{name: "hash --model", args: []string{"--model", "m", "--all"}, cmd: hash,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*hashOptions)
				sameFields(t, []any{o.Dir, o.HotkeySet, o.All, o.Workers, o.JSON}, []any{"m", false, true, 0, false})
			}},
		{name: "tokenize", args: []string{"--tokenizer", "T", "--decode", "--add-special", "--skip-special", "--raw", "--json", "extra"},
			cmd: func(f *Factory, got *any) *cli.Command { return newTokenizeCmd(f, captured[tokenizeOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*tokenizeOptions)
				sameFields(t, []any{o.Tokenizer, o.Decode, o.AddSpecial, o.SkipSpecial, o.Raw, o.JSON, o.Args},
					[]any{"T", true, true, true, true, true, []string{"extra"}})
			}},
		{name: "demo", env: map[string]string{"COLDINT_LOG_LEVEL": "debug"},
			args: []string{"--miners", "4", "--steps", "5", "--train-steps", "7", "--dir", "D", "--threads", "2", "--json"}, cmd: demo,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*demoOptions)
				sameFields(t, []any{o.Miners, o.ValidatorSteps, o.TrainSteps, o.Dir, o.Threads, o.JSON, o.DebugLog},
					[]any{4, 5, 7, "D", 2, true, true})
			}},
		{name: "demo defaults", cmd: demo,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*demoOptions)
				sameFields(t, []any{o.Miners, o.ValidatorSteps, o.TrainSteps, o.Dir, o.Threads, o.JSON, o.DebugLog},
					[]any{3, 3, 60, "demo", 0, false, false})
			}},
		{name: "serve", args: []string{"--addr", "127.0.0.1:0", "--state", "S", "--max-tokens", "9", "--no-engine", "--threads", "2",
			"--device", "cpu", "--dtype", "f32"}, cmd: serve,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*serveOptions)
				sameFields(t, []any{o.Addr, o.State, o.MaxTokens, o.NoEngine, o.Threads, f.Engine},
					[]any{"127.0.0.1:0", "S", 9, true, 2, EngineFlags{Device: "cpu", DType: "f32"}})
			}},
		{name: "serve defaults", env: map[string]string{"COLDINT_DTYPE": "bf16"}, cmd: serve,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*serveOptions)
				sameFields(t, []any{o.Addr, o.State, o.MaxTokens, o.NoEngine, f.Engine},
					[]any{"127.0.0.1:8080", "demo", web.DefaultMaxTokens, false, EngineFlags{Device: "auto", DType: "bf16"}})
			}},
		{name: "generate", args: []string{"--model", "M", "--tokenizer", "T", "--prompt", "P", "--max-tokens", "5", "--temperature", "0.7",
			"--top-k", "3", "--top-p", "0.9", "--seed", "11", "--no-stop", "--echo", "--threads", "1", "--device", "cpu", "--dtype", "bf16"}, cmd: generate,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*generateOptions)
				sameFields(t, []any{o.Model, o.Tokenizer, o.Prompt, o.MaxTokens, o.Temperature, o.TopK, o.TopP, o.Seed, o.NoStop, o.Echo, o.Threads, f.Engine},
					[]any{"M", "T", "P", 5, 0.7, 3, 0.9, uint64(11), true, true, 1, EngineFlags{Device: "cpu", DType: "bf16"}})
			}},
		{name: "generate defaults", args: []string{"--model", "M", "--prompt", "P"}, cmd: generate,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*generateOptions)
				sameFields(t, []any{o.Tokenizer, o.MaxTokens, o.Temperature, o.TopK, o.TopP, o.Seed, o.NoStop, o.Echo, f.Engine},
					[]any{"", 64, 0.0, 0, 0.0, uint64(0), false, false, EngineFlags{Device: "auto", DType: "auto"}})
			}},
	})
}

// TestToolRunUsageErrors: the runs check their Options before they load
// a tokenizer, start the engine or read a folder.
func TestToolRunUsageErrors(t *testing.T) {
	f := newFactory(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	ctx := context.Background()
	demo := func(mod func(o *demoOptions)) func() error {
		o := &demoOptions{IO: f.IO, Miners: 3, ValidatorSteps: 3, TrainSteps: 60, Dir: t.TempDir()}
		mod(o)
		return func() error { return runDemo(ctx, o) }
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"hash workers", func() error { return runHash(ctx, &hashOptions{IO: f.IO, Dir: ".", Workers: -1}) }, "--workers -1"},
		{"hash hotkey", func() error { return runHash(ctx, &hashOptions{IO: f.IO, Dir: ".", Hotkey: "5Fxx", HotkeySet: true}) }, "--hotkey"},
		{"tokenize argument", func() error { return runTokenize(ctx, &tokenizeOptions{IO: f.IO, Tokenizer: "T", Args: []string{"x"}}) }, `unexpected argument "x"`},
		{"tokenize no tokenizer", func() error { return runTokenize(ctx, &tokenizeOptions{IO: f.IO}) }, "--tokenizer"},
		{"demo threads", demo(func(o *demoOptions) { o.Threads = -1 }), "--threads -1"},
		{"demo miners", demo(func(o *demoOptions) { o.Miners = 9 }), "--miners 9"},
		{"demo steps", demo(func(o *demoOptions) { o.ValidatorSteps = 0 }), "--steps 0"},
		{"demo train steps", demo(func(o *demoOptions) { o.TrainSteps = 100001 }), "--train-steps 100001"},
		{"generate device", func() error {
			f := newFactory(f.IO)
			f.Engine = EngineFlags{Device: "tpu", DType: "auto"}
			return runGenerate(ctx, &generateOptions{F: f, Model: "M", Prompt: "P", MaxTokens: 4})
		}, "generate: --device"},
		{"serve dtype", func() error {
			f := newFactory(f.IO)
			f.Engine = EngineFlags{Device: "cpu", DType: "f8"}
			return runServe(ctx, &serveOptions{F: f, Addr: "127.0.0.1:0", State: t.TempDir(), MaxTokens: 4})
		}, "serve: --dtype"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (exit %d), want a usage error with %q", err, ExitCode(err), tc.want)
			}
		})
	}
}
