package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/substrate"
	"github.com/coldint/coldint/chain/substrate/chopsticks"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/internal/testenv"
)

// adminCall is one AdminUtils call sent through sudo while a subnet is set up.
type adminCall struct {
	name string
	args [][]byte
}

// realSubnet is a subnet on the real subtensor runtime (spec 218) under
// chopsticks.
type realSubnet struct {
	node   *chopsticks.Node
	client *substrate.Client
	sudo   *substrate.Client // client signing as //Alice, the sudo key
	netuid chain.NetUID
	keys   map[string]*keys.Pair // the dev accounts //Name, by Name
}

// startRealSubnet starts chopsticks on the genesis in ../shared with the dev
// accounts //Name of names funded (they must include Alice, the sudo key,
// and Owner, who registers the subnet), creates a subnet open to
// registration and sends extra(netuid as SCALE u16) through sudo. It skips
// (or fails under COLDINT_TEST_REQUIRE_DEPS) when chopsticks or the genesis
// is missing; everything stops when the test ends.
func startRealSubnet(t *testing.T, ctx context.Context, names []string, extra func(nu []byte) []adminCall) *realSubnet {
	t.Helper()
	genesis := filepath.Join(testenv.Shared(t), "chain", "subtensor-spec218-raw.json")
	if _, err := os.Stat(genesis); err != nil {
		testenv.Missing(t, "genesis "+genesis+" is absent")
	}
	nm := testenv.NodeModules(t, "chain")
	nodeBin := testenv.Node(t)
	if _, err := os.Stat(chopsticks.Script(nm)); err != nil {
		testenv.Missing(t, "chopsticks is not installed (make setup-chain)")
	}
	s := &realSubnet{keys: map[string]*keys.Pair{}}
	var funded []chain.AccountID
	for _, n := range names {
		p, err := keys.FromURI("//" + n)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[n] = p
		funded = append(funded, p.AccountID())
	}
	node, err := chopsticks.Start(ctx, chopsticks.Config{Genesis: genesis, NodeModules: nm, Node: nodeBin, Sudo: s.keys["Alice"].AccountID(), Funded: funded})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Stop() })
	c, err := substrate.Dial(ctx, node.URL, substrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s.node, s.client, s.sudo = node, c, c.WithSigner(s.keys["Alice"])
	if _, err := s.sudo.Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", u64le(0)); err != nil {
		t.Fatal(err)
	}
	if s.netuid, err = s.sudo.RegisterNetwork(ctx, s.keys["Owner"].AccountID()); err != nil {
		t.Fatal(err)
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nu := u16le(uint16(s.netuid))
	calls := []adminCall{
		{"sudo_set_network_registration_allowed", [][]byte{nu, {1}}},
		{"sudo_set_target_registrations_per_interval", [][]byte{nu, u16le(100)}},
		{"sudo_set_max_registrations_per_block", [][]byte{nu, u16le(100)}},
	}
	if extra != nil {
		calls = append(calls, extra(nu)...)
	}
	var setup [][]byte
	for _, a := range calls {
		call, err := md.BuildCall("AdminUtils", a.name, a.args...)
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, call)
	}
	if _, err := s.sudo.SudoBatch(ctx, setup...); err != nil {
		t.Fatal(err)
	}
	return s
}

// serveHub serves h with `coldint hub serve`'s server on a loopback port
// until the test ends and returns its base URL.
func serveHub(t *testing.T, h *dirhub.Hub) string {
	t.Helper()
	srv, err := hubserver.New(h, hubserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}
