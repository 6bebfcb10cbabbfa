package commands

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/coldint/coldint/chain/keys"
	"github.com/urfave/cli/v2"
)

// newWalletCmd groups the commands that manage bittensor wallet files
// (hotkeys).
func newWalletCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:        "wallet",
		Usage:       "create and show bittensor wallet hotkeys (never prints a secret)",
		Subcommands: []*cli.Command{newWalletNewHotkeyCmd(f, nil), newWalletShowCmd(f, nil)},
	}
}

// walletNewHotkeyOptions are the inputs of `coldint wallet new-hotkey`.
type walletNewHotkeyOptions struct {
	F         *Factory
	URI       string
	URISet    bool // --uri given (even empty): derive instead of generating
	Overwrite bool
}

// newWalletNewHotkeyCmd is `coldint wallet new-hotkey`. runF replaces
// runWalletNewHotkey in tests.
func newWalletNewHotkeyCmd(f *Factory, runF func(context.Context, *walletNewHotkeyOptions) error) *cli.Command {
	o := &walletNewHotkeyOptions{F: f}
	if runF == nil {
		runF = runWalletNewHotkey
	}
	return &cli.Command{
		Name:  "new-hotkey",
		Usage: "create a hotkey file (bittensor's unencrypted format, mode 0600)",
		Description: `Writes <wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey> atomically with mode 0600
(folders 0700) from a fresh 12-word mnemonic, or from --uri (e.g. //Alice for local chains).
Prints only the SS58 address and the file written: the mnemonic stays in the file, so back
the file up if the key matters.`,
		Flags: append(f.walletFlags(),
			&cli.StringFlag{Name: "uri", Usage: "derive from a secret URI instead of a new mnemonic (e.g. //Alice, or \"<mnemonic>//hard\")", Destination: &o.URI},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace an existing hotkey file", Destination: &o.Overwrite},
		),
		Action: func(c *cli.Context) error {
			o.URISet = c.IsSet("uri")
			return runF(c.Context, o)
		},
	}
}

func runWalletNewHotkey(ctx context.Context, o *walletNewHotkeyOptions) error {
	var p *keys.Pair
	var err error
	if o.URISet {
		p, err = keys.FromURI(o.URI)
		if err != nil {
			// The URI may hold a mnemonic: do not echo it.
			return usageErrorf("parse --uri: %v", errors.Unwrap(err))
		}
	} else if p, err = keys.Generate(); err != nil {
		return err
	}
	path := o.F.WalletKeys().HotkeyFile()
	if err := keys.WriteKeyfile(ctx, path, p, o.Overwrite); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w (pass --overwrite to replace it)", err)
		}
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "%s\t%s\n", p.Address(), path)
	return err
}

// walletShowOptions are the inputs of `coldint wallet show`.
type walletShowOptions struct {
	F    *Factory
	JSON bool
}

// newWalletShowCmd is `coldint wallet show`. runF replaces runWalletShow in
// tests.
func newWalletShowCmd(f *Factory, runF func(context.Context, *walletShowOptions) error) *cli.Command {
	o := &walletShowOptions{F: f}
	if runF == nil {
		runF = runWalletShow
	}
	return &cli.Command{
		Name:   "show",
		Usage:  "print the SS58 addresses of the wallet's hotkey and coldkey",
		Flags:  append(f.walletFlags(), jsonFlagTo(&o.JSON)),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

// walletShow is the --json shape of `wallet show`.
type walletShow struct {
	Wallet      string `json:"wallet"`
	Hotkey      string `json:"hotkey"`
	HotkeyFile  string `json:"hotkey_file"`
	HotkeySS58  string `json:"hotkey_ss58,omitempty"`
	HotkeyError string `json:"hotkey_error,omitempty"`
	ColdkeyFile string `json:"coldkeypub_file"`
	ColdkeySS58 string `json:"coldkey_ss58,omitempty"`
}

// runWalletShow prints the addresses; an unreadable hotkey is shown and
// also returned as the command's error.
func runWalletShow(ctx context.Context, o *walletShowOptions) error {
	w := o.F.WalletKeys()
	s := walletShow{Wallet: w.Name, Hotkey: w.Hotkey, HotkeyFile: w.HotkeyFile(), ColdkeyFile: w.ColdkeyPubFile()}
	p, herr := w.ReadHotkey(ctx)
	if herr == nil {
		s.HotkeySS58 = p.Address()
	} else {
		s.HotkeyError = herr.Error()
	}
	if pub, err := w.ReadColdkeyPub(ctx); err == nil {
		s.ColdkeySS58 = keys.EncodeAddress(pub)
	}
	out := o.F.IO.Out
	if o.JSON {
		if err := writeJSON(out, s); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "hotkey:  %s (%s)\n", orDash(s.HotkeySS58), s.HotkeyFile)
		fmt.Fprintf(out, "coldkey: %s (%s)\n", orDash(s.ColdkeySS58), s.ColdkeyFile)
	}
	return herr
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
