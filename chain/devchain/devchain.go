// Package devchain is an embedded local chain for single-machine
// competitions and tests. It implements the chain role interfaces
// (chain.Reader, chain.Committer, chain.WeightSetter) with the rules of
// subtensor that matter to coldint: subnets with uid registration, a
// commitment rate limit, weights checked and max-upscaled like the runtime
// does, commit-reveal (hash and timelocked variants, the chain being its
// own beacon), and blocks that advance with time or on demand.
//
// State lives in an append-only block log (one fsynced record per block
// with a checksum; see log.go), so a crash at any point loses no block whose
// write returned. Open with an empty path for a chain in memory.
//
// Several processes share one chain through [Serve] (JSON-RPC over HTTP on
// 127.0.0.1) and [Dial]; both the embedded [Chain] and the [Client]
// implement [Node].
package devchain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
)

// DefaultBlockTime is the block time of subtensor, used unless Options say otherwise.
const DefaultBlockTime = 12 * time.Second

// errBadRequest marks a malformed admin request.
var errBadRequest = errors.New("bad request")

// ErrClosed is returned by a closed chain.
var ErrClosed = errors.New("devchain closed")

// ErrLocked reports a chain file already opened by another process.
var ErrLocked = errors.New("devchain file in use by another process")

// Admin holds the operations only a local chain offers: the things that on
// subtensor need sudo, a funded coldkey or waiting.
type Admin interface {
	// CreateSubnet creates a subnet; netuid 0 picks the lowest free netuid ≥ 1.
	CreateSubnet(ctx context.Context, netuid chain.NetUID, p SubnetParams) (chain.NetUID, error)
	// SetParams replaces the parameters of a subnet.
	SetParams(ctx context.Context, netuid chain.NetUID, p SubnetParams) error
	// Register registers hotkey (owned by coldkey) and returns its uid.
	Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, coldkey chain.Coldkey) (chain.UID, error)
	// SetStake sets the stake (rao) of a registered hotkey.
	SetStake(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, rao uint64) error
	// Advance seals n empty blocks and returns the new head.
	Advance(ctx context.Context, n uint64) (chain.BlockNumber, error)
	// Subnets lists the subnets.
	Subnets(ctx context.Context) ([]SubnetInfo, error)
}

// SubnetInfo describes one subnet.
type SubnetInfo struct {
	Netuid  chain.NetUID `json:"netuid"`
	Neurons int          `json:"neurons"`
	Params  SubnetParams `json:"params"`
}

// Node is a local chain, embedded ([Chain]) or reached over HTTP ([Client]).
type Node interface {
	chain.Reader
	Admin
	chain.BeaconReader
	// As returns a view of the chain whose writes are signed by signer.
	As(signer chain.Signer) chain.Chain
	// Close releases the chain (the file lock, or idle connections).
	Close() error
}

// Options configure [Open].
type Options struct {
	// Path is the block log file; "" keeps the chain in memory.
	Path string
	// BlockTime is the time per block. Zero means blocks advance only on
	// writes (each write seals one block) and [Chain.Advance]. Use
	// [DefaultBlockTime] for subtensor's 12 s.
	BlockTime time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Logger receives recovery notes; nil uses slog.Default().
	Logger *slog.Logger
}

// Chain is the embedded local chain. It is safe for concurrent use.
type Chain struct {
	mu       sync.Mutex
	st       *state
	lastTime time.Time // when the head block was sealed
	opts     Options
	f        *os.File // nil in memory
	size     int64    // bytes of good log
	closed   bool
	broken   error
	// digests is the running digest of the log per record, for BlockHash.
	digests []blockDigest
}

var (
	_ Node         = (*Chain)(nil)
	_ chain.Chain  = (*Account)(nil)
	_ chain.Reader = (*Chain)(nil)
)

const opGenesis = "genesis"

// Open opens (or creates) the chain in opts.Path and replays its log; a
// torn last record from a crash is cut off. The file is locked against
// other processes until Close.
func Open(ctx context.Context, opts Options) (*Chain, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Chain{st: newState(), opts: opts}
	if opts.Path == "" {
		c.lastTime = opts.Now()
		c.noteRecord(&record{Block: 0, Time: c.lastTime.UnixNano(), Op: &op{Kind: opGenesis}})
		c.st.log = opts.Logger
		return c, nil
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return nil, fmt.Errorf("open devchain %q: %w", opts.Path, err)
	}
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open devchain %q: %w", opts.Path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("open devchain %q: %w", opts.Path, err)
	}
	if err := c.load(f); err != nil {
		unlockFile(f)
		f.Close()
		return nil, fmt.Errorf("open devchain %q: %w", opts.Path, err)
	}
	c.f = f
	c.st.log = opts.Logger // replay above ran without reveal notes
	return c, nil
}

func (c *Chain) load(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	recs, good, err := readLog(f)
	if err != nil {
		return err
	}
	if good < int64(len(logMagic)) {
		// New (or torn before the magic): start over with the magic and genesis.
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte(logMagic), 0); err != nil {
			return err
		}
		c.size = int64(len(logMagic))
		if _, err := f.Seek(c.size, io.SeekStart); err != nil {
			return err
		}
		now := c.opts.Now()
		c.f = f
		genesis := &record{Block: 0, Time: now.UnixNano(), Op: &op{Kind: opGenesis}}
		err := c.appendRecord(genesis)
		c.f = nil
		if err != nil {
			return err
		}
		c.noteRecord(genesis)
		// Make the new file's folder entry durable too.
		if d, err := os.Open(filepath.Dir(c.opts.Path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
		c.lastTime = now
		return nil
	}
	if good < st.Size() {
		c.opts.Logger.Warn("devchain: cutting off a torn record at the end of the log (a crash during a write)",
			"path", c.opts.Path, "bytes", st.Size()-good)
		if err := f.Truncate(good); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	c.size = good
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return err
	}
	for i, r := range recs {
		r.Op.Block = r.Block
		if r.Op.Kind == opGenesis {
			if i != 0 {
				return fmt.Errorf("replay: genesis record at position %d", i)
			}
		} else if err := c.st.apply(r.Op); err != nil {
			return fmt.Errorf("replay block %d: %w", r.Block, err)
		}
		c.lastTime = time.Unix(0, r.Time)
		c.noteRecord(r)
	}
	if len(recs) == 0 {
		c.lastTime = c.opts.Now()
	}
	return nil
}

// appendRecord writes r to the log; on failure the log is cut back so that
// no partial record stays in front of later ones.
func (c *Chain) appendRecord(r *record) error {
	if c.f == nil {
		return nil
	}
	l := blockLog{f: c.f}
	if err := l.append(r); err != nil {
		if terr := c.f.Truncate(c.size); terr != nil {
			c.broken = fmt.Errorf("devchain log unusable after a failed write: %w", terr)
		} else if _, serr := c.f.Seek(c.size, io.SeekStart); serr != nil {
			c.broken = fmt.Errorf("devchain log unusable after a failed write: %w", serr)
		}
		return err
	}
	st, err := c.f.Stat()
	if err != nil {
		return err
	}
	c.size = st.Size()
	return nil
}

// Close releases the file lock. Later calls return ErrClosed.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.f == nil {
		return nil
	}
	unlockFile(c.f)
	return c.f.Close()
}

// head returns the head block at time now. Caller holds mu.
func (c *Chain) head(now time.Time) chain.BlockNumber {
	h := c.st.Head
	if bt := c.opts.BlockTime; bt > 0 && now.After(c.lastTime) {
		h += chain.BlockNumber(now.Sub(c.lastTime) / bt)
	}
	return h
}

func (c *Chain) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed {
		return ErrClosed
	}
	return c.broken
}

// seal checks o, logs it as the next block (or n blocks for advance) and
// applies it. It returns the block o was included in. after, if not nil,
// runs under the lock once o is applied.
func (c *Chain) seal(ctx context.Context, o *op, after ...func()) (chain.BlockNumber, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return 0, err
	}
	if o.Kind == opCreateSubnet && o.Netuid == 0 {
		o.Netuid = 1
		for c.st.Subnets[o.Netuid] != nil {
			if o.Netuid == 65535 {
				return 0, fmt.Errorf("create subnet: no free netuid: %w", errBadRequest)
			}
			o.Netuid++
		}
	}
	now := c.opts.Now()
	b := c.head(now) + 1
	if o.Kind == opAdvance {
		b = c.head(now) + chain.BlockNumber(o.N)
	}
	if err := c.st.check(o, b); err != nil {
		return 0, err
	}
	o.Block = b
	rec := &record{Block: b, Time: now.UnixNano(), Op: o}
	if err := c.appendRecord(rec); err != nil {
		return 0, err
	}
	c.noteRecord(rec)
	if err := c.st.apply(o); err != nil {
		// check accepted it, so this is a bug; the log already holds it.
		c.broken = fmt.Errorf("devchain state diverged from log: %w", err)
		return 0, c.broken
	}
	c.lastTime = now
	for _, f := range after {
		f()
	}
	return b, nil
}

// read runs f on the state at the current head under the lock.
func (c *Chain) read(ctx context.Context, f func(head chain.BlockNumber) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return err
	}
	return f(c.head(c.opts.Now()))
}

// BlockNumber returns the head block.
func (c *Chain) BlockNumber(ctx context.Context) (chain.BlockNumber, error) {
	var h chain.BlockNumber
	err := c.read(ctx, func(head chain.BlockNumber) error { h = head; return nil })
	return h, err
}

// Metagraph returns the neurons of netuid at the head block.
func (c *Chain) Metagraph(ctx context.Context, netuid chain.NetUID) (*chain.Metagraph, error) {
	var mg *chain.Metagraph
	err := c.read(ctx, func(head chain.BlockNumber) error {
		s, err := c.st.subnet(netuid)
		if err != nil {
			return err
		}
		mg = s.metagraph(head)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read metagraph: %w", err)
	}
	return mg, nil
}

// Commitment returns what hotkey committed on netuid.
func (c *Chain) Commitment(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.Commitment, error) {
	var cm chain.Commitment
	err := c.read(ctx, func(chain.BlockNumber) error {
		s, err := c.st.subnet(netuid)
		if err != nil {
			return err
		}
		v, ok := s.Commitments[hotkey]
		if !ok {
			return fmt.Errorf("commitment of %s on netuid %d: %w", hotkey, netuid, chain.ErrNotFound)
		}
		cm = v
		return nil
	})
	if err != nil {
		return chain.Commitment{}, fmt.Errorf("read commitment: %w", err)
	}
	return cm, nil
}

// Commitments returns every commitment on netuid, in uid order.
func (c *Chain) Commitments(ctx context.Context, netuid chain.NetUID) ([]chain.Commitment, error) {
	var out []chain.Commitment
	err := c.read(ctx, func(chain.BlockNumber) error {
		s, err := c.st.subnet(netuid)
		if err != nil {
			return err
		}
		out = make([]chain.Commitment, 0, len(s.Commitments))
		for _, n := range s.Neurons {
			if v, ok := s.Commitments[n.Hotkey]; ok {
				out = append(out, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read commitments: %w", err)
	}
	return out, nil
}

// Weights returns the weight row uid set on netuid (empty if none).
func (c *Chain) Weights(ctx context.Context, netuid chain.NetUID, uid chain.UID) (chain.Weights, error) {
	var w chain.Weights
	err := c.read(ctx, func(chain.BlockNumber) error {
		s, err := c.st.subnet(netuid)
		if err != nil {
			return err
		}
		if int(uid) >= len(s.Neurons) {
			return fmt.Errorf("uid %d on netuid %d: %w", uid, netuid, chain.ErrNotFound)
		}
		w = append(chain.Weights{}, s.Neurons[uid].Weights...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	return w, nil
}

// CreateSubnet creates a subnet; netuid 0 picks the lowest free netuid ≥ 1.
func (c *Chain) CreateSubnet(ctx context.Context, netuid chain.NetUID, p SubnetParams) (chain.NetUID, error) {
	o := &op{Kind: opCreateSubnet, Netuid: netuid, Params: &p}
	if _, err := c.seal(ctx, o); err != nil {
		return 0, fmt.Errorf("create subnet: %w", err)
	}
	return o.Netuid, nil
}

// SetParams replaces the parameters of netuid.
func (c *Chain) SetParams(ctx context.Context, netuid chain.NetUID, p SubnetParams) error {
	if _, err := c.seal(ctx, &op{Kind: opSetParams, Netuid: netuid, Params: &p}); err != nil {
		return fmt.Errorf("set subnet params: %w", err)
	}
	return nil
}

// Register registers hotkey on netuid and returns its uid.
func (c *Chain) Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, coldkey chain.Coldkey) (chain.UID, error) {
	var uid chain.UID
	lookup := func() { uid, _ = c.st.Subnets[netuid].uidOf(hotkey) }
	if _, err := c.seal(ctx, &op{Kind: opRegister, Netuid: netuid, Hotkey: hotkey, Coldkey: coldkey}, lookup); err != nil {
		return 0, fmt.Errorf("register: %w", err)
	}
	return uid, nil
}

// SetStake sets the stake of a registered hotkey.
func (c *Chain) SetStake(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, rao uint64) error {
	if _, err := c.seal(ctx, &op{Kind: opSetStake, Netuid: netuid, Hotkey: hotkey, N: rao}); err != nil {
		return fmt.Errorf("set stake: %w", err)
	}
	return nil
}

// Advance seals n empty blocks and returns the new head.
func (c *Chain) Advance(ctx context.Context, n uint64) (chain.BlockNumber, error) {
	b, err := c.seal(ctx, &op{Kind: opAdvance, N: n})
	if err != nil {
		return 0, fmt.Errorf("advance: %w", err)
	}
	return b, nil
}

// Subnets lists the subnets by netuid.
func (c *Chain) Subnets(ctx context.Context) ([]SubnetInfo, error) {
	var out []SubnetInfo
	err := c.read(ctx, func(chain.BlockNumber) error {
		for _, s := range c.st.Subnets {
			out = append(out, SubnetInfo{Netuid: s.Netuid, Neurons: len(s.Neurons), Params: s.Params})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b SubnetInfo) int { return cmp.Compare(a.Netuid, b.Netuid) })
	return out, err
}

// As returns a view whose writes are made by signer's hotkey. The embedded
// chain trusts the caller and does not ask for signatures.
func (c *Chain) As(signer chain.Signer) chain.Chain {
	return &Account{Chain: c, hotkey: signer.AccountID()}
}

// Account is a [Chain] seen by one hotkey: its writes are that hotkey's.
type Account struct {
	*Chain
	hotkey chain.Hotkey
}

// Commit publishes data for the account's hotkey.
func (a *Account) Commit(ctx context.Context, netuid chain.NetUID, data string) (chain.BlockNumber, error) {
	b, err := a.seal(ctx, &op{Kind: opCommit, Netuid: netuid, Hotkey: a.hotkey, Data: data})
	if err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return b, nil
}

// SetWeights sets the account's weight row.
func (a *Account) SetWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values []uint16, versionKey uint64) (chain.BlockNumber, error) {
	b, err := a.seal(ctx, &op{Kind: opSetWeights, Netuid: netuid, Hotkey: a.hotkey, UIDs: uids, Values: values, Version: versionKey})
	if err != nil {
		return 0, fmt.Errorf("set weights: %w", err)
	}
	return b, nil
}

// CommitWeights publishes a commit-reveal hash (see chain.CommitHash).
func (a *Account) CommitWeights(ctx context.Context, netuid chain.NetUID, hash [32]byte) (chain.BlockNumber, error) {
	b, err := a.seal(ctx, &op{Kind: opCommitWeights, Netuid: netuid, Hotkey: a.hotkey, Hash: hash})
	if err != nil {
		return 0, fmt.Errorf("commit weights: %w", err)
	}
	return b, nil
}

// RevealWeights reveals weights committed earlier.
func (a *Account) RevealWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values, salt []uint16, versionKey uint64) (chain.BlockNumber, error) {
	b, err := a.seal(ctx, &op{Kind: opRevealWeights, Netuid: netuid, Hotkey: a.hotkey, UIDs: uids, Values: values, Salt: salt, Version: versionKey})
	if err != nil {
		return 0, fmt.Errorf("reveal weights: %w", err)
	}
	return b, nil
}
