package commands

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain/keys"
)

// The helpers below read the shared flags from a *cli.Context. The commands
// that take the Options + run(ctx, opts) shape use the Factory instead;
// these stay until every command does.

// networkFlag is the shared --network flag.
func networkFlag() cli.Flag { return networkFlagTo(new(string)) }

// walletFlags are the shared --wallet.* flags, defaulting like btcli.
func walletFlags() []cli.Flag { return new(Factory).walletFlags() }

// walletFrom returns the wallet named by the --wallet.* flags.
func walletFrom(c *cli.Context) keys.Wallet {
	return keys.Wallet{Path: keys.ExpandPath(c.String("wallet.path")), Name: c.String("wallet.name"), Hotkey: c.String("wallet.hotkey")}
}

// loadHotkey reads the hotkey of the --wallet.* flags.
func loadHotkey(c *cli.Context) (*keys.Pair, error) {
	w := walletFrom(c)
	p, err := w.ReadHotkey(c.Context)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (create one with `coldint wallet new-hotkey --wallet.name %s --wallet.hotkey %s`)", err, w.Name, w.Hotkey)
		}
		return nil, err
	}
	return p, nil
}

// openChain opens the backend named by --network.
func openChain(c *cli.Context) (*chainConn, error) {
	return openNetwork(c.Context, c.String("network"))
}

// withChain opens the chain, runs f and closes it.
func withChain(c *cli.Context, f func(cc *chainConn) error) error {
	cc, err := openChain(c)
	if err != nil {
		return err
	}
	defer cc.Close()
	return f(cc)
}
