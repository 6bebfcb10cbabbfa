package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate"
	"github.com/urfave/cli/v2"
)

// The chain commands live in chain_read.go (info, metagraph, commitments),
// chain_write.go (commit, set-weights), chain_local.go (the devchain admin
// commands) and chain_serve.go; this file opens the chain --network names.

// Well-known networks of --network.
const (
	finneyURL = "wss://entrypoint-finney.opentensor.ai:443"
	testURL   = "wss://test.finney.opentensor.ai:443"
)

// chainConn is an open chain backend chosen by --network.
type chainConn struct {
	Name   string
	Reader chain.Reader
	// As returns the chain with writes signed by s.
	As func(s chain.Signer) chain.Chain
	// Local is the devchain node for local networks, nil for subtensor.
	Local devchain.Node
	// Substrate is the subtensor client for node networks, nil for local.
	Substrate *substrate.Client
	close     func() error
}

// Close releases the backend.
func (cc *chainConn) Close() error {
	if cc.close == nil {
		return nil
	}
	return cc.close()
}

// networkKind classifies a --network value: "devchain-url", "devchain-file"
// or "substrate", with the URL or path to open.
func networkKind(network string) (kind, target string, err error) {
	n := strings.TrimSpace(network)
	switch {
	case n == "local":
		return "devchain-url", devchain.DefaultURL, nil
	case strings.HasPrefix(n, "local+"):
		u := strings.TrimPrefix(n, "local+")
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return "", "", usageErrorf("parse --network %q: local+ needs an http:// URL", network)
		}
		return "devchain-url", u, nil
	case strings.HasPrefix(n, "file:"):
		p := strings.TrimPrefix(n, "file:")
		if p == "" {
			return "", "", usageErrorf("parse --network %q: file: needs a path", network)
		}
		return "devchain-file", keys.ExpandPath(p), nil
	case strings.HasPrefix(n, "/"), strings.HasPrefix(n, "./"), strings.HasPrefix(n, "../"), strings.HasPrefix(n, "~/"):
		return "devchain-file", keys.ExpandPath(n), nil
	case n == "finney":
		return "substrate", finneyURL, nil
	case n == "test":
		return "substrate", testURL, nil
	case strings.HasPrefix(n, "ws://"), strings.HasPrefix(n, "wss://"), strings.HasPrefix(n, "http://"), strings.HasPrefix(n, "https://"):
		return "substrate", n, nil
	}
	return "", "", usageErrorf("parse --network %q: want local, local+http://HOST:PORT, file:PATH, finney, test, or a ws://, wss://, http:// or https:// URL", network)
}

// openNetwork opens the backend a --network value names.
func openNetwork(ctx context.Context, network string) (*chainConn, error) {
	kind, target, err := networkKind(network)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "devchain-url":
		cl, err := devchain.Dial(ctx, target)
		if err != nil {
			if network == "local" {
				return nil, fmt.Errorf("%w (is `coldint chain serve` running?)", err)
			}
			return nil, err
		}
		return &chainConn{Name: network, Reader: cl, As: cl.As, Local: cl, close: cl.Close}, nil
	case "devchain-file":
		dc, err := devchain.Open(ctx, devchain.Options{Path: target})
		if err != nil {
			if errors.Is(err, devchain.ErrLocked) {
				return nil, fmt.Errorf("%w: a `coldint chain serve` probably holds it; use --network local+http://... to reach it", err)
			}
			return nil, err
		}
		return &chainConn{Name: network, Reader: dc, As: dc.As, Local: dc, close: dc.Close}, nil
	default:
		sc, err := substrate.Dial(ctx, target, substrate.Options{})
		if err != nil {
			return nil, err
		}
		return &chainConn{
			Name: network, Reader: sc, Substrate: sc, close: sc.Close,
			As: func(s chain.Signer) chain.Chain { return sc.WithSigner(s) },
		}, nil
	}
}

// localOnly returns the devchain node or an error naming the command.
func (cc *chainConn) localOnly(what string) (devchain.Node, error) {
	if cc.Local == nil {
		return nil, usageErrorf("%s works on local chains only (--network local, local+http://..., file:PATH); %q is a subtensor node", what, cc.Name)
	}
	return cc.Local, nil
}

// chainNetuidFlagTo is the --netuid the chain commands require.
func chainNetuidFlagTo(dest *uint) cli.Flag {
	return &cli.UintFlag{Name: "netuid", Usage: "subnet id", Required: true, Destination: dest}
}

// checkNetuid converts a --netuid value to a subnet id.
func checkNetuid(n uint) (chain.NetUID, error) {
	if n > 65535 {
		return 0, usageErrorf("parse --netuid %d: must be at most 65535", n)
	}
	return chain.NetUID(n), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newChainCmd groups the chain commands.
func newChainCmd(f *Factory) *cli.Command {
	return &cli.Command{
		Name:  "chain",
		Usage: "read and write the Bittensor chain (subtensor) or a local devchain",
		Description: `--network chooses the chain: "local" is the devchain that ` + "`coldint chain serve`" + ` exposes on
` + devchain.DefaultURL + `; "file:PATH" opens a devchain file in this process (no server); finney,
test and ws://, wss://, http://, https:// URLs reach subtensor nodes. Writes are signed by the
hotkey of --wallet.name/--wallet.hotkey under --wallet.path (bittensor's wallet layout).`,
		Subcommands: []*cli.Command{
			newChainInfoCmd(f, nil),
			newChainMetagraphCmd(f, nil),
			newChainCommitmentsCmd(f, nil),
			newChainCommitCmd(f, nil),
			newChainSetWeightsCmd(f, nil),
			newChainServeCmd(f, nil),
			newChainCreateSubnetCmd(f, nil),
			newChainRegisterCmd(f, nil),
			newChainSetStakeCmd(f, nil),
			newChainAdvanceCmd(f, nil),
		},
	}
}

// signedFlags are the flags of a chain command that signs: --network, the
// wallet flags, then extra.
func (f *Factory) signedFlags(extra ...cli.Flag) []cli.Flag {
	flags := append([]cli.Flag{networkFlagTo(&f.Chain.Network)}, f.walletFlags()...)
	return append(flags, extra...)
}
