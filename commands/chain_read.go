package commands

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/urfave/cli/v2"
)

// chainInfoOptions are the inputs of `coldint chain info`.
type chainInfoOptions struct {
	F    *Factory
	JSON bool
}

// newChainInfoCmd is `coldint chain info`. runF replaces runChainInfo in tests.
func newChainInfoCmd(f *Factory, runF func(context.Context, *chainInfoOptions) error) *cli.Command {
	o := &chainInfoOptions{F: f}
	if runF == nil {
		runF = runChainInfo
	}
	return &cli.Command{
		Name:   "info",
		Usage:  "print the head block and what the chain is",
		Flags:  []cli.Flag{networkFlagTo(&f.Chain.Network), jsonFlagTo(&o.JSON)},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
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

func runChainInfo(ctx context.Context, o *chainInfoOptions) error {
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	info := chainInfo{Network: cc.Name, Kind: "subtensor"}
	if info.Block, err = cc.Reader.BlockNumber(ctx); err != nil {
		return err
	}
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
	out := o.F.IO.Out
	if o.JSON {
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

// chainMetagraphOptions are the inputs of `coldint chain metagraph`.
type chainMetagraphOptions struct {
	F      *Factory
	Netuid uint
	JSON   bool
}

// newChainMetagraphCmd is `coldint chain metagraph`. runF replaces
// runChainMetagraph in tests.
func newChainMetagraphCmd(f *Factory, runF func(context.Context, *chainMetagraphOptions) error) *cli.Command {
	o := &chainMetagraphOptions{F: f}
	if runF == nil {
		runF = runChainMetagraph
	}
	return &cli.Command{
		Name:   "metagraph",
		Usage:  "print the neurons of a subnet",
		Flags:  []cli.Flag{networkFlagTo(&f.Chain.Network), chainNetuidFlagTo(&o.Netuid), jsonFlagTo(&o.JSON)},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainMetagraph(ctx context.Context, o *chainMetagraphOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	mg, err := cc.Reader.Metagraph(ctx, netuid)
	if err != nil {
		return err
	}
	out := o.F.IO.Out
	if o.JSON {
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

// chainCommitmentsOptions are the inputs of `coldint chain commitments`.
type chainCommitmentsOptions struct {
	F      *Factory
	Netuid uint
	JSON   bool
}

// newChainCommitmentsCmd is `coldint chain commitments`. runF replaces
// runChainCommitments in tests.
func newChainCommitmentsCmd(f *Factory, runF func(context.Context, *chainCommitmentsOptions) error) *cli.Command {
	o := &chainCommitmentsOptions{F: f}
	if runF == nil {
		runF = runChainCommitments
	}
	return &cli.Command{
		Name:   "commitments",
		Usage:  "print every commitment of a subnet and whether it is a valid model id",
		Flags:  []cli.Flag{networkFlagTo(&f.Chain.Network), chainNetuidFlagTo(&o.Netuid), jsonFlagTo(&o.JSON)},
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
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

func runChainCommitments(ctx context.Context, o *chainCommitmentsOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	rows, err := commitmentRows(ctx, cc.Reader, netuid)
	if err != nil {
		return err
	}
	out := o.F.IO.Out
	if o.JSON {
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

// commitmentRows reads the commitments of a subnet with the uid of each
// hotkey and whether the data parses as a model id.
func commitmentRows(ctx context.Context, r chain.Reader, netuid chain.NetUID) ([]commitmentRow, error) {
	cms, err := r.Commitments(ctx, netuid)
	if err != nil {
		return nil, err
	}
	mg, err := r.Metagraph(ctx, netuid)
	if err != nil {
		return nil, err
	}
	rows := make([]commitmentRow, 0, len(cms))
	for _, cm := range cms {
		row := commitmentRow{Hotkey: cm.Hotkey, Block: cm.Block, Data: cm.Data}
		if n, ok := mg.ByHotkey(cm.Hotkey); ok {
			uid := n.UID
			row.UID = &uid
		}
		if id, err := chain.ParseModelID(cm.Data); err != nil {
			row.Error = err.Error()
		} else {
			row.ModelID = &id
		}
		rows = append(rows, row)
	}
	return rows, nil
}
