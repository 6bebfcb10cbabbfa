package substrate

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
)

// Options configure Dial.
type Options struct {
	// EraPeriod is the mortality of submitted extrinsics in blocks
	// (default DefaultEraPeriod).
	EraPeriod uint64
	// Logger receives debug logs (default slog.Default()).
	Logger *slog.Logger
}

// Client talks to one node. It is safe for concurrent use. The zero value is
// not usable; call Dial.
type Client struct {
	t      transport
	url    string
	opts   Options
	log    *slog.Logger
	state  *runtimeState
	nonces *nonceBook
	signer chain.Signer
}

type runtimeState struct {
	mu          sync.Mutex
	meta        *Metadata
	specVersion uint32
	txVersion   uint32
	genesis     [32]byte
	checked     time.Time
}

type nonceBook struct {
	mu   sync.Mutex
	next map[chain.AccountID]uint32
	// locks serialises submissions per signer so nonces stay ordered.
	locks map[chain.AccountID]*sync.Mutex
}

func (n *nonceBook) lock(a chain.AccountID) *sync.Mutex {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.locks[a]
	if l == nil {
		l = &sync.Mutex{}
		n.locks[a] = l
	}
	return l
}

var (
	_ chain.Reader       = (*Client)(nil)
	_ chain.Chain        = (*Client)(nil)
	_ chain.Registrar    = (*Client)(nil)
	_ chain.WeightSetter = (*Client)(nil)
)

// Dial connects to url (http://, https://, ws:// or wss://), reads the
// runtime version, the genesis hash and the metadata.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	t, err := newTransport(url)
	if err != nil {
		return nil, err
	}
	if opts.EraPeriod == 0 {
		opts.EraPeriod = DefaultEraPeriod
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{t: t, url: url, opts: opts, log: opts.Logger, state: &runtimeState{},
		nonces: &nonceBook{next: map[chain.AccountID]uint32{}, locks: map[chain.AccountID]*sync.Mutex{}}}
	if _, err := c.runtime(ctx); err != nil {
		t.close()
		return nil, fmt.Errorf("dial %q: %w", url, err)
	}
	return c, nil
}

// WithSigner returns a client that shares c's connection, metadata and nonce
// book and signs writes with s.
func (c *Client) WithSigner(s chain.Signer) *Client {
	cc := *c
	cc.signer = s
	return &cc
}

// Signer returns the client's signer, or nil.
func (c *Client) Signer() chain.Signer { return c.signer }

// Close closes the connection (shared with clients made by WithSigner).
func (c *Client) Close() error { return c.t.close() }

// URL returns the node URL.
func (c *Client) URL() string { return c.url }

// Call makes a raw JSON-RPC call and unmarshals its result into out (which may be nil).
// Connection failures are retried once after redialing.
func (c *Client) Call(ctx context.Context, out any, method string, params ...any) error {
	raw, err := c.t.call(ctx, method, params)
	if err != nil && errors.Is(err, ErrConnection) && ctx.Err() == nil {
		c.log.Debug("substrate: retrying after connection error", "method", method, "err", err)
		raw, err = c.t.call(ctx, method, params)
	}
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("rpc %s: decode result: %w", method, err)
	}
	return nil
}

// callOnce is Call without the retry (for submissions).
func (c *Client) callOnce(ctx context.Context, out any, method string, params ...any) error {
	raw, err := c.t.call(ctx, method, params)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("rpc %s: decode result: %w", method, err)
		}
	}
	return nil
}

type runtimeVersion struct {
	SpecName           string `json:"specName"`
	SpecVersion        uint32 `json:"specVersion"`
	TransactionVersion uint32 `json:"transactionVersion"`
}

// runtimeRecheck is how long reads trust the cached runtime version before
// asking the node again; submissions always ask.
const runtimeRecheck = 10 * time.Second

// runtimeSnapshot is the runtime facts one submission signs against.
type runtimeSnapshot struct {
	meta        *Metadata
	specVersion uint32
	txVersion   uint32
	genesis     [32]byte
}

// runtime returns the metadata, re-reading it when the spec version changed.
func (c *Client) runtime(ctx context.Context) (*Metadata, error) {
	rt, err := c.snapshot(ctx, false)
	return rt.meta, err
}

func (c *Client) snapshot(ctx context.Context, force bool) (runtimeSnapshot, error) {
	s := c.state
	s.mu.Lock()
	if s.meta != nil && !force && time.Since(s.checked) < runtimeRecheck {
		rt := runtimeSnapshot{s.meta, s.specVersion, s.txVersion, s.genesis}
		s.mu.Unlock()
		return rt, nil
	}
	s.mu.Unlock()
	var rv runtimeVersion
	if err := c.Call(ctx, &rv, "state_getRuntimeVersion"); err != nil {
		return runtimeSnapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meta != nil && s.specVersion == rv.SpecVersion && s.txVersion == rv.TransactionVersion {
		s.checked = time.Now()
		return runtimeSnapshot{s.meta, s.specVersion, s.txVersion, s.genesis}, nil
	}
	var g string
	if err := c.Call(ctx, &g, "chain_getBlockHash", 0); err != nil {
		return runtimeSnapshot{}, err
	}
	gh, err := parseHash(g)
	if err != nil {
		return runtimeSnapshot{}, fmt.Errorf("read genesis hash: %w", err)
	}
	var mh string
	if err := c.Call(ctx, &mh, "state_getMetadata"); err != nil {
		return runtimeSnapshot{}, err
	}
	mb, err := parseHex(mh)
	if err != nil {
		return runtimeSnapshot{}, fmt.Errorf("read metadata: %w", err)
	}
	m, err := DecodeMetadata(mb)
	if err != nil {
		return runtimeSnapshot{}, err
	}
	c.log.Debug("substrate: runtime", "spec", rv.SpecName, "version", rv.SpecVersion, "tx_version", rv.TransactionVersion, "pallets", len(m.Pallets))
	s.meta, s.specVersion, s.txVersion, s.genesis, s.checked = m, rv.SpecVersion, rv.TransactionVersion, gh, time.Now()
	return runtimeSnapshot{m, rv.SpecVersion, rv.TransactionVersion, gh}, nil
}

// Metadata returns the cached runtime metadata (refreshed on runtime upgrades).
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) { return c.runtime(ctx) }

// RuntimeInfo returns spec version, transaction version and genesis hash.
func (c *Client) RuntimeInfo(ctx context.Context) (spec, tx uint32, genesis [32]byte, err error) {
	rt, err := c.snapshot(ctx, true)
	return rt.specVersion, rt.txVersion, rt.genesis, err
}

func parseHex(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") {
		return nil, fmt.Errorf("hex %.20q: missing 0x", s)
	}
	return hex.DecodeString(s[2:])
}

func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := parseHex(s)
	if err != nil {
		return h, err
	}
	if len(b) != 32 {
		return h, fmt.Errorf("hash %q: %d bytes, want 32", s, len(b))
	}
	copy(h[:], b)
	return h, nil
}

func hexOf(b []byte) string { return "0x" + hex.EncodeToString(b) }

type header struct {
	ParentHash string `json:"parentHash"`
	Number     string `json:"number"`
}

func (h header) number() (uint64, error) {
	return strconv.ParseUint(strings.TrimPrefix(h.Number, "0x"), 16, 64)
}

// head returns the best block number and hash.
func (c *Client) head(ctx context.Context) (uint64, [32]byte, error) {
	var hs string
	if err := c.Call(ctx, &hs, "chain_getBlockHash"); err != nil {
		return 0, [32]byte{}, err
	}
	hash, err := parseHash(hs)
	if err != nil {
		return 0, hash, fmt.Errorf("read head: %w", err)
	}
	var h header
	if err := c.Call(ctx, &h, "chain_getHeader", hs); err != nil {
		return 0, hash, err
	}
	n, err := h.number()
	if err != nil {
		return 0, hash, fmt.Errorf("read head: block number %q: %w", h.Number, err)
	}
	return n, hash, nil
}

// BlockNumber returns the best block number.
func (c *Client) BlockNumber(ctx context.Context) (chain.BlockNumber, error) {
	var h header
	if err := c.Call(ctx, &h, "chain_getHeader"); err != nil {
		return 0, fmt.Errorf("read block number: %w", err)
	}
	n, err := h.number()
	if err != nil {
		return 0, fmt.Errorf("read block number %q: %w", h.Number, err)
	}
	return chain.BlockNumber(n), nil
}

// BlockHash returns the hash of block n.
func (c *Client) BlockHash(ctx context.Context, n uint64) ([32]byte, error) {
	var hs *string
	if err := c.Call(ctx, &hs, "chain_getBlockHash", n); err != nil {
		return [32]byte{}, err
	}
	if hs == nil {
		return [32]byte{}, fmt.Errorf("block %d: %w", n, chain.ErrNotFound)
	}
	return parseHash(*hs)
}

// FinalizedBlock returns the number of the newest finalised block.
func (c *Client) FinalizedBlock(ctx context.Context) (chain.BlockNumber, error) {
	var hs string
	if err := c.Call(ctx, &hs, "chain_getFinalizedHead"); err != nil {
		return 0, fmt.Errorf("read finalized head: %w", err)
	}
	var h header
	if err := c.Call(ctx, &h, "chain_getHeader", hs); err != nil {
		return 0, fmt.Errorf("read finalized head %s: %w", hs, err)
	}
	n, err := h.number()
	if err != nil {
		return 0, fmt.Errorf("read finalized head: block number %q: %w", h.Number, err)
	}
	return chain.BlockNumber(n), nil
}

var _ chain.BlockHashReader = (*Client)(nil)

// StorageRaw reads a raw storage value at block hash at (nil: best block).
// It returns nil, false when the key is unset.
func (c *Client) StorageRaw(ctx context.Context, key []byte, at *[32]byte) ([]byte, bool, error) {
	params := []any{hexOf(key)}
	if at != nil {
		params = append(params, hexOf(at[:]))
	}
	var v *string
	if err := c.Call(ctx, &v, "state_getStorage", params...); err != nil {
		return nil, false, err
	}
	if v == nil {
		return nil, false, nil
	}
	b, err := parseHex(*v)
	if err != nil {
		return nil, false, fmt.Errorf("read storage %x: %w", key, err)
	}
	return b, true, nil
}

// Storage reads pallet.item at the given keys (SCALE-encoded); unset values
// of Default-modifier items return the metadata default. ok is false only
// for unset Optional items.
func (c *Client) Storage(ctx context.Context, at *[32]byte, pallet, item string, keys ...[]byte) (val []byte, ok bool, err error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return nil, false, err
	}
	e, err := m.Storage(pallet, item)
	if err != nil {
		return nil, false, err
	}
	if len(keys) != len(e.Hashers) {
		return nil, false, fmt.Errorf("read storage %s.%s: %d keys, want %d", pallet, item, len(keys), len(e.Hashers))
	}
	key, err := m.StorageKey(pallet, item, keys...)
	if err != nil {
		return nil, false, err
	}
	v, ok, err := c.StorageRaw(ctx, key, at)
	if err != nil {
		return nil, false, fmt.Errorf("read storage %s.%s: %w", pallet, item, err)
	}
	if !ok {
		if e.Optional {
			return nil, false, nil
		}
		return e.Default, true, nil
	}
	return v, true, nil
}

// maxKeys bounds Keys so a wide prefix cannot exhaust memory.
const maxKeys = 1 << 20

// Keys lists every storage key under prefix (paged, bounded by ctx and maxKeys).
func (c *Client) Keys(ctx context.Context, prefix []byte, at *[32]byte) ([][]byte, error) {
	const page = 1000
	var out [][]byte
	start := ""
	hs := ""
	if at != nil {
		hs = hexOf(at[:])
	}
	for {
		params := []any{hexOf(prefix), page}
		if start != "" || hs != "" {
			params = append(params, nullable(start))
		}
		if hs != "" {
			params = append(params, hs)
		}
		var keys []string
		if err := c.Call(ctx, &keys, "state_getKeysPaged", params...); err != nil {
			return nil, fmt.Errorf("list storage keys: %w", err)
		}
		for _, k := range keys {
			b, err := parseHex(k)
			if err != nil {
				return nil, fmt.Errorf("list storage keys: %w", err)
			}
			out = append(out, b)
		}
		if len(keys) < page {
			return out, nil
		}
		if len(out) >= maxKeys {
			return nil, fmt.Errorf("list storage keys under 0x%x: more than %d keys", prefix, maxKeys)
		}
		start = keys[len(keys)-1]
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// StorageMany reads many raw keys at one block (state_queryStorageAt, in batches).
func (c *Client) StorageMany(ctx context.Context, keys [][]byte, at *[32]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for i := 0; i < len(keys); i += 200 {
		batch := keys[i:min(i+200, len(keys))]
		hk := make([]string, len(batch))
		for j, k := range batch {
			hk[j] = hexOf(k)
		}
		params := []any{hk}
		if at != nil {
			params = append(params, hexOf(at[:]))
		}
		var res []struct {
			Changes [][2]*string `json:"changes"`
		}
		if err := c.Call(ctx, &res, "state_queryStorageAt", params...); err != nil {
			return nil, fmt.Errorf("read storage batch: %w", err)
		}
		for _, r := range res {
			for _, ch := range r.Changes {
				if ch[0] == nil || ch[1] == nil {
					continue
				}
				v, err := parseHex(*ch[1])
				if err != nil {
					return nil, fmt.Errorf("read storage batch: %w", err)
				}
				out[strings.ToLower(*ch[0])] = v
			}
		}
	}
	return out, nil
}

// StateCall calls a runtime API (e.g. "NeuronInfoRuntimeApi_get_neurons_lite")
// with SCALE-encoded args at block at (nil: best).
func (c *Client) StateCall(ctx context.Context, method string, args []byte, at *[32]byte) ([]byte, error) {
	params := []any{method, hexOf(args)}
	if at != nil {
		params = append(params, hexOf(at[:]))
	}
	var res string
	if err := c.Call(ctx, &res, "state_call", params...); err != nil {
		return nil, fmt.Errorf("runtime call %s: %w", method, err)
	}
	return parseHex(res)
}

func u16le(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// SubnetExists reports whether netuid is a registered subnet.
func (c *Client) SubnetExists(ctx context.Context, netuid chain.NetUID, at *[32]byte) (bool, error) {
	v, _, err := c.Storage(ctx, at, "SubtensorModule", "NetworksAdded", u16le(uint16(netuid)))
	if err != nil {
		return false, err
	}
	return len(v) == 1 && v[0] == 1, nil
}

func (c *Client) requireSubnet(ctx context.Context, netuid chain.NetUID, at *[32]byte) error {
	ok, err := c.SubnetExists(ctx, netuid, at)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("subnet %d: %w", netuid, chain.ErrUnknownNetuid)
	}
	return nil
}

// Metagraph reads every neuron of netuid at the best block through
// NeuronInfoRuntimeApi_get_neurons_lite.
func (c *Client) Metagraph(ctx context.Context, netuid chain.NetUID) (*chain.Metagraph, error) {
	n, hash, err := c.head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read metagraph %d: %w", netuid, err)
	}
	if err := c.requireSubnet(ctx, netuid, &hash); err != nil {
		return nil, fmt.Errorf("read metagraph: %w", err)
	}
	raw, err := c.StateCall(ctx, "NeuronInfoRuntimeApi_get_neurons_lite", u16le(uint16(netuid)), &hash)
	if err != nil {
		return nil, fmt.Errorf("read metagraph %d: %w", netuid, err)
	}
	neurons, err := DecodeNeuronsLite(raw)
	if err != nil {
		return nil, fmt.Errorf("read metagraph %d: %w", netuid, err)
	}
	return &chain.Metagraph{Netuid: netuid, Block: chain.BlockNumber(n), Neurons: neurons}, nil
}

// Commitment reads Commitments.CommitmentOf(netuid, hotkey).
func (c *Client) Commitment(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.Commitment, error) {
	v, ok, err := c.Storage(ctx, nil, "Commitments", "CommitmentOf", u16le(uint16(netuid)), hotkey[:])
	if err != nil {
		return chain.Commitment{}, fmt.Errorf("read commitment of %s on %d: %w", hotkey, netuid, err)
	}
	if !ok {
		if err := c.requireSubnet(ctx, netuid, nil); err != nil {
			return chain.Commitment{}, fmt.Errorf("read commitment: %w", err)
		}
		return chain.Commitment{}, fmt.Errorf("read commitment of %s on %d: %w", hotkey, netuid, chain.ErrNotFound)
	}
	return commitmentFrom(hotkey, v)
}

func commitmentFrom(hotkey chain.Hotkey, v []byte) (chain.Commitment, error) {
	r, err := DecodeRegistration(v)
	if err != nil {
		return chain.Commitment{}, fmt.Errorf("read commitment of %s: %w", hotkey, err)
	}
	text, err := r.Text()
	if err != nil {
		return chain.Commitment{}, fmt.Errorf("read commitment of %s: %w", hotkey, err)
	}
	return chain.Commitment{Hotkey: hotkey, Block: chain.BlockNumber(r.Block), Data: text}, nil
}

// Commitments reads every CommitmentOf entry of netuid at the best block.
// Entries that are not raw UTF-8 text are skipped with a debug log.
func (c *Client) Commitments(ctx context.Context, netuid chain.NetUID) ([]chain.Commitment, error) {
	_, hash, err := c.head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read commitments of %d: %w", netuid, err)
	}
	if err := c.requireSubnet(ctx, netuid, &hash); err != nil {
		return nil, fmt.Errorf("read commitments: %w", err)
	}
	m, err := c.runtime(ctx)
	if err != nil {
		return nil, err
	}
	prefix, err := m.StorageKey("Commitments", "CommitmentOf", u16le(uint16(netuid)))
	if err != nil {
		return nil, err
	}
	keys, err := c.Keys(ctx, prefix, &hash)
	if err != nil {
		return nil, fmt.Errorf("read commitments of %d: %w", netuid, err)
	}
	vals, err := c.StorageMany(ctx, keys, &hash)
	if err != nil {
		return nil, fmt.Errorf("read commitments of %d: %w", netuid, err)
	}
	out := []chain.Commitment{}
	for _, k := range keys {
		if len(k) < len(prefix)+8+32 {
			continue
		}
		hk, _ := chain.AccountIDFromBytes(k[len(k)-32:])
		v, ok := vals[hexOf(k)]
		if !ok {
			continue
		}
		cm, err := commitmentFrom(hk, v)
		if err != nil {
			c.log.Debug("substrate: skipping commitment", "netuid", netuid, "hotkey", hk.String(), "err", err)
			continue
		}
		out = append(out, cm)
	}
	return out, nil
}

// Weights reads the weight row uid set on netuid.
func (c *Client) Weights(ctx context.Context, netuid chain.NetUID, uid chain.UID) (chain.Weights, error) {
	if err := c.requireSubnet(ctx, netuid, nil); err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	v, _, err := c.Storage(ctx, nil, "SubtensorModule", "Weights", u16le(uint16(netuid)), u16le(uint16(uid)))
	if err != nil {
		return nil, fmt.Errorf("read weights of uid %d on %d: %w", uid, netuid, err)
	}
	return DecodeWeights(v)
}

// UID returns the uid of hotkey on netuid (ErrNotRegistered if none).
func (c *Client) UID(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.UID, error) {
	v, ok, err := c.Storage(ctx, nil, "SubtensorModule", "Uids", u16le(uint16(netuid)), hotkey[:])
	if err != nil {
		return 0, fmt.Errorf("read uid of %s on %d: %w", hotkey, netuid, err)
	}
	if !ok || len(v) != 2 {
		return 0, fmt.Errorf("read uid of %s on %d: %w", hotkey, netuid, chain.ErrNotRegistered)
	}
	return chain.UID(binary.LittleEndian.Uint16(v)), nil
}
