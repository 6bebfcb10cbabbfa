package devchain

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/chain/keys"
)

// suiteAdmin adapts a Node to chaintest.Admin.
type suiteAdmin struct{ n Node }

func (a suiteAdmin) CreateSubnet(ctx context.Context) (chain.NetUID, error) {
	p := DefaultSubnetParams()
	p.MaxUIDs = 64
	p.WeightsRateLimit = 0
	return a.n.CreateSubnet(ctx, 0, p)
}

func (a suiteAdmin) Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.UID, error) {
	return a.n.Register(ctx, netuid, hotkey, coldkey())
}

func (a suiteAdmin) SetWeightsVersionKey(ctx context.Context, netuid chain.NetUID, key uint64) error {
	subnets, err := a.n.Subnets(ctx)
	if err != nil {
		return err
	}
	for _, s := range subnets {
		if s.Netuid == netuid {
			s.Params.WeightsVersionKey = key
			return a.n.SetParams(ctx, netuid, s.Params)
		}
	}
	return fmt.Errorf("netuid %d: %w", netuid, chain.ErrUnknownNetuid)
}

func (a suiteAdmin) Advance(ctx context.Context, n uint64) error {
	_, err := a.n.Advance(ctx, n)
	return err
}

func coldkey() chain.Coldkey {
	p, _ := keys.FromURI("//Alice")
	return p.AccountID()
}

func backendFor(n Node) *chaintest.Backend {
	return &chaintest.Backend{Reader: n, As: n.As, Admin: suiteAdmin{n}, CommitRateLimit: DefaultSubnetParams().CommitRateLimit}
}

func openTemp(t *testing.T, opts Options) *Chain {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "chain.log")
	}
	c, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformanceInProcess(t *testing.T) {
	chaintest.Run(t, func(t *testing.T) *chaintest.Backend { return backendFor(openTemp(t, Options{})) })
}

func TestConformanceMemory(t *testing.T) {
	chaintest.Run(t, func(t *testing.T) *chaintest.Backend {
		c, err := Open(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return backendFor(c)
	})
}

// serve starts a server for c on 127.0.0.1 and returns a connected client.
func serve(t *testing.T, c *Chain) *Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	cl, err := Dial(context.Background(), "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestConformanceHTTP(t *testing.T) {
	chaintest.Run(t, func(t *testing.T) *chaintest.Backend { return backendFor(serve(t, openTemp(t, Options{}))) })
}

func TestHTTPErrors(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	cl := serve(t, c)
	netuid, err := cl.CreateSubnet(ctx, 29, DefaultSubnetParams())
	if err != nil || netuid != 29 {
		t.Fatalf("create subnet 29: %d, %v", netuid, err)
	}
	if _, err := cl.CreateSubnet(ctx, 29, DefaultSubnetParams()); !errors.Is(err, errBadRequest) {
		t.Errorf("second subnet 29: %v", err)
	}
	hk := chaintest.Hotkey(1)
	if _, err := cl.Register(ctx, netuid, hk.AccountID(), coldkey()); err != nil {
		t.Fatal(err)
	}
	// A signature by another key is refused.
	impostor := &wrongSigner{id: hk.AccountID(), real: chaintest.Hotkey(2)}
	_, err = cl.As(impostor).Commit(ctx, netuid, "x")
	if !errors.Is(err, chain.ErrTxRejected) {
		t.Errorf("commit with a bad signature: %v", err)
	}
	if _, err := c.Commitment(ctx, netuid, hk.AccountID()); !errors.Is(err, chain.ErrNotFound) {
		t.Errorf("bad signature stored a commitment: %v", err)
	}
	// Unknown method and a dead server.
	if err := cl.call(ctx, "devchain_nope", struct{}{}, nil); err == nil || !strings.Contains(err.Error(), "unknown method") {
		t.Errorf("unknown method: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(ctx, "http://"+addr); err == nil {
		t.Error("Dial to a closed port succeeded")
	}
}

type wrongSigner struct {
	id   chain.AccountID
	real *keys.Pair
}

func (w *wrongSigner) AccountID() chain.AccountID    { return w.id }
func (w *wrongSigner) Sign(m []byte) ([]byte, error) { return w.real.Sign(m) }

func TestMaxUpscale(t *testing.T) {
	cases := []struct{ in, want []uint16 }{
		{[]uint16{}, []uint16{}},
		{[]uint16{0, 0}, []uint16{0, 0}},
		{[]uint16{30000, 65535}, []uint16{30000, 65535}},
		{[]uint16{100, 200, 50}, []uint16{32768, 65535, 16384}},
		{[]uint16{1}, []uint16{65535}},
		{[]uint16{1, 3}, []uint16{21845, 65535}},
		{[]uint16{1, 2}, []uint16{32768, 65535}},
		{[]uint16{32768, 16384, 0}, []uint16{65535, 32768, 0}},
		{[]uint16{32769, 1}, []uint16{65535, 2}},
		// Above 32768 the runtime multiplies by the I32F32 quotient
		// 65535/max, truncated, so 20000·1.638375 lands just under 32767.5.
		{[]uint16{40000, 20000}, []uint16{65535, 32767}},
	}
	for _, c := range cases {
		got := MaxUpscale(c.in)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("MaxUpscale(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	p := DefaultSubnetParams()
	p.MaxUIDs = 3
	p.WeightsRateLimit = 10
	p.MinAllowedWeights = 2
	p.MaxValidators = 1
	netuid, err := c.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	var hks []*keys.Pair
	for i := range 4 {
		hks = append(hks, chaintest.Hotkey(i))
	}
	for i := range 3 {
		uid, err := c.Register(ctx, netuid, hks[i].AccountID(), coldkey())
		if err != nil || int(uid) != i {
			t.Fatalf("register %d: uid %d, %v", i, uid, err)
		}
	}
	if _, err := c.As(hks[2]).Commit(ctx, netuid, "doomed"); err != nil {
		t.Fatal(err)
	}
	// Weights: rate limited right after registration (registration sets last_update).
	a := c.As(hks[0])
	if _, err := a.SetWeights(ctx, netuid, []chain.UID{0, 1}, []uint16{1, 1}, 0); !errors.Is(err, chain.ErrRateLimited) {
		t.Errorf("weights right after registration: %v", err)
	}
	if _, err := c.Advance(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetWeights(ctx, netuid, []chain.UID{1}, []uint16{1}, 0); !errors.Is(err, chain.ErrInvalidWeights) {
		t.Errorf("one weight under min_allowed_weights 2: %v", err)
	}
	if _, err := a.SetWeights(ctx, netuid, []chain.UID{0}, []uint16{1}, 0); err != nil {
		t.Errorf("self weight under min_allowed_weights: %v", err)
	}
	if _, err := a.SetWeights(ctx, netuid, []chain.UID{0, 1}, []uint16{1, 1}, 0); !errors.Is(err, chain.ErrRateLimited) {
		t.Errorf("weights inside the rate limit: %v", err)
	}
	// Stake and permits: one permit, to the largest stake.
	if err := c.SetStake(ctx, netuid, hks[1].AccountID(), 5e9); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStake(ctx, netuid, hks[0].AccountID(), 1e9); err != nil {
		t.Fatal(err)
	}
	mg, _ := c.Metagraph(ctx, netuid)
	if !mg.Neurons[1].ValidatorPermit || mg.Neurons[0].ValidatorPermit || mg.Neurons[1].Stake != 5e9 {
		t.Errorf("permits/stake: %+v", mg.Neurons)
	}
	// Full subnet: a new registration replaces the oldest neuron (uid 0).
	uid, err := c.Register(ctx, netuid, hks[3].AccountID(), coldkey())
	if err != nil || uid != 0 {
		t.Fatalf("register on a full subnet: uid %d, %v", uid, err)
	}
	mg, _ = c.Metagraph(ctx, netuid)
	if len(mg.Neurons) != 3 || mg.Neurons[0].Hotkey != hks[3].AccountID() {
		t.Errorf("after replacement: %+v", mg.Neurons)
	}
	if _, err := c.As(hks[0]).Commit(ctx, netuid, "x"); !errors.Is(err, chain.ErrNotRegistered) {
		t.Errorf("replaced hotkey can still commit: %v", err)
	}
	if w, err := c.Weights(ctx, netuid, 0); err != nil || len(w) != 0 {
		t.Errorf("replaced uid keeps weights %v, %v", w, err)
	}
	if _, err := c.Weights(ctx, netuid, 9); !errors.Is(err, chain.ErrNotFound) {
		t.Errorf("weights of a missing uid: %v", err)
	}
	if err := c.SetParams(ctx, 77, p); !errors.Is(err, chain.ErrUnknownNetuid) {
		t.Errorf("set params of a missing subnet: %v", err)
	}
	if _, err := c.As(hks[1]).Commit(ctx, netuid, "bad\xffutf8"); !errors.Is(err, chain.ErrMalformedCommitment) {
		t.Errorf("invalid UTF-8 commitment: %v", err)
	}
	for _, n := range []uint64{0, 1 << 63, ^uint64(0)} {
		if _, err := c.Advance(ctx, n); !errors.Is(err, errBadRequest) {
			t.Errorf("advance %d: %v", n, err)
		}
	}
	if _, err := c.BlockNumber(ctx); err != nil {
		t.Errorf("chain unusable after refused advances: %v", err)
	}
}

func TestCommitReveal(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	p := DefaultSubnetParams()
	p.CommitReveal = true
	p.Tempo = 9
	p.WeightsRateLimit = 0
	netuid, err := c.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	hk := chaintest.Hotkey(0)
	for i := range 2 {
		if _, err := c.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), coldkey()); err != nil {
			t.Fatal(err)
		}
	}
	a := c.As(hk)
	uids, values, salt := []chain.UID{0, 1}, []uint16{100, 200}, []uint16{7, 8}
	if _, err := a.SetWeights(ctx, netuid, uids, values, 0); !errors.Is(err, chain.ErrCommitRevealEnabled) {
		t.Errorf("set_weights with commit-reveal on: %v", err)
	}
	hash := chain.CommitHash(hk.AccountID(), netuid, uids, values, salt, 0)
	cb, err := a.CommitWeights(ctx, netuid, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevealWeights(ctx, netuid, uids, values, salt, 0); !errors.Is(err, chain.ErrCommitReveal) {
		t.Errorf("reveal in the commit epoch: %v", err)
	}
	// Move to the next epoch: epoch = (block+netuid+1)/(tempo+1).
	e := epoch(netuid, p.Tempo, cb)
	next := chain.BlockNumber((e+1)*10) - chain.BlockNumber(netuid) - 1
	head, _ := c.BlockNumber(ctx)
	if _, err := c.Advance(ctx, uint64(next-head)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevealWeights(ctx, netuid, uids, []uint16{100, 201}, salt, 0); !errors.Is(err, chain.ErrCommitReveal) {
		t.Errorf("reveal with other values: %v", err)
	}
	if _, err := a.RevealWeights(ctx, netuid, uids, values, salt, 0); err != nil {
		t.Fatalf("reveal in the next epoch: %v", err)
	}
	w, _ := c.Weights(ctx, netuid, 0)
	if fmt.Sprint(w) != fmt.Sprint(chain.Weights{{UID: 0, Value: 32768}, {UID: 1, Value: 65535}}) {
		t.Errorf("revealed weights = %v", w)
	}
	if _, err := a.RevealWeights(ctx, netuid, uids, values, salt, 0); !errors.Is(err, chain.ErrCommitReveal) {
		t.Errorf("second reveal: %v", err)
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func TestBlocksAdvanceWithTime(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	path := filepath.Join(t.TempDir(), "chain.log")
	c := openTemp(t, Options{Path: path, BlockTime: DefaultBlockTime, Now: clk.now})
	h0, _ := c.BlockNumber(ctx)
	if h0 != 0 {
		t.Fatalf("new chain head = %d", h0)
	}
	clk.t = clk.t.Add(25 * time.Second)
	if h, _ := c.BlockNumber(ctx); h != 2 {
		t.Errorf("after 25 s head = %d, want 2", h)
	}
	netuid, _ := c.CreateSubnet(ctx, 0, DefaultSubnetParams())
	if h, _ := c.BlockNumber(ctx); h != 3 {
		t.Errorf("after a write head = %d, want 3", h)
	}
	clk.t = clk.t.Add(11 * time.Second)
	if h, _ := c.BlockNumber(ctx); h != 3 {
		t.Errorf("11 s after a write head = %d, want 3", h)
	}
	clk.t = clk.t.Add(1 * time.Second)
	if h, _ := c.BlockNumber(ctx); h != 4 {
		t.Errorf("12 s after a write head = %d, want 4", h)
	}
	if b, _ := c.Advance(ctx, 5); b != 9 {
		t.Errorf("advance 5 from 4 = %d", b)
	}
	mg, _ := c.Metagraph(ctx, netuid)
	if mg.Block != 9 {
		t.Errorf("metagraph block = %d", mg.Block)
	}
	// Time keeps counting across a reopen.
	c.Close()
	clk.t = clk.t.Add(120 * time.Second)
	c2 := openTemp(t, Options{Path: path, BlockTime: DefaultBlockTime, Now: clk.now})
	if h, _ := c2.BlockNumber(ctx); h != 19 {
		t.Errorf("after reopen 120 s later head = %d, want 19", h)
	}
	// Manual mode on the same log: blocks only move on writes.
	c2.Close()
	c3 := openTemp(t, Options{Path: path, Now: clk.now})
	clk.t = clk.t.Add(time.Hour)
	if h, _ := c3.BlockNumber(ctx); h != 9 {
		t.Errorf("manual mode head = %d, want 9 (the last sealed block)", h)
	}
}

func TestReopenAndLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "chain.log")
	c, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Path: path}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
	netuid, _ := c.CreateSubnet(ctx, 0, DefaultSubnetParams())
	hk := chaintest.Hotkey(0)
	c.Register(ctx, netuid, hk.AccountID(), coldkey())
	cb, err := c.As(hk).Commit(ctx, netuid, "persisted")
	if err != nil {
		t.Fatal(err)
	}
	head, _ := c.BlockNumber(ctx)
	c.Close()
	if _, err := c.BlockNumber(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("closed chain: %v", err)
	}
	c2, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if h, _ := c2.BlockNumber(ctx); h != head {
		t.Errorf("reopened head = %d, want %d", h, head)
	}
	cm, err := c2.Commitment(ctx, netuid, hk.AccountID())
	if err != nil || cm.Data != "persisted" || cm.Block != cb {
		t.Errorf("reopened commitment = %+v, %v", cm, err)
	}
	// The rate limit survives the reopen.
	if _, err := c2.As(hk).Commit(ctx, netuid, "again"); !errors.Is(err, chain.ErrRateLimited) {
		t.Errorf("commit after reopen: %v", err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "junk"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Path: filepath.Join(filepath.Dir(path), "junk")}); err == nil {
		t.Error("opening a file that is not a log succeeded")
	}
}

func TestTornTail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.log")
	c, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	netuid, _ := c.CreateSubnet(ctx, 0, DefaultSubnetParams())
	head, _ := c.Advance(ctx, 7)
	c.Close()
	good, _ := os.ReadFile(path)
	rec, err := encodeRecord(&record{Block: head + 1, Op: &op{Kind: opAdvance, N: 1}})
	if err != nil {
		t.Fatal(err)
	}
	badCRC := append([]byte(nil), rec...)
	badCRC[len(badCRC)-2] ^= 0xff
	for name, tail := range map[string][]byte{
		"half header":  rec[:5],
		"half payload": rec[:len(rec)-3],
		"bad checksum": badCRC,
		"zero length":  make([]byte, 12),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, append(append([]byte(nil), good...), tail...), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Open(ctx, Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if h, _ := c.BlockNumber(ctx); h != head {
				t.Errorf("head = %d, want %d", h, head)
			}
			if _, err := c.Metagraph(ctx, netuid); err != nil {
				t.Error(err)
			}
			// New blocks land after the cut and survive another reopen.
			if _, err := c.Advance(ctx, 2); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c2, err := Open(ctx, Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if h, _ := c2.BlockNumber(ctx); h != head+2 {
				t.Errorf("after cut and write head = %d, want %d", h, head+2)
			}
		})
	}
}

// TestKill9 re-executes the test binary as a child that writes blocks in a
// loop, kills it with SIGKILL while it writes, and checks that every block
// the child reported as written is there after reopening.
func TestKill9(t *testing.T) {
	if os.Getenv("DEVCHAIN_CRASH_CHILD") != "" {
		t.Skip("child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chain.log")
	for round := range 3 {
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "DEVCHAIN_CRASH_CHILD="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var last chain.BlockNumber
		var lastData string
		n := 0
		want := 40 + 25*round
		for n < want && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "committed" {
				continue
			}
			b, _ := strconv.ParseUint(f[1], 10, 64)
			last, lastData = chain.BlockNumber(b), f[2]
			n++
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if n < want {
			t.Fatalf("round %d: child reported %d writes before exiting, want %d", round, n, want)
		}
		c, err := Open(context.Background(), Options{Path: path})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		head, _ := c.BlockNumber(context.Background())
		cm, err := c.Commitment(context.Background(), 1, chaintest.Hotkey(0).AccountID())
		c.Close()
		if head < last {
			t.Errorf("round %d: head %d after kill, child had written block %d", round, head, last)
		}
		if err != nil {
			t.Fatalf("round %d: commitment: %v", round, err)
		}
		// The last reported commitment, or a later one the child wrote
		// before it could report it.
		got, _ := strconv.Atoi(strings.TrimPrefix(cm.Data, "n"))
		wantN, _ := strconv.Atoi(strings.TrimPrefix(lastData, "n"))
		if got < wantN || (got == wantN && cm.Block != last) {
			t.Errorf("round %d: commitment %q at %d, child had written %q at %d", round, cm.Data, cm.Block, lastData, last)
		}
		t.Logf("round %d: %d writes reported, last block %d, head after reopen %d", round, n, last, head)
	}
}

// TestCrashChild is the child of TestKill9: it writes until killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("DEVCHAIN_CRASH_CHILD")
	if path == "" {
		t.Skip("only run as TestKill9's child")
	}
	ctx := context.Background()
	c, err := Open(ctx, Options{Path: path})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	hk := chaintest.Hotkey(0)
	subnets, _ := c.Subnets(ctx)
	if len(subnets) == 0 {
		p := DefaultSubnetParams()
		p.CommitRateLimit = 0
		if _, err := c.CreateSubnet(ctx, 1, p); err != nil {
			fmt.Println("create failed:", err)
			os.Exit(2)
		}
		if _, err := c.Register(ctx, 1, hk.AccountID(), coldkey()); err != nil {
			fmt.Println("register failed:", err)
			os.Exit(2)
		}
	}
	start := 0
	if cm, err := c.Commitment(ctx, 1, hk.AccountID()); err == nil {
		start, _ = strconv.Atoi(strings.TrimPrefix(cm.Data, "n"))
	}
	a := c.As(hk)
	for i := start + 1; i < start+100000; i++ {
		data := fmt.Sprintf("n%d", i)
		b, err := a.Commit(ctx, 1, data)
		if err != nil {
			fmt.Println("commit failed:", err)
			os.Exit(2)
		}
		fmt.Printf("committed %d %s\n", b, data)
		// An extra record between commitments so kills land in varied places.
		if _, err := c.Advance(ctx, uint64(1+i%3)); err != nil {
			os.Exit(2)
		}
	}
	os.Exit(3) // bounded loop: the parent should have killed us long before
}

// TestConcurrentHTTP has several clients write and read at once (run with -race).
func TestConcurrentHTTP(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	cl := serve(t, c)
	p := DefaultSubnetParams()
	p.WeightsRateLimit = 0
	netuid, err := cl.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 15
	for i := range workers {
		if _, err := cl.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), coldkey()); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, workers+1)
	for i := range workers {
		go func() {
			a := cl.As(chaintest.Hotkey(i))
			for r := range rounds {
				if _, err := a.SetWeights(ctx, netuid, []chain.UID{0, 1, 2, 3}, []uint16{1, 2, 3, uint16(r + 1)}, 0); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	go func() {
		for range rounds {
			if _, err := cl.Metagraph(ctx, netuid); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range workers + 1 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	head, _ := c.BlockNumber(ctx)
	if want := chain.BlockNumber(1 + workers + workers*rounds); head != want {
		t.Errorf("head = %d, want %d (one block per write)", head, want)
	}
	for i := range workers {
		w, _ := c.Weights(ctx, netuid, chain.UID(i))
		if len(w) != 4 || w[3].Value != 65535 {
			t.Errorf("uid %d weights %v", i, w)
		}
	}
	// Concurrent subnet creations get distinct netuids.
	got := make(chan chain.NetUID, workers)
	for range workers {
		go func() {
			n, err := cl.CreateSubnet(ctx, 0, p)
			if err != nil {
				t.Error(err)
			}
			got <- n
		}()
	}
	seen := map[chain.NetUID]bool{netuid: true}
	for range workers {
		n := <-got
		if seen[n] {
			t.Errorf("netuid %d handed out twice", n)
		}
		seen[n] = true
	}
}

func FuzzReadLog(f *testing.F) {
	rec, _ := encodeRecord(&record{Block: 1, Op: &op{Kind: opAdvance, N: 1}})
	f.Add([]byte(logMagic))
	f.Add(append([]byte(logMagic), rec...))
	f.Add(append([]byte(logMagic), rec[:7]...))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, good, err := readLog(bytes.NewReader(data))
		if err == nil && (good > int64(len(data)) || (len(recs) > 0 && good <= int64(len(logMagic)))) {
			t.Fatalf("good offset %d for %d bytes and %d records", good, len(data), len(recs))
		}
		// Replaying arbitrary records must not panic either.
		st := newState()
		for _, r := range recs {
			r.Op.Block = r.Block
			if st.check(r.Op, r.Block) == nil {
				_ = st.apply(r.Op)
			}
		}
	})
}

// benchChain opens a file-backed chain with one subnet of n registered hotkeys.
func benchChain(b *testing.B, n int) (*Chain, chain.NetUID) {
	b.Helper()
	c, err := Open(context.Background(), Options{Path: filepath.Join(b.TempDir(), "chain.log")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	p := DefaultSubnetParams()
	p.WeightsRateLimit, p.CommitRateLimit = 0, 0
	netuid, err := c.CreateSubnet(context.Background(), 0, p)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		var h chain.Hotkey
		h[0], h[1] = byte(i), byte(i>>8)
		if _, err := c.Register(context.Background(), netuid, h, coldkey()); err != nil {
			b.Fatal(err)
		}
	}
	return c, netuid
}

// BenchmarkSetWeights measures one fsynced block holding a 256-uid weight row.
func BenchmarkSetWeights(b *testing.B) {
	c, netuid := benchChain(b, 256)
	uids := make([]chain.UID, 256)
	values := make([]uint16, 256)
	for i := range uids {
		uids[i], values[i] = chain.UID(i), uint16(i+1)
	}
	var h chain.Hotkey
	a := &Account{Chain: c, hotkey: h}
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.SetWeights(ctx, netuid, uids, values, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetagraph256 reads a 256-neuron metagraph in process.
func BenchmarkMetagraph256(b *testing.B) {
	c, netuid := benchChain(b, 256)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Metagraph(ctx, netuid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReopen replays a log of 256 registrations and 1000 weight rows.
func BenchmarkReopen(b *testing.B) {
	c, netuid := benchChain(b, 256)
	ctx := context.Background()
	a := &Account{Chain: c}
	for i := range 1000 {
		a.hotkey[0], a.hotkey[1] = byte(i%256), 0
		if _, err := a.SetWeights(ctx, netuid, []chain.UID{0, 1, 2}, []uint16{1, 2, 3}, 0); err != nil {
			b.Fatal(err)
		}
	}
	path := c.opts.Path
	c.Close()
	for b.Loop() {
		c2, err := Open(ctx, Options{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		c2.Close()
	}
}
