package commands

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/coldint/coldint/internal/cliconfig"
)

// A --config file (YAML or TOML, see package cliconfig) sets any flag:
// values on the command line win over COLDINT_* variables, which win over
// the file, which wins over the defaults. The file's values reach the flags
// through their COLDINT_<FLAG> variables for the duration of the run.

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Usage: "YAML or TOML file of flag values, global or per command (see coldint config dump)", Category: "config"}
}

// extractConfig removes --config FILE (anywhere on the line) from args and
// returns FILE, or COLDINT_CONFIG.
func extractConfig(args []string) (string, []string, error) {
	path := os.Getenv(envName("config"))
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return path, append(out, args[i:]...), nil
		case a == "--config" || a == "-config":
			if i+1 >= len(args) {
				return "", nil, usageErrorf("--config needs a file")
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			_, path, _ = strings.Cut(a, "=")
		default:
			out = append(out, a)
		}
	}
	return path, out, nil
}

// commandAt returns the command named by path words ("mine train"), or nil.
func commandAt(app *cli.App, path []string) *cli.Command {
	cmds := app.Commands
	var cur *cli.Command
	for _, w := range path {
		if cur = findCommand(cmds, w); cur == nil {
			return nil
		}
		cmds = cur.Subcommands
	}
	return cur
}

// runningPath is the command path that args select (flags skipped).
func runningPath(app *cli.App, args []string) []string {
	var path []string
	cmds, flags := app.Commands, app.Flags
	rest := args[min(1, len(args)):]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && takesValue(flags, a) {
				i++ // the flag's value, not a command
			}
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		path = append(path, c.Name)
		cmds, flags = c.Subcommands, c.Flags
	}
	return path
}

// applyConfig reads the config file and sets the COLDINT_* variable of every
// flag it gives for the running command that is not set already. It returns
// a function restoring the environment.
func applyConfig(app *cli.App, file string, args []string) (func(), error) {
	restore := func() {}
	if file == "" {
		return restore, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return restore, fmt.Errorf("read config: %w", err)
	}
	settings, err := cliconfig.Parse(file, data, func(p string) bool { return commandAt(app, strings.Fields(p)) != nil })
	if err != nil {
		return restore, &UsageError{Err: err}
	}
	path := runningPath(app, args)
	if len(path) >= 2 && path[0] == "config" && path[1] == "dump" {
		path = strings.Fields(strings.Join(args[slices.Index(args, "dump")+1:], " "))
	}
	var set []string
	for _, s := range settings {
		leaf, err := configTarget(app, s, path)
		if err != nil {
			return restore, &UsageError{Err: fmt.Errorf("config %q: %w", file, err)}
		}
		if leaf == nil {
			continue
		}
		name := envName(s.Flag)
		if _, ok := os.LookupEnv(name); ok {
			continue
		}
		os.Setenv(name, strings.Join(s.Values, ","))
		set = append(set, name)
	}
	return func() {
		for _, n := range set {
			os.Unsetenv(n)
		}
	}, nil
}

// configTarget checks that s names a flag and returns the running command it
// applies to (nil when it is meant for another command).
func configTarget(app *cli.App, s cliconfig.Setting, path []string) (*cli.Command, error) {
	section := strings.Fields(s.Section)
	if len(section) > 0 && commandAt(app, section) == nil {
		return nil, fmt.Errorf("section %q is not a command", s.Section)
	}
	if !hasFlagUnder(app, section, s.Flag) {
		all := flagNamesUnder(app, section)
		if hint := closest(s.Flag, all); hint != "" {
			return nil, fmt.Errorf("no command %s has a flag %q (did you mean %q?)", strings.TrimSpace("under "+s.Section), s.Flag, hint)
		}
		return nil, fmt.Errorf("no command %s has a flag %q", strings.TrimSpace("under "+s.Section), s.Flag)
	}
	if len(section) > len(path) || !slices.Equal(section, path[:len(section)]) {
		return nil, nil
	}
	leaf := commandAt(app, path)
	if leaf == nil {
		return nil, nil
	}
	for _, f := range append(slices.Clone(leaf.Flags), app.Flags...) {
		if slices.Contains(f.Names(), s.Flag) {
			return leaf, nil
		}
	}
	return nil, nil
}

func hasFlagUnder(app *cli.App, section []string, flag string) bool {
	return slices.Contains(flagNamesUnder(app, section), flag)
}

// flagNamesUnder lists the flags of the commands under section (every
// command and the global flags for the empty section).
func flagNamesUnder(app *cli.App, section []string) []string {
	var out []string
	var visit func(cmds []*cli.Command)
	visit = func(cmds []*cli.Command) {
		for _, c := range cmds {
			out = append(out, flagNames(c.Flags)...)
			visit(c.Subcommands)
		}
	}
	if len(section) == 0 {
		out = flagNames(app.Flags)
		visit(app.Commands)
		return out
	}
	c := commandAt(app, section)
	out = flagNames(c.Flags)
	visit(c.Subcommands)
	return out
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "show the flag values a command would run with (defaults, COLDINT_* variables and --config file)",
		Subcommands: []*cli.Command{{
			Name:      "dump",
			Usage:     "print a command's flags and their effective values as a YAML config file",
			ArgsUsage: "COMMAND [SUBCOMMAND]",
			Action: func(c *cli.Context) error {
				path := c.Args().Slice()
				cmd := commandAt(c.App, path)
				if cmd == nil || len(path) == 0 {
					return usageErrorf("config dump: %q is not a command; see coldint --help", strings.Join(path, " "))
				}
				return dumpConfig(ioFrom(c).Out, strings.Join(path, " "), cmd)
			},
		}},
	}
}

// dumpConfig writes the effective value of every flag of cmd.
func dumpConfig(w io.Writer, path string, cmd *cli.Command) error {
	vals := yaml.Node{Kind: yaml.MappingNode}
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		if name == "help" {
			continue
		}
		v, ok := os.LookupEnv(envName(name))
		if !ok {
			if df, isDoc := f.(cli.DocGenerationFlag); isDoc {
				v = df.GetValue()
			}
			if bf, isBool := f.(*cli.BoolFlag); isBool {
				v = fmt.Sprint(bf.Value)
			}
		}
		val := &yaml.Node{Kind: yaml.ScalarNode, Value: strings.Trim(v, `"`)}
		if val.Value == "" {
			val.Style = yaml.DoubleQuotedStyle // an empty value, not a null
		}
		vals.Content = append(vals.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, val)
	}
	doc := yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: path}, &vals}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	return enc.Close()
}
