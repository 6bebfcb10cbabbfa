package commands

import (
	"testing"

	"github.com/urfave/cli/v2"
)

// TestAuditOptions: audit and validate --publish fill their Options from
// flags, arguments, defaults and COLDINT_<FLAG> variables; --network
// implies the chain check.
func TestAuditOptions(t *testing.T) {
	auditCmd := func(f *Factory, got *any) *cli.Command { return newAuditCmd(f, captured[auditOptions](got)) }
	runOptionsCases(t, []optionsCase{
		{name: "audit", args: []string{"--step", "4", "--data", "a", "--data", "tasks=b", "--network", "file:c", "--netuid", "7",
			"--device", "cpu", "--threads", "2", "--download-dir", "D", "--tolerance", "0.01", "--json", "--hub-dir", "H", "pub"}, cmd: auditCmd,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*auditOptions)
				sameFields(t, []any{o.Arg, o.Step, o.Data.Value(), o.CheckChain, o.NetuidSet, f.Chain, o.Threads, o.DownloadDir, o.Tolerance, o.JSON, f.Hub.Dir, f.Engine.Device},
					[]any{"pub", uint64(4), []string{"a", "tasks=b"}, true, true, ChainFlags{Network: "file:c", Netuid: 7}, 2, "D", 0.01, true, "H", "cpu"})
			}},
		{name: "audit defaults", env: map[string]string{"COLDINT_DOWNLOAD_DIR": "E"}, args: []string{"me/evals@main"}, cmd: auditCmd,
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*auditOptions)
				sameFields(t, []any{o.Arg, o.Step, o.CheckChain, o.NetuidSet, o.DownloadDir, o.Tolerance, o.JSON},
					[]any{"me/evals@main", uint64(0), false, false, "E", 0.001, false})
			}},
		{name: "validate --publish", args: []string{"--publish", "hub:me/evals"},
			cmd: func(f *Factory, got *any) *cli.Command { return newValidateCmd(f, captured[validateOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				sameFields(t, []any{got.(*validateOptions).Publish}, []any{"hub:me/evals"})
			}},
	})
}
