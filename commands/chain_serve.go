package commands

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/urfave/cli/v2"
)

// chainServeOptions are the inputs of `coldint chain serve`.
type chainServeOptions struct {
	IO        IO
	DB        string
	Listen    string
	BlockTime time.Duration
	Netuid    uint // subnet created at start if missing (0: none)
	Subnet    subnetParamOptions
}

// newChainServeCmd is `coldint chain serve`: a devchain server. runF
// replaces runChainServe in tests.
func newChainServeCmd(f *Factory, runF func(context.Context, *chainServeOptions) error) *cli.Command {
	o := &chainServeOptions{IO: f.IO}
	if runF == nil {
		runF = runChainServe
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "run a local devchain and serve it over JSON-RPC on 127.0.0.1 (the \"local\" network)",
		Description: `Opens (or creates) the devchain block log --db and serves it until interrupted, so that
validators and miners on this machine share one chain with --network local. Blocks advance
every --block-time (0: only on writes and ` + "`coldint chain advance`" + `). With --netuid the subnet
is created at start if it does not exist yet. Only loopback addresses are served: the admin
calls (create-subnet, register, advance) are not authenticated.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "db", Value: "~/.coldint/devchain.log", Usage: "devchain block log file", Destination: &o.DB},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9944", Usage: "loopback address to listen on", Destination: &o.Listen},
			&cli.DurationFlag{Name: "block-time", Value: devchain.DefaultBlockTime, Usage: "time per block (0: blocks only on demand)", Destination: &o.BlockTime},
			&cli.UintFlag{Name: "netuid", Usage: "create this subnet at start if missing (0: none)", Destination: &o.Netuid},
		}, subnetParamFlagsTo(&o.Subnet)...),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

// checkLoopback refuses a listen address beyond the loopback interface.
func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageErrorf("parse --listen %q: %v", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageErrorf("parse --listen %q: only loopback addresses are allowed (the admin calls are not authenticated)", listen)
	}
	return nil
}

func runChainServe(ctx context.Context, o *chainServeOptions) error {
	if err := checkLoopback(o.Listen); err != nil {
		return err
	}
	if o.BlockTime < 0 {
		return usageErrorf("parse --block-time: must not be negative")
	}
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	p, err := o.Subnet.params()
	if err != nil {
		return err
	}
	path := keys.ExpandPath(o.DB)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create devchain folder: %w", err)
	}
	dc, err := devchain.Open(ctx, devchain.Options{Path: path, BlockTime: o.BlockTime})
	if err != nil {
		return err
	}
	defer dc.Close()
	if netuid != 0 {
		if err := ensureSubnet(ctx, dc, netuid, p); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", o.Listen, err)
	}
	url := "http://" + ln.Addr().String()
	head, _ := dc.BlockNumber(ctx)
	slog.Info("devchain serving", "url", url, "db", path, "block", head, "block_time", o.BlockTime)
	fmt.Fprintf(o.IO.Out, "serving %s\n", url)
	return devchain.Serve(ctx, ln, dc)
}

// ensureSubnet creates subnet netuid with parameters p unless it exists.
func ensureSubnet(ctx context.Context, dc devchain.Node, netuid chain.NetUID, p devchain.SubnetParams) error {
	subnets, err := dc.Subnets(ctx)
	if err != nil {
		return err
	}
	for _, s := range subnets {
		if s.Netuid == netuid {
			return nil
		}
	}
	if _, err := dc.CreateSubnet(ctx, netuid, p); err != nil {
		return err
	}
	slog.Info("created subnet", "netuid", netuid)
	return nil
}
