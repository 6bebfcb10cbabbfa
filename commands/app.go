package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Version is set at build time with -ldflags "-X github.com/coldint/coldint/commands.Version=...".
var Version = "dev"

// IO holds the streams a command reads and writes. Data and --json output go
// to Out; logs and progress go to Err.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdIO returns the process's standard streams.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// ErrIsTTY reports whether the error stream is a terminal (progress bars are
// drawn only then).
func (s IO) ErrIsTTY() bool {
	f, ok := s.Err.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// commandList returns every top-level command. Each command lives in its own file.
func commandList(f *Factory) []*cli.Command {
	return []*cli.Command{
		newModelCmd(f),
		newSurgeonCmd(f),
		newHashCmd(f, nil),
		newEvalCmd(f, nil),
		newDataCmd(f),
		newChainCmd(f),
		newHubCmd(f),
		newWalletCmd(f),
		newScoreCmd(f, nil),
		newTokenizeCmd(f, nil),
		newValidateCmd(f, nil),
		newEvalWorkerCmd(f, nil),
		newMineCmd(f, nil),
		newServeCmd(f, nil),
		newGenerateCmd(f, nil),
		newDemoCmd(f, nil),
		newAuditCmd(f, nil),
		configCommand(),
		versionCommand(),
		engineInfoCommand(),
	}
}

// NewApp builds the coldint CLI application writing to the given streams.
func NewApp(stdio IO) *cli.App {
	f := newFactory(stdio)
	app := &cli.App{
		Name:                 "coldint",
		Usage:                "collaborative LLM pretraining competition (Bittensor subnet 29 style): mine, validate, surgeon",
		Version:              Version,
		Reader:               stdio.In,
		Writer:               stdio.Out,
		ErrWriter:            stdio.Err,
		EnableBashCompletion: true,
		Suggest:              true,
		ExitErrHandler:       func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error", Category: "logging"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json", Category: "logging"},
			configFlag(),
		},
		Commands: commandList(f),
		Before: func(c *cli.Context) error {
			return setupLogging(c, stdio)
		},
		After: func(*cli.Context) error { return f.Close() },
	}
	app.Metadata = map[string]any{"io": stdio}
	installUsage(app)
	installModelFlag(app.Commands)
	installExamples(app.Commands, "")
	applyEnvVars(app.Flags, "")
	for _, cmd := range app.Commands {
		applyEnvToCommand(cmd, "")
	}
	return app
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	warnUnknownEnv(stdio.Err)
	app := NewApp(stdio)
	args = translateBittensorFlags(args, stdio.Err)
	cfg, args, err := extractConfig(args)
	if err == nil {
		var restore func()
		restore, err = applyConfig(app, cfg, args)
		defer restore()
	}
	if err == nil {
		err = app.RunContext(ctx, interspersed(app, args))
	}
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(stdio.Err, interruptedLine(err))
	default:
		fmt.Fprintf(stdio.Err, "coldint: %v\n", err)
	}
	return ExitCode(err)
}

func ioFrom(c *cli.Context) IO {
	for _, l := range c.Lineage() {
		if l.App != nil {
			if v, ok := l.App.Metadata["io"].(IO); ok {
				return v
			}
		}
	}
	return StdIO()
}

func setupLogging(c *cli.Context, stdio IO) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usageErrorf("parse --log-level %q: must be debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(c.String("log-format")) {
	case "json":
		h = slog.NewJSONHandler(stdio.Err, opts)
	case "text", "":
		h = slog.NewTextHandler(stdio.Err, opts)
	default:
		return usageErrorf("parse --log-format %q: must be text or json", c.String("log-format"))
	}
	slog.SetDefault(slog.New(h))
	return nil
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the coldint version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintln(ioFrom(c).Out, Version)
			return err
		},
	}
}

// errSilent marks an error whose message was already printed.
var errSilent = errors.New("")

// interruptedLine reports an interrupted command: "interrupted", followed by
// what the command said beyond the cancellation itself (where it stopped,
// how to go on).
func interruptedLine(err error) string {
	rest := strings.ReplaceAll(err.Error(), ": context canceled", "")
	rest = strings.TrimSpace(strings.ReplaceAll(rest, "context canceled", ""))
	if rest == "" {
		return "coldint: interrupted"
	}
	return "coldint: interrupted: " + rest
}
