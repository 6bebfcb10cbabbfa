package commands

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// envPrefix is the prefix of every environment variable that sets a flag.
const envPrefix = "COLDINT_"

// knownEnv collects every generated variable name so unknown ones can be warned about.
var knownEnv = map[string]bool{}

// otherEnv are COLDINT_* variables that set no flag: the engine library's
// path (read by the model package), the libtorch folder of make build, and
// the variables the tests and the native build read.
var otherEnv = []string{"COLDINT_NATIVE", "COLDINT_LIBTORCH", "COLDINT_NATIVE_", "COLDINT_TEST_", launchedEnv}

// envName turns a flag name such as "wallet.name" into COLDINT_WALLET_NAME.
func envName(flag string) string {
	r := strings.NewReplacer("-", "_", ".", "_")
	return envPrefix + strings.ToUpper(r.Replace(flag))
}

// applyEnvVars gives every flag a COLDINT_<FLAG> environment variable.
func applyEnvVars(flags []cli.Flag, _ string) {
	for _, f := range flags {
		names := f.Names()
		if len(names) == 0 {
			continue
		}
		name := envName(names[0])
		knownEnv[name] = true
		switch fl := f.(type) {
		case *cli.StringFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.IntFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.Int64Flag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.Uint64Flag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.UintFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.Float64Flag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.BoolFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.DurationFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.StringSliceFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.IntSliceFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.Float64SliceFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		case *cli.PathFlag:
			fl.EnvVars = appendOnce(fl.EnvVars, name)
		}
	}
}

func appendOnce(list []string, v string) []string {
	for _, s := range list {
		if s == v {
			return list
		}
	}
	return append(list, v)
}

func applyEnvToCommand(cmd *cli.Command, _ string) {
	applyEnvVars(cmd.Flags, "")
	for _, sub := range cmd.Subcommands {
		applyEnvToCommand(sub, "")
	}
}

// warnUnknownEnv prints a warning for COLDINT_* variables that match no flag.
func warnUnknownEnv(w io.Writer) {
	// Build the table once with a throwaway app so the names are known.
	if len(knownEnv) == 0 {
		NewApp(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix) && !knownEnv[k] && !otherKnown(k) {
			fmt.Fprintf(w, "coldint: warning: unknown environment variable %s (no flag of that name)\n", k)
		}
	}
}

func otherKnown(k string) bool {
	for _, o := range otherEnv {
		if k == o || strings.HasSuffix(o, "_") && strings.HasPrefix(k, o) {
			return true
		}
	}
	return false
}
