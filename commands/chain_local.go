package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/timelock"
	"github.com/urfave/cli/v2"
)

// The admin commands of a local devchain: create-subnet, register,
// set-stake, advance.

// subnetParamOptions are the subnet parameter flags of create-subnet and
// chain serve.
type subnetParamOptions struct {
	MaxUIDs           uint
	CommitRateLimit   uint64
	WeightsRateLimit  uint64
	WeightsVersionKey uint64
	Tempo             uint
	CommitReveal      bool
	// CommitRevealVersion is what the subnet reports (4: timelocked commits).
	CommitRevealVersion uint
}

func subnetParamFlagsTo(p *subnetParamOptions) []cli.Flag {
	d := devchain.DefaultSubnetParams()
	return []cli.Flag{
		&cli.UintFlag{Name: "max-uids", Value: uint(d.MaxUIDs), Usage: "uid slots of the subnet", Destination: &p.MaxUIDs},
		&cli.Uint64Flag{Name: "commit-rate-limit", Value: d.CommitRateLimit, Usage: "blocks between two commitments of a hotkey", Destination: &p.CommitRateLimit},
		&cli.Uint64Flag{Name: "weights-rate-limit", Value: d.WeightsRateLimit, Usage: "blocks between two weight settings of a uid", Destination: &p.WeightsRateLimit},
		&cli.Uint64Flag{Name: "weights-version-key", Usage: "lowest weights version key accepted", Destination: &p.WeightsVersionKey},
		&cli.UintFlag{Name: "tempo", Value: uint(d.Tempo), Usage: "epoch length in blocks", Destination: &p.Tempo},
		&cli.BoolFlag{Name: "commit-reveal", Usage: "require commit-reveal for weights", Destination: &p.CommitReveal},
		&cli.UintFlag{Name: "commit-reveal-version", Value: uint(d.CommitRevealVersion),
			Usage: "commit-reveal version the subnet reports: 4 takes timelocked commits, which the chain reveals itself (as subtensor does today); below 4 only hash commits and reveals", Destination: &p.CommitRevealVersion},
	}
}

// params checks the flags and returns the subnet parameters.
func (o subnetParamOptions) params() (devchain.SubnetParams, error) {
	p := devchain.DefaultSubnetParams()
	if o.MaxUIDs == 0 || o.MaxUIDs > 65535 {
		return p, usageErrorf("parse --max-uids %d: must be 1 to 65535", o.MaxUIDs)
	}
	if o.Tempo > 65535 {
		return p, usageErrorf("parse --tempo %d: must be at most 65535", o.Tempo)
	}
	if o.CommitRevealVersion > uint(timelock.CommitRevealVersion) {
		return p, usageErrorf("parse --commit-reveal-version %d: must be at most %d", o.CommitRevealVersion, timelock.CommitRevealVersion)
	}
	p.CommitRevealVersion = uint16(o.CommitRevealVersion)
	p.MaxUIDs = uint16(o.MaxUIDs)
	p.CommitRateLimit = o.CommitRateLimit
	p.WeightsRateLimit = o.WeightsRateLimit
	p.WeightsVersionKey = o.WeightsVersionKey
	p.Tempo = uint16(o.Tempo)
	p.CommitReveal = o.CommitReveal
	return p, nil
}

// chainCreateSubnetOptions are the inputs of `coldint chain create-subnet`.
type chainCreateSubnetOptions struct {
	F      *Factory
	Netuid uint
	Subnet subnetParamOptions
}

// newChainCreateSubnetCmd is `coldint chain create-subnet`. runF replaces
// runChainCreateSubnet in tests.
func newChainCreateSubnetCmd(f *Factory, runF func(context.Context, *chainCreateSubnetOptions) error) *cli.Command {
	o := &chainCreateSubnetOptions{F: f}
	if runF == nil {
		runF = runChainCreateSubnet
	}
	flags := []cli.Flag{networkFlagTo(&f.Chain.Network),
		&cli.UintFlag{Name: "netuid", Usage: "subnet id (0: the lowest free one)", Destination: &o.Netuid}}
	return &cli.Command{
		Name:   "create-subnet",
		Usage:  "create a subnet on a local chain",
		Flags:  append(flags, subnetParamFlagsTo(&o.Subnet)...),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainCreateSubnet(ctx context.Context, o *chainCreateSubnetOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	p, err := o.Subnet.params()
	if err != nil {
		return err
	}
	node, err := o.F.localNode(ctx, "chain create-subnet")
	if err != nil {
		return err
	}
	n, err := node.CreateSubnet(ctx, netuid, p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "created subnet %d\n", n)
	return err
}

// localNode opens the chain and returns its devchain node, or an error
// naming the command what when it is a subtensor node.
func (f *Factory) localNode(ctx context.Context, what string) (devchain.Node, error) {
	cc, err := f.ChainConn(ctx)
	if err != nil {
		return nil, err
	}
	return cc.localOnly(what)
}

// chainRegisterOptions are the inputs of `coldint chain register`.
type chainRegisterOptions struct {
	F       *Factory
	Netuid  uint
	Coldkey string // SS58; "" picks the wallet's coldkeypub.txt, else the hotkey
}

// newChainRegisterCmd is `coldint chain register`. runF replaces
// runChainRegister in tests.
func newChainRegisterCmd(f *Factory, runF func(context.Context, *chainRegisterOptions) error) *cli.Command {
	o := &chainRegisterOptions{F: f}
	if runF == nil {
		runF = runChainRegister
	}
	return &cli.Command{
		Name:  "register",
		Usage: "register the wallet's hotkey on a subnet of a local chain",
		Flags: f.signedFlags(chainNetuidFlagTo(&o.Netuid),
			&cli.StringFlag{Name: "coldkey", Usage: "SS58 coldkey that owns the hotkey (default: the wallet's coldkeypub.txt, else the hotkey itself)", Destination: &o.Coldkey}),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainRegister(ctx context.Context, o *chainRegisterOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	hk, err := o.F.Hotkey(ctx)
	if err != nil {
		return err
	}
	cold, err := coldkeyFor(ctx, o.Coldkey, o.F.WalletKeys(), hk)
	if err != nil {
		return err
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	node, err := cc.localOnly("chain register")
	if err != nil {
		return fmt.Errorf("%w (register on subtensor with btcli)", err)
	}
	uid, err := node.Register(ctx, netuid, hk.AccountID(), cold)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "registered %s on netuid %d as uid %d\n", hk.Address(), netuid, uid)
	return err
}

// coldkeyFor picks the coldkey for a local registration: the --coldkey
// address, the wallet's coldkeypub.txt, else the hotkey itself.
func coldkeyFor(ctx context.Context, coldkey string, w keys.Wallet, hk *keys.Pair) (chain.Coldkey, error) {
	if coldkey != "" {
		a, err := chain.ParseAccountID(coldkey)
		if err != nil {
			return a, usageErrorf("parse --coldkey: %v", err)
		}
		return a, nil
	}
	pub, err := w.ReadColdkeyPub(ctx)
	if err == nil {
		return chain.AccountID(pub), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return chain.AccountID{}, err
	}
	slog.Info("no coldkeypub.txt in the wallet; the hotkey is its own coldkey", "hotkey", hk.Address())
	return hk.AccountID(), nil
}

// chainSetStakeOptions are the inputs of `coldint chain set-stake`.
type chainSetStakeOptions struct {
	F      *Factory
	Netuid uint
	TAO    float64
}

// newChainSetStakeCmd is `coldint chain set-stake`. runF replaces
// runChainSetStake in tests.
func newChainSetStakeCmd(f *Factory, runF func(context.Context, *chainSetStakeOptions) error) *cli.Command {
	o := &chainSetStakeOptions{F: f}
	if runF == nil {
		runF = runChainSetStake
	}
	return &cli.Command{
		Name:   "set-stake",
		Usage:  "set the stake of the wallet's hotkey on a local chain (validator permits go to the largest stakes)",
		Flags:  f.signedFlags(chainNetuidFlagTo(&o.Netuid), &cli.Float64Flag{Name: "tao", Usage: "stake in TAO", Required: true, Destination: &o.TAO}),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainSetStake(ctx context.Context, o *chainSetStakeOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	tao := o.TAO
	if tao < 0 || tao > 1e10 || tao != tao {
		return usageErrorf("parse --tao %v: must be between 0 and 1e10", tao)
	}
	hk, err := o.F.Hotkey(ctx)
	if err != nil {
		return err
	}
	node, err := o.F.localNode(ctx, "chain set-stake")
	if err != nil {
		return err
	}
	if err := node.SetStake(ctx, netuid, hk.AccountID(), uint64(tao*1e9+0.5)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "stake of %s on netuid %d is %g TAO\n", hk.Address(), netuid, tao)
	return err
}

// chainAdvanceOptions are the inputs of `coldint chain advance`.
type chainAdvanceOptions struct {
	F      *Factory
	Blocks uint64
}

// newChainAdvanceCmd is `coldint chain advance`. runF replaces
// runChainAdvance in tests.
func newChainAdvanceCmd(f *Factory, runF func(context.Context, *chainAdvanceOptions) error) *cli.Command {
	o := &chainAdvanceOptions{F: f}
	if runF == nil {
		runF = runChainAdvance
	}
	return &cli.Command{
		Name:   "advance",
		Usage:  "produce blocks on a local chain",
		Flags:  []cli.Flag{networkFlagTo(&f.Chain.Network), &cli.Uint64Flag{Name: "blocks", Value: 1, Usage: "number of blocks", Destination: &o.Blocks}},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainAdvance(ctx context.Context, o *chainAdvanceOptions) error {
	if o.Blocks == 0 {
		return usageErrorf("parse --blocks: must be at least 1")
	}
	node, err := o.F.localNode(ctx, "chain advance")
	if err != nil {
		return err
	}
	b, err := node.Advance(ctx, o.Blocks)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "head is block %d\n", b)
	return err
}
