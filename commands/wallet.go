package commands

import (
	"errors"
	"fmt"
	"os"

	"github.com/coldint/coldint/chain/keys"
	"github.com/urfave/cli/v2"
)

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

// walletCommand manages bittensor wallet files (hotkeys).
func walletCommand() *cli.Command {
	return &cli.Command{
		Name:  "wallet",
		Usage: "create and show bittensor wallet hotkeys (never prints a secret)",
		Subcommands: []*cli.Command{
			{
				Name:  "new-hotkey",
				Usage: "create a hotkey file (bittensor's unencrypted format, mode 0600)",
				Description: `Writes <wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey> atomically with mode 0600
(folders 0700) from a fresh 12-word mnemonic, or from --uri (e.g. //Alice for local chains).
Prints only the SS58 address and the file written: the mnemonic stays in the file, so back
the file up if the key matters.`,
				Flags: append(walletFlags(),
					&cli.StringFlag{Name: "uri", Usage: "derive from a secret URI instead of a new mnemonic (e.g. //Alice, or \"<mnemonic>//hard\")"},
					&cli.BoolFlag{Name: "overwrite", Usage: "replace an existing hotkey file"},
				),
				Action: func(c *cli.Context) error {
					var p *keys.Pair
					var err error
					if c.IsSet("uri") {
						p, err = keys.FromURI(c.String("uri"))
						if err != nil {
							// The URI may hold a mnemonic: do not echo it.
							return usageErrorf("parse --uri: %v", errors.Unwrap(err))
						}
					} else if p, err = keys.Generate(); err != nil {
						return err
					}
					w := walletFrom(c)
					path := w.HotkeyFile()
					if err := keys.WriteKeyfile(c.Context, path, p, c.Bool("overwrite")); err != nil {
						if errors.Is(err, os.ErrExist) {
							return fmt.Errorf("%w (pass --overwrite to replace it)", err)
						}
						return err
					}
					_, err = fmt.Fprintf(ioFrom(c).Out, "%s\t%s\n", p.Address(), path)
					return err
				},
			},
			{
				Name:  "show",
				Usage: "print the SS58 addresses of the wallet's hotkey and coldkey",
				Flags: append(walletFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action: func(c *cli.Context) error {
					w := walletFrom(c)
					s := walletShow{Wallet: c.String("wallet.name"), Hotkey: c.String("wallet.hotkey"),
						HotkeyFile: w.HotkeyFile(), ColdkeyFile: w.ColdkeyPubFile()}
					p, herr := w.ReadHotkey(c.Context)
					if herr == nil {
						s.HotkeySS58 = p.Address()
					} else {
						s.HotkeyError = herr.Error()
					}
					if pub, err := w.ReadColdkeyPub(c.Context); err == nil {
						s.ColdkeySS58 = keys.EncodeAddress(pub)
					}
					out := ioFrom(c).Out
					if c.Bool("json") {
						if err := writeJSON(out, s); err != nil {
							return err
						}
					} else {
						fmt.Fprintf(out, "hotkey:  %s (%s)\n", orDash(s.HotkeySS58), s.HotkeyFile)
						fmt.Fprintf(out, "coldkey: %s (%s)\n", orDash(s.ColdkeySS58), s.ColdkeyFile)
					}
					return herr
				},
			},
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
