package commands

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain/devchain"
)

// optionsCase is one command line of a leaf command whose run is replaced by
// a capture: cmd builds the command with that run, check looks at what
// reached the Options and the Factory.
type optionsCase struct {
	name  string
	env   map[string]string
	args  []string
	cmd   func(f *Factory, got *any) *cli.Command
	check func(t *testing.T, f *Factory, got any)
}

// captured is a run that keeps its Options in *got.
func captured[T any](got *any) func(context.Context, *T) error {
	return func(_ context.Context, o *T) error { *got = o; return nil }
}

// runOptionsCases parses each case's args with its command alone in an app
// set up as NewApp sets one up (the root logging flags, --model on DIR
// commands, COLDINT_<FLAG> variables) and checks the captured Options.
func runOptionsCases(t *testing.T, cases []optionsCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := newFactory(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
			var got any
			cmd := tc.cmd(f, &got)
			app := &cli.App{Name: "coldint", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard,
				ExitErrHandler: func(*cli.Context, error) {},
				Flags:          []cli.Flag{&cli.StringFlag{Name: "log-level", Value: "info"}}}
			installModelFlag(app.Commands)
			applyEnvVars(app.Flags, "")
			applyEnvToCommand(cmd, "")
			if err := app.Run(append([]string{"coldint", cmd.Name}, tc.args...)); err != nil {
				t.Fatalf("%s %v: %v", cmd.Name, tc.args, err)
			}
			if got == nil {
				t.Fatalf("%s %v: the run was not called", cmd.Name, tc.args)
			}
			tc.check(t, f, got)
		})
	}
}

// sameFields compares the fields read (have) with the values wanted, in order.
func sameFields(t *testing.T, have, want []any) {
	t.Helper()
	if len(have) != len(want) {
		t.Fatalf("%d fields read, %d wanted", len(have), len(want))
	}
	for i := range have {
		if !reflect.DeepEqual(have[i], want[i]) {
			t.Errorf("field %d = %#v, want %#v", i, have[i], want[i])
		}
	}
}

// TestChainOptions: every chain and wallet command fills its Options (and
// the Factory's --network and --wallet.*) from its flags, aliases,
// defaults and COLDINT_<FLAG> variables.
func TestChainOptions(t *testing.T) {
	wallet := []string{"--wallet.name", "miner", "--wallet.hotkey", "h1", "--wallet.path", "/w"}
	runOptionsCases(t, []optionsCase{
		{name: "info", args: []string{"--network", "file:/c.log", "--json"},
			cmd: func(f *Factory, got *any) *cli.Command { return newChainInfoCmd(f, captured[chainInfoOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				sameFields(t, []any{f.Chain.Network, got.(*chainInfoOptions).JSON}, []any{"file:/c.log", true})
			}},
		{name: "metagraph env", env: map[string]string{"COLDINT_NETUID": "7", "COLDINT_NETWORK": "test"}, args: []string{"--json"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainMetagraphCmd(f, captured[chainMetagraphOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainMetagraphOptions)
				sameFields(t, []any{f.Chain.Network, o.Netuid, o.JSON}, []any{"test", uint(7), true})
			}},
		{name: "commitments", args: []string{"--netuid", "3"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainCommitmentsCmd(f, captured[chainCommitmentsOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainCommitmentsOptions)
				sameFields(t, []any{f.Chain.Network, o.Netuid, o.JSON}, []any{"local", uint(3), false})
			}},
		{name: "commit", args: append([]string{"--netuid", "1", "--data", "ns:m:c:h:c00"}, wallet...),
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainCommitCmd(f, captured[chainCommitOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainCommitOptions)
				sameFields(t, []any{o.Netuid, o.Commitment, f.Wallet}, []any{uint(1), "ns:m:c:h:c00", WalletFlags{Name: "miner", Hotkey: "h1", Path: "/w"}})
			}},
		{name: "set-weights", args: []string{"--netuid", "2", "--uids", "1,2", "--weights", "0.7,0.3", "--version-key", "1017"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainSetWeightsCmd(f, captured[chainSetWeightsOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainSetWeightsOptions)
				sameFields(t, []any{o.Netuid, o.UIDs, o.Weights, o.VersionKey, f.Wallet.Name}, []any{uint(2), "1,2", "0.7,0.3", uint64(1017), "default"})
			}},
		{name: "serve", args: []string{"--db", "D", "--listen", "127.0.0.1:0", "--block-time", "2s", "--netuid", "4", "--max-uids", "16",
			"--commit-rate-limit", "5", "--weights-rate-limit", "6", "--weights-version-key", "7", "--tempo", "8", "--commit-reveal", "--commit-reveal-version", "2"},
			cmd: func(f *Factory, got *any) *cli.Command { return newChainServeCmd(f, captured[chainServeOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainServeOptions)
				sameFields(t, []any{o.DB, o.Listen, o.BlockTime, o.Netuid, o.Subnet},
					[]any{"D", "127.0.0.1:0", 2 * time.Second, uint(4), subnetParamOptions{16, 5, 6, 7, 8, true, 2}})
			}},
		{name: "serve defaults",
			cmd: func(f *Factory, got *any) *cli.Command { return newChainServeCmd(f, captured[chainServeOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainServeOptions)
				d := devchain.DefaultSubnetParams()
				p, err := o.Subnet.params()
				sameFields(t, []any{o.DB, o.Listen, o.BlockTime, o.Netuid, p, err},
					[]any{"~/.coldint/devchain.log", "127.0.0.1:9944", devchain.DefaultBlockTime, uint(0), d, nil})
			}},
		{name: "create-subnet", args: []string{"--network", "file:/c.log", "--tempo", "10", "--commit-reveal"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainCreateSubnetCmd(f, captured[chainCreateSubnetOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainCreateSubnetOptions)
				sameFields(t, []any{f.Chain.Network, o.Netuid, o.Subnet.Tempo, o.Subnet.CommitReveal, o.Subnet.MaxUIDs, o.Subnet.CommitRevealVersion},
					[]any{"file:/c.log", uint(0), uint(10), true, uint(devchain.DefaultSubnetParams().MaxUIDs), uint(4)})
			}},
		{name: "register", args: append([]string{"--netuid", "1", "--coldkey", "5Cold"}, wallet...),
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainRegisterCmd(f, captured[chainRegisterOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainRegisterOptions)
				sameFields(t, []any{o.Netuid, o.Coldkey, f.WalletKeys().HotkeyFile()}, []any{uint(1), "5Cold", "/w/miner/hotkeys/h1"})
			}},
		{name: "set-stake", args: []string{"--netuid", "1", "--tao", "1000.5"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainSetStakeCmd(f, captured[chainSetStakeOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*chainSetStakeOptions)
				sameFields(t, []any{o.Netuid, o.TAO}, []any{uint(1), 1000.5})
			}},
		{name: "advance", args: []string{"--blocks", "100"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainAdvanceCmd(f, captured[chainAdvanceOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				sameFields(t, []any{got.(*chainAdvanceOptions).Blocks}, []any{uint64(100)})
			}},
		{name: "advance default",
			cmd: func(f *Factory, got *any) *cli.Command {
				return newChainAdvanceCmd(f, captured[chainAdvanceOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				sameFields(t, []any{got.(*chainAdvanceOptions).Blocks}, []any{uint64(1)})
			}},
		{name: "new-hotkey", args: append([]string{"--uri", "//Alice"}, wallet...),
			cmd: func(f *Factory, got *any) *cli.Command {
				return newWalletNewHotkeyCmd(f, captured[walletNewHotkeyOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*walletNewHotkeyOptions)
				sameFields(t, []any{o.URI, o.URISet, o.Overwrite, f.Wallet.Hotkey}, []any{"//Alice", true, false, "h1"})
			}},
		{name: "new-hotkey empty uri", args: []string{"--uri", ""},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newWalletNewHotkeyCmd(f, captured[walletNewHotkeyOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*walletNewHotkeyOptions)
				sameFields(t, []any{o.URI, o.URISet}, []any{"", true})
			}},
		{name: "new-hotkey generated", args: []string{"--overwrite"},
			cmd: func(f *Factory, got *any) *cli.Command {
				return newWalletNewHotkeyCmd(f, captured[walletNewHotkeyOptions](got))
			},
			check: func(t *testing.T, f *Factory, got any) {
				o := got.(*walletNewHotkeyOptions)
				sameFields(t, []any{o.URISet, o.Overwrite, f.Wallet}, []any{false, true, WalletFlags{Name: "default", Hotkey: "default", Path: "~/.bittensor/wallets"}})
			}},
		{name: "show", env: map[string]string{"COLDINT_WALLET_NAME": "validator"}, args: []string{"--json"},
			cmd: func(f *Factory, got *any) *cli.Command { return newWalletShowCmd(f, captured[walletShowOptions](got)) },
			check: func(t *testing.T, f *Factory, got any) {
				sameFields(t, []any{got.(*walletShowOptions).JSON, f.Wallet.Name}, []any{true, "validator"})
			}},
	})
}

// TestChainRunUsageErrors: the runs check their Options themselves, before
// they open a chain or read a wallet: a bad value is a usage error naming
// the flag.
func TestChainRunUsageErrors(t *testing.T) {
	f := newFactory(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	f.Chain.Network = "local+http://127.0.0.1:1" // never dialled: every case fails before
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"metagraph netuid", func() error {
			return runChainMetagraph(context.Background(), &chainMetagraphOptions{F: f, Netuid: 70000})
		}, "--netuid 70000"},
		{"commit too long", func() error {
			return runChainCommit(context.Background(), &chainCommitOptions{F: f, Commitment: strings.Repeat("x", 129)})
		}, "--data: 129 bytes"},
		{"weights mismatch", func() error {
			return runChainSetWeights(context.Background(), &chainSetWeightsOptions{F: f, UIDs: "1,2", Weights: "1"})
		}, "2 uids but 1 weights"},
		{"weights all zero", func() error {
			return runChainSetWeights(context.Background(), &chainSetWeightsOptions{F: f, UIDs: "1,2", Weights: "0,0"})
		}, "all weights are zero"},
		{"stake negative", func() error {
			return runChainSetStake(context.Background(), &chainSetStakeOptions{F: f, TAO: -1})
		}, "--tao -1"},
		{"advance zero", func() error { return runChainAdvance(context.Background(), &chainAdvanceOptions{F: f}) }, "--blocks"},
		{"create-subnet max-uids", func() error {
			return runChainCreateSubnet(context.Background(), &chainCreateSubnetOptions{F: f})
		}, "--max-uids 0"},
		{"serve public", func() error {
			return runChainServe(context.Background(), &chainServeOptions{IO: f.IO, Listen: "0.0.0.0:9944"})
		}, "loopback"},
		{"serve block time", func() error {
			return runChainServe(context.Background(), &chainServeOptions{IO: f.IO, Listen: "127.0.0.1:0", BlockTime: -time.Second})
		}, "--block-time"},
		{"serve tempo", func() error {
			return runChainServe(context.Background(), &chainServeOptions{IO: f.IO, Listen: "localhost:0", Subnet: subnetParamOptions{MaxUIDs: 1, Tempo: 70000}})
		}, "--tempo 70000"},
		{"serve commit-reveal version", func() error {
			return runChainServe(context.Background(), &chainServeOptions{IO: f.IO, Listen: "localhost:0", Subnet: subnetParamOptions{MaxUIDs: 1, CommitRevealVersion: 5}})
		}, "--commit-reveal-version 5"},
		{"new-hotkey uri", func() error {
			return runWalletNewHotkey(context.Background(), &walletNewHotkeyOptions{F: f, URI: "not a mnemonic", URISet: true})
		}, "--uri"},
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
