package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed rewrites args so that flags given after positional arguments
// ("coldint surgeon grow-hidden DIR --to 24") are parsed: urfave/cli, like the
// standard flag package, stops at the first positional argument. It walks the
// command path, then moves the leaf command's flags (with their values) ahead
// of its positional arguments. Everything after "--" is left alone.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	flags := app.Flags
	i := 1
	// Walk global flags and the command path.
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") {
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
			continue
		}
		sub := findCommand(cmds, a)
		if sub == nil {
			break
		}
		out = append(out, a)
		cmds, flags = sub.Subcommands, sub.Flags
		i++
		if len(cmds) == 0 {
			break
		}
	}
	var flagArgs, positional []string
	for i < len(args) {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flagArgs = append(flagArgs, a)
			if takesValue(flags, a) && i+1 < len(args) {
				flagArgs = append(flagArgs, args[i+1])
				i++
			}
		} else {
			positional = append(positional, a)
		}
		i++
	}
	out = append(out, flagArgs...)
	return append(out, positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// takesValue reports whether flag token a (e.g. "--to") names a flag that
// consumes the next argument.
func takesValue(flags []cli.Flag, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	name := strings.TrimLeft(a, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			switch f.(type) {
			case *cli.BoolFlag:
				return false
			}
			return true
		}
	}
	return false
}
