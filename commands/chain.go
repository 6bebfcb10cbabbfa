package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate"
	"github.com/urfave/cli/v2"
)

// Well-known networks of --network.
const (
	finneyURL = "wss://entrypoint-finney.opentensor.ai:443"
	testURL   = "wss://test.finney.opentensor.ai:443"
)

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

// openChain opens the backend named by --network.
func openChain(c *cli.Context) (*chainConn, error) {
	return openNetwork(c.Context, c.String("network"))
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

func netuidFlag() cli.Flag {
	return &cli.UintFlag{Name: "netuid", Usage: "subnet id", Required: true}
}

func getNetuid(c *cli.Context) (chain.NetUID, error) {
	n := c.Uint("netuid")
	if n > 65535 {
		return 0, usageErrorf("parse --netuid %d: must be at most 65535", n)
	}
	return chain.NetUID(n), nil
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// chainCommand groups the chain commands.
func chainCommand() *cli.Command {
	shared := func(extra ...cli.Flag) []cli.Flag { return append([]cli.Flag{networkFlag()}, extra...) }
	signed := func(extra ...cli.Flag) []cli.Flag { return append(shared(walletFlags()...), extra...) }
	return &cli.Command{
		Name:  "chain",
		Usage: "read and write the Bittensor chain (subtensor) or a local devchain",
		Description: `--network chooses the chain: "local" is the devchain that ` + "`coldint chain serve`" + ` exposes on
` + devchain.DefaultURL + `; "file:PATH" opens a devchain file in this process (no server); finney,
test and ws://, wss://, http://, https:// URLs reach subtensor nodes. Writes are signed by the
hotkey of --wallet.name/--wallet.hotkey under --wallet.path (bittensor's wallet layout).`,
		Subcommands: []*cli.Command{
			{
				Name:  "info",
				Usage: "print the head block and what the chain is",
				Flags: shared(&cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action: func(c *cli.Context) error {
					return withChain(c, func(cc *chainConn) error { return runChainInfo(c, cc) })
				},
			},
			{
				Name:  "metagraph",
				Usage: "print the neurons of a subnet",
				Flags: shared(netuidFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error { return runMetagraph(c, cc, netuid) })
				},
			},
			{
				Name:  "commitments",
				Usage: "print every commitment of a subnet and whether it is a valid model id",
				Flags: shared(netuidFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error { return runCommitments(c, cc, netuid) })
				},
			},
			{
				Name:  "commit",
				Usage: "publish a commitment (at most 128 bytes) for the wallet's hotkey",
				Flags: signed(netuidFlag(), &cli.StringFlag{Name: "commitment", Aliases: []string{"data"}, Usage: "the commitment, e.g. ns:name:commit:hash:competition", Required: true}),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					data := c.String("commitment")
					if len(data) > chain.MaxCommitmentLen {
						return usageErrorf("parse --data: %d bytes, at most %d fit a commitment", len(data), chain.MaxCommitmentLen)
					}
					if _, err := chain.ParseModelID(data); err != nil {
						slog.Warn("the data is not a model id; validators will ignore it", "err", err)
					}
					hk, err := loadHotkey(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error {
						b, err := cc.As(hk).Commit(c.Context, netuid, data)
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "committed by %s on netuid %d in block %d\n", hk.Address(), netuid, b)
						return err
					})
				},
			},
			{
				Name:  "set-weights",
				Usage: "set the wallet hotkey's weights (normalised like the bittensor SDK)",
				Flags: signed(netuidFlag(),
					&cli.StringFlag{Name: "uids", Usage: "comma-separated uids", Required: true},
					&cli.StringFlag{Name: "weights", Usage: "comma-separated non-negative weights, one per uid", Required: true},
					&cli.Uint64Flag{Name: "version-key", Usage: "weights version key (the validator's spec version)"},
				),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					uids, weights, err := parseWeights(c.String("uids"), c.String("weights"))
					if err != nil {
						return err
					}
					nu, nv, err := chain.NormalizeWeights(uids, weights)
					if err != nil {
						return usageErrorf("%v", err)
					}
					if len(nu) == 0 {
						return usageErrorf("parse --weights: all weights are zero")
					}
					hk, err := loadHotkey(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error {
						b, err := cc.As(hk).SetWeights(c.Context, netuid, nu, nv, c.Uint64("version-key"))
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "weights set by %s on netuid %d in block %d: uids %v values %v\n", hk.Address(), netuid, b, nu, nv)
						return err
					})
				},
			},
			chainServeCommand(),
			{
				Name:  "create-subnet",
				Usage: "create a subnet on a local chain",
				Flags: shared(append([]cli.Flag{&cli.UintFlag{Name: "netuid", Usage: "subnet id (0: the lowest free one)"}}, subnetParamFlags()...)...),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					p, err := subnetParamsFrom(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error {
						node, err := cc.localOnly("chain create-subnet")
						if err != nil {
							return err
						}
						n, err := node.CreateSubnet(c.Context, netuid, p)
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "created subnet %d\n", n)
						return err
					})
				},
			},
			{
				Name:  "register",
				Usage: "register the wallet's hotkey on a subnet of a local chain",
				Flags: signed(netuidFlag(), &cli.StringFlag{Name: "coldkey", Usage: "SS58 coldkey that owns the hotkey (default: the wallet's coldkeypub.txt, else the hotkey itself)"}),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					hk, err := loadHotkey(c)
					if err != nil {
						return err
					}
					cold, err := coldkeyFor(c, hk)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error {
						node, err := cc.localOnly("chain register")
						if err != nil {
							return fmt.Errorf("%w (register on subtensor with btcli)", err)
						}
						uid, err := node.Register(c.Context, netuid, hk.AccountID(), cold)
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "registered %s on netuid %d as uid %d\n", hk.Address(), netuid, uid)
						return err
					})
				},
			},
			{
				Name:  "set-stake",
				Usage: "set the stake of the wallet's hotkey on a local chain (validator permits go to the largest stakes)",
				Flags: signed(netuidFlag(), &cli.Float64Flag{Name: "tao", Usage: "stake in TAO", Required: true}),
				Action: func(c *cli.Context) error {
					netuid, err := getNetuid(c)
					if err != nil {
						return err
					}
					tao := c.Float64("tao")
					if tao < 0 || tao > 1e10 || tao != tao {
						return usageErrorf("parse --tao %v: must be between 0 and 1e10", tao)
					}
					hk, err := loadHotkey(c)
					if err != nil {
						return err
					}
					return withChain(c, func(cc *chainConn) error {
						node, err := cc.localOnly("chain set-stake")
						if err != nil {
							return err
						}
						if err := node.SetStake(c.Context, netuid, hk.AccountID(), uint64(tao*1e9+0.5)); err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "stake of %s on netuid %d is %g TAO\n", hk.Address(), netuid, tao)
						return err
					})
				},
			},
			{
				Name:  "advance",
				Usage: "produce blocks on a local chain",
				Flags: shared(&cli.Uint64Flag{Name: "blocks", Value: 1, Usage: "number of blocks"}),
				Action: func(c *cli.Context) error {
					if c.Uint64("blocks") == 0 {
						return usageErrorf("parse --blocks: must be at least 1")
					}
					return withChain(c, func(cc *chainConn) error {
						node, err := cc.localOnly("chain advance")
						if err != nil {
							return err
						}
						b, err := node.Advance(c.Context, c.Uint64("blocks"))
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ioFrom(c).Out, "head is block %d\n", b)
						return err
					})
				},
			},
		},
	}
}

func subnetParamFlags() []cli.Flag {
	d := devchain.DefaultSubnetParams()
	return []cli.Flag{
		&cli.UintFlag{Name: "max-uids", Value: uint(d.MaxUIDs), Usage: "uid slots of the subnet"},
		&cli.Uint64Flag{Name: "commit-rate-limit", Value: d.CommitRateLimit, Usage: "blocks between two commitments of a hotkey"},
		&cli.Uint64Flag{Name: "weights-rate-limit", Value: d.WeightsRateLimit, Usage: "blocks between two weight settings of a uid"},
		&cli.Uint64Flag{Name: "weights-version-key", Usage: "lowest weights version key accepted"},
		&cli.UintFlag{Name: "tempo", Value: uint(d.Tempo), Usage: "epoch length in blocks"},
		&cli.BoolFlag{Name: "commit-reveal", Usage: "require commit-reveal for weights"},
	}
}

func subnetParamsFrom(c *cli.Context) (devchain.SubnetParams, error) {
	p := devchain.DefaultSubnetParams()
	if c.Uint("max-uids") == 0 || c.Uint("max-uids") > 65535 {
		return p, usageErrorf("parse --max-uids %d: must be 1 to 65535", c.Uint("max-uids"))
	}
	if c.Uint("tempo") > 65535 {
		return p, usageErrorf("parse --tempo %d: must be at most 65535", c.Uint("tempo"))
	}
	p.MaxUIDs = uint16(c.Uint("max-uids"))
	p.CommitRateLimit = c.Uint64("commit-rate-limit")
	p.WeightsRateLimit = c.Uint64("weights-rate-limit")
	p.WeightsVersionKey = c.Uint64("weights-version-key")
	p.Tempo = uint16(c.Uint("tempo"))
	p.CommitReveal = c.Bool("commit-reveal")
	return p, nil
}

// coldkeyFor picks the coldkey for a local registration.
func coldkeyFor(c *cli.Context, hk *keys.Pair) (chain.Coldkey, error) {
	if s := c.String("coldkey"); s != "" {
		a, err := chain.ParseAccountID(s)
		if err != nil {
			return a, usageErrorf("parse --coldkey: %v", err)
		}
		return a, nil
	}
	pub, err := walletFrom(c).ReadColdkeyPub(c.Context)
	if err == nil {
		return chain.AccountID(pub), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return chain.AccountID{}, err
	}
	slog.Info("no coldkeypub.txt in the wallet; the hotkey is its own coldkey", "hotkey", hk.Address())
	return hk.AccountID(), nil
}

func parseWeights(uidsArg, weightsArg string) ([]chain.UID, []float64, error) {
	split := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	us, ws := split(uidsArg), split(weightsArg)
	if len(us) == 0 {
		return nil, nil, usageErrorf("parse --uids: no uids")
	}
	if len(us) != len(ws) {
		return nil, nil, usageErrorf("parse --uids/--weights: %d uids but %d weights", len(us), len(ws))
	}
	uids := make([]chain.UID, len(us))
	weights := make([]float64, len(ws))
	for i := range us {
		u, err := strconv.ParseUint(us[i], 10, 16)
		if err != nil {
			return nil, nil, usageErrorf("parse --uids: %q is not a uid (0-65535)", us[i])
		}
		w, err := strconv.ParseFloat(ws[i], 64)
		if err != nil {
			return nil, nil, usageErrorf("parse --weights: %q is not a number", ws[i])
		}
		uids[i], weights[i] = chain.UID(u), w
	}
	return uids, weights, nil
}

// chainInfo is the --json shape of `chain info`.
type chainInfo struct {
	Network     string                `json:"network"`
	Kind        string                `json:"kind"`
	Block       chain.BlockNumber     `json:"block"`
	SpecVersion uint32                `json:"spec_version,omitempty"`
	Genesis     string                `json:"genesis,omitempty"`
	Subnets     []devchain.SubnetInfo `json:"subnets,omitempty"`
}

func runChainInfo(c *cli.Context, cc *chainConn) error {
	ctx := c.Context
	info := chainInfo{Network: cc.Name, Kind: "subtensor"}
	b, err := cc.Reader.BlockNumber(ctx)
	if err != nil {
		return err
	}
	info.Block = b
	if cc.Local != nil {
		info.Kind = "devchain"
		if info.Subnets, err = cc.Local.Subnets(ctx); err != nil {
			return err
		}
	}
	if cc.Substrate != nil {
		spec, _, genesis, err := cc.Substrate.RuntimeInfo(ctx)
		if err != nil {
			return err
		}
		info.SpecVersion, info.Genesis = spec, fmt.Sprintf("0x%x", genesis[:])
	}
	out := ioFrom(c).Out
	if c.Bool("json") {
		return writeJSON(out, info)
	}
	fmt.Fprintf(out, "network: %s (%s)\nblock:   %d\n", info.Network, info.Kind, info.Block)
	if info.Genesis != "" {
		fmt.Fprintf(out, "spec:    %d\ngenesis: %s\n", info.SpecVersion, info.Genesis)
	}
	for _, s := range info.Subnets {
		fmt.Fprintf(out, "subnet %d: %d/%d neurons, commit rate limit %d, weights rate limit %d, version key %d\n",
			s.Netuid, s.Neurons, s.Params.MaxUIDs, s.Params.CommitRateLimit, s.Params.WeightsRateLimit, s.Params.WeightsVersionKey)
	}
	return nil
}

func runMetagraph(c *cli.Context, cc *chainConn, netuid chain.NetUID) error {
	mg, err := cc.Reader.Metagraph(c.Context, netuid)
	if err != nil {
		return err
	}
	out := ioFrom(c).Out
	if c.Bool("json") {
		return writeJSON(out, mg)
	}
	fmt.Fprintf(out, "netuid %d at block %d: %d neurons\n", mg.Netuid, mg.Block, len(mg.Neurons))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tHOTKEY\tCOLDKEY\tSTAKE(TAO)\tPERMIT\tLAST_UPDATE\tINCENTIVE\tEMISSION")
	for _, n := range mg.Neurons {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.4f\t%v\t%d\t%.5f\t%d\n", n.UID, n.Hotkey, n.Coldkey, float64(n.Stake)/1e9,
			n.ValidatorPermit, n.LastUpdate, float64(n.Incentive)/65535, n.Emission)
	}
	return tw.Flush()
}

// commitmentRow is the --json shape of one `chain commitments` entry.
type commitmentRow struct {
	UID     *chain.UID        `json:"uid,omitempty"`
	Hotkey  chain.Hotkey      `json:"hotkey"`
	Block   chain.BlockNumber `json:"block"`
	Data    string            `json:"data"`
	ModelID *chain.ModelID    `json:"model_id,omitempty"`
	Error   string            `json:"error,omitempty"`
}

func runCommitments(c *cli.Context, cc *chainConn, netuid chain.NetUID) error {
	ctx := c.Context
	cms, err := cc.Reader.Commitments(ctx, netuid)
	if err != nil {
		return err
	}
	mg, err := cc.Reader.Metagraph(ctx, netuid)
	if err != nil {
		return err
	}
	rows := make([]commitmentRow, 0, len(cms))
	for _, cm := range cms {
		r := commitmentRow{Hotkey: cm.Hotkey, Block: cm.Block, Data: cm.Data}
		if n, ok := mg.ByHotkey(cm.Hotkey); ok {
			uid := n.UID
			r.UID = &uid
		}
		if id, err := chain.ParseModelID(cm.Data); err != nil {
			r.Error = err.Error()
		} else {
			r.ModelID = &id
		}
		rows = append(rows, r)
	}
	out := ioFrom(c).Out
	if c.Bool("json") {
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tHOTKEY\tBLOCK\tDATA\tSTATUS")
	for _, r := range rows {
		uid := "-"
		if r.UID != nil {
			uid = strconv.Itoa(int(*r.UID))
		}
		status := "ok"
		if r.Error != "" {
			status = "malformed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%q\t%s\n", uid, r.Hotkey, r.Block, r.Data, status)
	}
	return tw.Flush()
}

// chainServeCommand runs a devchain server.
func chainServeCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run a local devchain and serve it over JSON-RPC on 127.0.0.1 (the \"local\" network)",
		Description: `Opens (or creates) the devchain block log --db and serves it until interrupted, so that
validators and miners on this machine share one chain with --network local. Blocks advance
every --block-time (0: only on writes and ` + "`coldint chain advance`" + `). With --netuid the subnet
is created at start if it does not exist yet. Only loopback addresses are served: the admin
calls (create-subnet, register, advance) are not authenticated.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "db", Value: "~/.coldint/devchain.log", Usage: "devchain block log file"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9944", Usage: "loopback address to listen on"},
			&cli.DurationFlag{Name: "block-time", Value: devchain.DefaultBlockTime, Usage: "time per block (0: blocks only on demand)"},
			&cli.UintFlag{Name: "netuid", Usage: "create this subnet at start if missing (0: none)"},
		}, subnetParamFlags()...),
		Action: func(c *cli.Context) error {
			host, _, err := net.SplitHostPort(c.String("listen"))
			if err != nil {
				return usageErrorf("parse --listen %q: %v", c.String("listen"), err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usageErrorf("parse --listen %q: only loopback addresses are allowed (the admin calls are not authenticated)", c.String("listen"))
			}
			if c.Duration("block-time") < 0 {
				return usageErrorf("parse --block-time: must not be negative")
			}
			netuid, err := getNetuid(c)
			if err != nil {
				return err
			}
			p, err := subnetParamsFrom(c)
			if err != nil {
				return err
			}
			path := keys.ExpandPath(c.String("db"))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("create devchain folder: %w", err)
			}
			dc, err := devchain.Open(c.Context, devchain.Options{Path: path, BlockTime: c.Duration("block-time")})
			if err != nil {
				return err
			}
			defer dc.Close()
			if netuid != 0 {
				subnets, err := dc.Subnets(c.Context)
				if err != nil {
					return err
				}
				exists := false
				for _, s := range subnets {
					exists = exists || s.Netuid == netuid
				}
				if !exists {
					if _, err := dc.CreateSubnet(c.Context, netuid, p); err != nil {
						return err
					}
					slog.Info("created subnet", "netuid", netuid)
				}
			}
			ln, err := net.Listen("tcp", c.String("listen"))
			if err != nil {
				return fmt.Errorf("listen on %q: %w", c.String("listen"), err)
			}
			url := "http://" + ln.Addr().String()
			head, _ := dc.BlockNumber(c.Context)
			slog.Info("devchain serving", "url", url, "db", path, "block", head, "block_time", c.Duration("block-time"))
			fmt.Fprintf(ioFrom(c).Out, "serving %s\n", url)
			return devchain.Serve(c.Context, ln, dc)
		},
	}
}
