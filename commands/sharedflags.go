package commands

import (
	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain/devchain"
)

// The flags several commands share are declared here, once each, bound to
// the Factory (chain, wallet, hub, engine) or to a command's Options field.

// chainFlags are --network and --netuid.
func (f *Factory) chainFlags() []cli.Flag {
	return []cli.Flag{networkFlagTo(&f.Chain.Network), netuidFlagTo(&f.Chain.Netuid)}
}

func networkFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{
		Name: "network", Value: "local", Category: "chain", Destination: dest,
		Usage: "chain to use: local (the devchain of coldint chain serve at " + devchain.DefaultURL +
			"), local+http://HOST:PORT, file:PATH (a devchain file opened in process), finney, test, or a ws://, wss://, http:// or https:// subtensor node",
	}
}

func netuidFlagTo(dest *uint) cli.Flag {
	return &cli.UintFlag{Name: "netuid", Value: 29, Usage: "subnet id", Category: "chain", Destination: dest}
}

// walletFlags are the --wallet.* flags, defaulting like btcli.
func (f *Factory) walletFlags() []cli.Flag {
	w := &f.Wallet
	return []cli.Flag{
		&cli.StringFlag{Name: "wallet.name", Value: "default", Category: "wallet", Usage: "wallet name (a folder under --wallet.path)", Destination: &w.Name},
		&cli.StringFlag{Name: "wallet.hotkey", Value: "default", Category: "wallet", Usage: "hotkey name (a file under <wallet>/hotkeys)", Destination: &w.Hotkey},
		&cli.StringFlag{Name: "wallet.path", Value: "~/.bittensor/wallets", Category: "wallet", Usage: "folder of the bittensor wallets", Destination: &w.Path},
	}
}

// hubFlags are the hub client flags.
func (f *Factory) hubFlags() []cli.Flag {
	h := &f.Hub
	return []cli.Flag{
		&cli.StringFlag{Name: "hub-endpoint", Aliases: []string{"endpoint"}, Usage: "hub base URL (default: HF_ENDPOINT or https://huggingface.co)", Category: "hub", Destination: &h.Endpoint},
		&cli.StringFlag{Name: "hub-dir", Aliases: []string{"dir"}, Usage: "use the local directory hub at this folder instead of a server", Category: "hub", Destination: &h.Dir},
		&cli.IntFlag{Name: "hub-parallel", Aliases: []string{"parallel"}, Value: 4, Usage: "files transferred at once", Category: "hub", Destination: &h.Parallel},
	}
}

// engineFlags are --device and --dtype.
func (f *Factory) engineFlags() []cli.Flag {
	return []cli.Flag{deviceFlagTo(&f.Engine.Device, ""), dtypeFlagTo(&f.Engine.DType)}
}

// deviceFlagTo is --device; extra is appended to its help (the validator's
// random device).
func deviceFlagTo(dest *string, extra string) cli.Flag {
	return &cli.StringFlag{Name: "device", Value: "auto", Destination: dest,
		Usage: "where the engine computes: auto (CUDA when this build has it and a GPU is visible, else the CPU), cpu, cuda or cuda:N" + extra}
}

func dtypeFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "dtype", Value: "auto", Destination: dest,
		Usage: "compute dtype of weights and activations: auto (bf16 on CUDA, as the reference validator; f32 on the CPU), f32 or bf16; logits and losses are always f32"}
}

// maxMemoryFlagTo is --max-memory of every command that evaluates.
func maxMemoryFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "max-memory", Destination: dest, Usage: "weight memory budget (bytes, or with K/M/G/KiB/MiB/GiB) counted in the compute dtype; larger models are evaluated in layer slices (" + maxMemoryHelp + "; 0 or unlimited: no budget)"}
}

// threadsFlagTo is --threads of every command that computes.
func threadsFlagTo(dest *int) cli.Flag {
	return &cli.IntFlag{Name: "threads", Usage: "engine threads (0: all cores)", Destination: dest}
}

// jsonFlagTo is --json: the command's result as JSON on stdout.
func jsonFlagTo(dest *bool) cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout", Destination: dest}
}
