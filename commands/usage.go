package commands

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Usage errors are one line on stderr and exit code 2: the line names the
// command and the problem, with a "did you mean" where a close name exists,
// and points at the command's --help instead of printing it.

// bittensorSpellings maps the flags bittensor users type (the SDK's and
// btcli's dotted names) to coldint's, with the value they imply (for flags
// that become a valued flag).
var bittensorSpellings = map[string]struct{ flag, value string }{
	"--subtensor.network":        {"--network", ""},
	"--subtensor.chain_endpoint": {"--network", ""},
	"--logging.debug":            {"--log-level", "debug"},
	"--logging.trace":            {"--log-level", "debug"},
	"--logging.info":             {"--log-level", "info"},
	"--wallet.hotkey_name":       {"--wallet.hotkey", ""},
}

// translateBittensorFlags rewrites bittensor spellings in args into coldint
// flags and notes each on w, so that a command line copied from a bittensor
// script runs.
func translateBittensorFlags(args []string, w io.Writer) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, val, hasVal := strings.Cut(a, "=")
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") {
			name = "-" + name
		}
		sp, ok := bittensorSpellings[name]
		if !ok {
			out = append(out, a)
			continue
		}
		fmt.Fprintf(w, "coldint: note: %s is read as %s\n", name, sp.flag)
		switch {
		case sp.value != "":
			out = append(out, sp.flag, sp.value)
		case hasVal:
			out = append(out, sp.flag+"="+val)
		default:
			out = append(out, sp.flag)
		}
	}
	return out
}

// installUsage gives every command one-line usage errors: urfave's own
// handling prints the whole help before the error and exits 1.
func installUsage(app *cli.App) {
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return usageLine(c, "", err, app.Flags)
	}
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return unknownCommand(c, "", app.Commands)
		}
		return cli.ShowAppHelp(c)
	}
	for _, cmd := range app.Commands {
		installCommandUsage(cmd, "", app.Flags)
	}
}

func installCommandUsage(cmd *cli.Command, parent string, global []cli.Flag) {
	path := strings.TrimSpace(parent + " " + cmd.Name)
	cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return usageLine(c, path, err, append(slices.Clone(cmd.Flags), global...))
	}
	required := takeRequired(cmd.Flags)
	if len(required) > 0 {
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			for _, name := range required {
				if !c.IsSet(name) {
					return usageErrorf("%s: --%s is required (see coldint %s --help)", path, name, path)
				}
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
	if len(cmd.Subcommands) > 0 && cmd.Action == nil {
		subs := cmd.Subcommands
		cmd.Action = func(c *cli.Context) error {
			if c.Args().Present() {
				return unknownCommand(c, path, subs)
			}
			return cli.ShowSubcommandHelp(c)
		}
	}
	for _, sub := range cmd.Subcommands {
		installCommandUsage(sub, path, global)
	}
}

// takeRequired clears the Required mark of flags (urfave prints the whole
// help for a missing one) and returns their names, checked in Before instead.
func takeRequired(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		rf, ok := f.(cli.RequiredFlag)
		if !ok || !rf.IsRequired() {
			continue
		}
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer {
			continue
		}
		if field := v.Elem().FieldByName("Required"); field.IsValid() && field.CanSet() && field.Kind() == reflect.Bool {
			field.SetBool(false)
			names = append(names, f.Names()[0])
		}
	}
	return names
}

// usageLine turns a flag-parsing error into one line with a suggestion.
func usageLine(_ *cli.Context, path string, err error, flags []cli.Flag) error {
	msg := err.Error()
	where := "coldint"
	if path != "" {
		where = "coldint " + path
	}
	const undefined = "flag provided but not defined: "
	if i := strings.Index(msg, undefined); i >= 0 {
		bad := strings.TrimLeft(msg[i+len(undefined):], "-")
		hint := ""
		if s := closest(bad, flagNames(flags)); s != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return usageErrorf("%s: unknown flag --%s%s; see %s --help", strings.TrimPrefix(where, "coldint "), bad, hint, where)
	}
	msg = strings.Replace(msg, "argument: -", "argument: --", 1) // Go's flag package names flags with one dash
	return usageErrorf("%s: %s; see %s --help", strings.TrimPrefix(where, "coldint "), msg, where)
}

func unknownCommand(c *cli.Context, path string, cmds []*cli.Command) error {
	name := c.Args().First()
	var names []string
	for _, cmd := range cmds {
		if !cmd.Hidden {
			names = append(names, cmd.Names()...)
		}
	}
	hint := ""
	if s := closest(name, names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	where := strings.TrimSpace("coldint " + path)
	return usageErrorf("unknown command %q for %s%s; see %s --help", name, where, hint, where)
}

func flagNames(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.Names()...)
	}
	return out
}

// closest returns the candidate nearest to s by edit distance, if it is near
// enough to be a typo (or s is a dotted/dashed variant of it).
func closest(s string, candidates []string) string {
	norm := func(x string) string { return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(x)) }
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(norm(s), norm(c))
		if strings.HasSuffix(norm(s), "-"+norm(c)) { // subtensor-network → network
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	switch {
	case len(s) >= 9:
		limit = 3
	case len(s) >= 4:
		limit = 2
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
