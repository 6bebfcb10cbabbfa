package commands

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestEveryCommandHasExamples: each command's help ends with EXAMPLES, and
// every flag an example uses exists on the command it runs.
func TestEveryCommandHasExamples(t *testing.T) {
	app := NewApp(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var visit func(path []string, cmds []*cli.Command)
	visit = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(slices.Clone(path), c.Name)
			out, _, code := runCLI(t, append(slices.Clone(p), "--help")...)
			if code != 0 || !strings.Contains(out, "EXAMPLES:") {
				t.Errorf("coldint %s --help has no EXAMPLES (exit %d)", strings.Join(p, " "), code)
			}
			for _, ex := range examples[strings.Join(p, " ")] {
				checkExample(t, app, ex)
			}
			visit(p, c.Subcommands)
		}
	}
	visit(nil, app.Commands)
}

// checkExample finds the command an example runs and checks its flags.
func checkExample(t *testing.T, app *cli.App, ex string) {
	t.Helper()
	words := strings.Fields(ex)
	i := slices.Index(words, "coldint")
	if i < 0 {
		t.Errorf("example %q does not run coldint", ex)
		return
	}
	flags := slices.Clone(app.Flags)
	cmds := app.Commands
	var leaf *cli.Command
	for _, w := range words[i+1:] {
		if w == "|" || w == ">" || w == "<" || w == "#" {
			break
		}
		if strings.HasPrefix(w, "--") {
			name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			ok := name == "help"
			for _, f := range flags {
				ok = ok || slices.Contains(f.Names(), name)
			}
			if !ok {
				t.Errorf("example %q: --%s is not a flag of %q", ex, name, cmdName(leaf))
			}
			continue
		}
		if c := findCommand(cmds, w); c != nil && (leaf == nil || len(leaf.Subcommands) > 0) {
			leaf, cmds = c, c.Subcommands
			flags = append(slices.Clone(app.Flags), c.Flags...)
		}
	}
	if leaf == nil {
		t.Errorf("example %q names no command", ex)
	}
}

func cmdName(c *cli.Command) string {
	if c == nil {
		return "coldint"
	}
	return c.Name
}
