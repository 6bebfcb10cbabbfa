package commands

import (
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// sameConcept are variables read by flags whose help differs by command but
// that set one concept (an output folder, JSON output, a subnet id, ...).
var sameConcept = map[string]bool{
	"COLDINT_JSON": true, "COLDINT_OUT": true, "COLDINT_NETUID": true, "COLDINT_ADDR": true,
	"COLDINT_COMPETITION": true, "COLDINT_COMPETITIONS": true, "COLDINT_DATASET": true, "COLDINT_LOCAL": true,
	"COLDINT_PER_FILE": true, "COLDINT_PUBLIC": true, "COLDINT_REVISION": true, "COLDINT_THREADS": true,
	"COLDINT_TOKENIZER": true, "COLDINT_MAX_TOKENS": true, "COLDINT_INIT_SEED": true, "COLDINT_HUB_DIR": true,
	"COLDINT_MODEL":  true, // a model folder
	"COLDINT_DATA":   true, // text to read: samples, training text, a validator's local text
	"COLDINT_DEVICE": true, "COLDINT_MAX_MEMORY": true,
	// the shape and dtype of the model a command writes
	"COLDINT_HIDDEN": true, "COLDINT_INTERMEDIATE": true, "COLDINT_VOCAB": true, "COLDINT_SAVE_DTYPE": true,
}

// TestEnvVarsUnique: a COLDINT_* variable means one thing. Every flag that
// reads a variable, in every command, must be the same setting: the same
// help text (flags of one concept are declared once and shared), or a
// variable of sameConcept.
func TestEnvVarsUnique(t *testing.T) {
	app := NewApp(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	uses := map[string]map[string][]string{} // env -> usage -> commands
	var visit func(path string, flags []cli.Flag, cmds []*cli.Command)
	visit = func(path string, flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			df, ok := f.(cli.DocGenerationFlag)
			if !ok {
				continue
			}
			for _, env := range df.GetEnvVars() {
				if uses[env] == nil {
					uses[env] = map[string][]string{}
				}
				uses[env][df.GetUsage()] = append(uses[env][df.GetUsage()], strings.TrimSpace(path))
			}
		}
		for _, c := range cmds {
			visit(path+" "+c.Name, c.Flags, c.Subcommands)
		}
	}
	visit("", app.Flags, app.Commands)
	var bad []string
	for env, m := range uses {
		if len(m) > 1 && !sameConcept[env] {
			var parts []string
			for u, cmds := range m {
				parts = append(parts, "    "+strings.Join(cmds, ", ")+": "+u)
			}
			sort.Strings(parts)
			bad = append(bad, env+" means:\n"+strings.Join(parts, "\n"))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d variables mean different things:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// TestFlagUsageNoBackticks: urfave/cli reads `text` in a flag's help as the
// name of its value, so help text never quotes with backticks.
func TestFlagUsageNoBackticks(t *testing.T) {
	app := NewApp(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var visit func(path string, flags []cli.Flag, cmds []*cli.Command)
	visit = func(path string, flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			if df, ok := f.(cli.DocGenerationFlag); ok && strings.Contains(df.GetUsage(), "`") {
				t.Errorf("%s --%s: help has a backtick: %q", strings.TrimSpace(path), f.Names()[0], df.GetUsage())
			}
		}
		for _, c := range cmds {
			visit(path+" "+c.Name, c.Flags, c.Subcommands)
		}
	}
	visit("", app.Flags, app.Commands)
}
