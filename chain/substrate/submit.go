package substrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
)

// PollInterval is the wait between two inclusion checks after a
// submission, once the first 5 s (checked every 100 ms, as dev nodes build a
// block within a second) have passed; real chains make a block every 12 s.
var PollInterval = time.Second

// Event is one decoded System.Events record.
type Event struct {
	Pallet string
	Name   string
	// Extrinsic is the index of the extrinsic that emitted it, or -1 for
	// initialization/finalization events.
	Extrinsic int
	Fields    Value
}

// Receipt describes an included extrinsic.
type Receipt struct {
	Hash      [32]byte
	Block     uint64
	BlockHash [32]byte
	Index     int
	Events    []Event // events of this extrinsic only
}

// Event returns the first event pallet.name of the receipt.
func (r *Receipt) Event(pallet, name string) (*Event, bool) {
	for i := range r.Events {
		if r.Events[i].Pallet == pallet && r.Events[i].Name == name {
			return &r.Events[i], true
		}
	}
	return nil, false
}

// Events reads and decodes System.Events at block hash.
func (c *Client) Events(ctx context.Context, hash [32]byte) ([]Event, error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return nil, err
	}
	raw, _, err := c.Storage(ctx, &hash, "System", "Events")
	if err != nil {
		return nil, err
	}
	e, _ := m.Storage("System", "Events")
	return m.DecodeEvents(raw, e.Value)
}

// DecodeEvents decodes a System.Events value of type id typ.
func (m *Metadata) DecodeEvents(raw []byte, typ uint32) ([]Event, error) {
	d := scale.NewDecoder(raw)
	v := m.DecodeValue(d, typ)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode events: %w", err)
	}
	var out []Event
	for _, rec := range v.Fields {
		phase, ok1 := rec.Field("phase")
		ev, ok2 := rec.Field("event")
		if !ok1 || !ok2 || len(ev.Fields) != 1 {
			return nil, fmt.Errorf("decode events: unexpected record shape %s: %w", rec.String(), ErrMetadata)
		}
		e := Event{Pallet: ev.Name, Name: ev.Fields[0].Name, Extrinsic: -1, Fields: ev.Fields[0]}
		if phase.Name == "ApplyExtrinsic" && len(phase.Fields) == 1 {
			e.Extrinsic = int(phase.Fields[0].Uint)
		}
		out = append(out, e)
	}
	return out, nil
}

// dispatchError converts a DispatchError value to a Go error.
func (m *Metadata) dispatchError(v *Value) error {
	switch v.Name {
	case "Module":
		if len(v.Fields) == 1 {
			me := &v.Fields[0]
			idx, ok1 := me.Field("index")
			eb, ok2 := me.Field("error")
			if ok1 && ok2 {
				var ei uint8
				if eb.IsBytes && len(eb.Bytes) > 0 {
					ei = eb.Bytes[0]
				} else {
					ei = uint8(eb.Uint)
				}
				pallet, name, docs, err := m.ErrorVariant(uint8(idx.Uint), ei)
				if err != nil {
					return fmt.Errorf("%w: module error %d/%d: %v", chain.ErrDispatchFailed, idx.Uint, ei, err)
				}
				return &chain.ModuleError{Pallet: pallet, Name: name, Docs: docs, Kind: kindOr(name)}
			}
		}
	case "BadOrigin":
		return &chain.ModuleError{Name: "BadOrigin", Kind: chain.ErrBadOrigin}
	case "Token":
		if len(v.Fields) == 1 && (v.Fields[0].Name == "FundsUnavailable" || v.Fields[0].Name == "BelowMinimum" || v.Fields[0].Name == "NoFunds") {
			return &chain.ModuleError{Name: "Token." + v.Fields[0].Name, Kind: chain.ErrInsufficientBalance}
		}
	}
	return &chain.ModuleError{Name: v.String(), Kind: chain.ErrDispatchFailed}
}

func kindOr(name string) error {
	if k := chain.KindOf(name); k != nil {
		return k
	}
	return chain.ErrDispatchFailed
}

// Pool-level custom error codes of subtensor (common/src/transaction_error.rs).
var customKinds = map[int]struct {
	name string
	kind error
}{
	1: {"StakeAmountTooLow", chain.ErrNoPermit}, 2: {"BalanceTooLow", chain.ErrInsufficientBalance},
	3: {"SubnetNotExists", chain.ErrUnknownNetuid}, 4: {"HotkeyAccountDoesntExist", chain.ErrNotRegistered},
	6: {"RateLimitExceeded", chain.ErrRateLimited}, 10: {"HotKeyNotRegisteredInNetwork", chain.ErrNotRegistered},
	12: {"ServingRateLimitExceeded", chain.ErrRateLimited}, 16: {"CommitNotFound", chain.ErrCommitReveal},
	17: {"CommitBlockNotInRevealRange", chain.ErrCommitReveal}, 18: {"InputLengthsUnequal", chain.ErrInvalidWeights},
	19: {"UidNotFound", chain.ErrInvalidWeights},
}

var customRe = regexp.MustCompile(`(?i)custom(?: error)?"?\s*[:(]\s*(\d+)`)

// poolError maps an author_submitExtrinsic failure to sentinels.
func poolError(err error) error {
	var re *RPCError
	if !errors.As(err, &re) {
		return err
	}
	text := re.Message + " " + string(re.Data)
	if m := customRe.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		if ck, ok := customKinds[n]; ok {
			return fmt.Errorf("%w: %w: %s: %w", chain.ErrTxRejected, ck.kind, ck.name, err)
		}
	}
	lower := strings.ToLower(text)
	switch {
	case re.Code == 1013 || re.Code == 1014: // already imported / priority too low: the nonce is taken
		return fmt.Errorf("%w: %w: %w", chain.ErrTxRejected, errNonceLow, err)
	case strings.Contains(lower, "payment"):
		return fmt.Errorf("%w: %w: %w", chain.ErrTxRejected, chain.ErrInsufficientBalance, err)
	case strings.Contains(lower, "stale"):
		return fmt.Errorf("%w: %w: %w", chain.ErrTxRejected, errNonceLow, err)
	case strings.Contains(lower, "future"):
		return fmt.Errorf("%w: %w: %w", chain.ErrTxRejected, errNonceHigh, err)
	}
	return fmt.Errorf("%w: %w", chain.ErrTxRejected, err)
}

var (
	errBadNonce  = errors.New("nonce out of order")
	errNonceLow  = fmt.Errorf("%w: already used", errBadNonce)
	errNonceHigh = fmt.Errorf("%w: ahead of the account", errBadNonce)
)

// Submit signs call with the client's signer, submits it, waits for its
// inclusion and returns the receipt. A failed dispatch (including a failed
// sudo inner call) is returned as a *chain.ModuleError wrapping a sentinel.
func (c *Client) Submit(ctx context.Context, call []byte) (*Receipt, error) {
	if c.signer == nil {
		return nil, fmt.Errorf("submit extrinsic: %w", chain.ErrNoSigner)
	}
	who := c.signer.AccountID()
	l := c.nonces.lock(who)
	l.Lock()
	defer l.Unlock()
	r, err := c.submitLocked(ctx, call, who)
	for try := 0; try < 3 && errors.Is(err, errBadNonce); try++ {
		c.log.Debug("substrate: retrying with another nonce", "account", who.String(), "err", err)
		r, err = c.submitLocked(ctx, call, who)
	}
	return r, err
}

// submitLocked submits once. The nonce is the larger of the node's
// system_accountNextIndex and the local counter; a "nonce used" rejection
// moves the local counter past it, a "nonce ahead" rejection drops it.
func (c *Client) submitLocked(ctx context.Context, call []byte, who chain.AccountID) (*Receipt, error) {
	rt, err := c.snapshot(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("submit extrinsic: %w", err)
	}
	m, spec, txv, genesis := rt.meta, rt.specVersion, rt.txVersion, rt.genesis
	var chainNonce uint32
	if err := c.Call(ctx, &chainNonce, "system_accountNextIndex", who.String()); err != nil {
		return nil, fmt.Errorf("submit extrinsic: read nonce: %w", err)
	}
	c.nonces.mu.Lock()
	nonce := chainNonce
	if local, ok := c.nonces.next[who]; ok && local > nonce {
		nonce = local
	}
	c.nonces.mu.Unlock()

	cur, curHash, err := c.head(ctx)
	if err != nil {
		return nil, fmt.Errorf("submit extrinsic: %w", err)
	}
	era := MortalEra(cur, c.opts.EraPeriod)
	birth := era.Birth(cur)
	birthHash := curHash
	if birth != cur {
		if birthHash, err = c.BlockHash(ctx, birth); err != nil {
			return nil, fmt.Errorf("submit extrinsic: era birth block: %w", err)
		}
	}
	xt, err := m.SignExtrinsic(c.signer, call, SignedParams{SpecVersion: spec, TxVersion: txv, Genesis: genesis,
		Era: era, BirthHash: birthHash, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("submit extrinsic: %w", err)
	}
	hash := ExtrinsicHash(xt)
	var got string
	if err := c.callOnce(ctx, &got, "author_submitExtrinsic", hexOf(xt)); err != nil {
		err = poolError(err)
		c.nonces.mu.Lock()
		switch {
		case errors.Is(err, errNonceLow):
			c.nonces.next[who] = nonce + 1
		case errors.Is(err, errNonceHigh):
			delete(c.nonces.next, who)
		}
		c.nonces.mu.Unlock()
		return nil, fmt.Errorf("submit extrinsic %s: %w", callName(m, call), err)
	}
	c.nonces.mu.Lock()
	c.nonces.next[who] = nonce + 1
	c.nonces.mu.Unlock()
	c.log.Debug("substrate: submitted", "call", callName(m, call), "hash", hexOf(hash[:]), "nonce", nonce, "at", cur)

	r, err := c.waitInclusion(ctx, xt, hash, cur, birth+era.Period)
	if err != nil {
		// The extrinsic may still be pending or may have been dropped; the
		// node's pool-aware next index knows better than the local counter.
		c.nonces.mu.Lock()
		delete(c.nonces.next, who)
		c.nonces.mu.Unlock()
		return nil, fmt.Errorf("submit extrinsic %s: %w", callName(m, call), err)
	}
	if err := m.receiptError(r); err != nil {
		return r, fmt.Errorf("extrinsic %s in block %d: %w", callName(m, call), r.Block, err)
	}
	return r, nil
}

func callName(m *Metadata, call []byte) string {
	if len(call) < 2 {
		return "?"
	}
	p, err := m.PalletByIndex(call[0])
	if err != nil || p.Calls == nil {
		return fmt.Sprintf("%d/%d", call[0], call[1])
	}
	for _, v := range m.Types[*p.Calls].Variants {
		if v.Index == call[1] {
			name := p.Name + "." + v.Name
			if p.Name == "Sudo" && len(call) > 4 {
				name += "(" + callName(m, call[2:]) + ")"
			}
			return name
		}
	}
	return fmt.Sprintf("%s/%d", p.Name, call[1])
}

// receiptError returns the dispatch error of a receipt, if any.
func (m *Metadata) receiptError(r *Receipt) error {
	for i := range r.Events {
		e := &r.Events[i]
		switch {
		case e.Pallet == "System" && e.Name == "ExtrinsicFailed":
			if de, ok := e.Fields.Field("dispatch_error"); ok {
				return m.dispatchError(de)
			}
			if len(e.Fields.Fields) > 0 {
				return m.dispatchError(&e.Fields.Fields[0])
			}
			return chain.ErrDispatchFailed
		case e.Pallet == "Sudo" && (e.Name == "Sudid" || e.Name == "SudoAsDone"):
			if len(e.Fields.Fields) == 1 && e.Fields.Fields[0].Name == "Err" && len(e.Fields.Fields[0].Fields) == 1 {
				return fmt.Errorf("sudo: %w", m.dispatchError(&e.Fields.Fields[0].Fields[0]))
			}
		}
	}
	return nil
}

// waitInclusion polls new blocks from after block `from` until the
// extrinsic appears, the era expires or ctx ends.
func (c *Client) waitInclusion(ctx context.Context, xt []byte, hash [32]byte, from, expires uint64) (*Receipt, error) {
	next := from + 1
	start := time.Now()
	wait := 100 * time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		head, err := c.BlockNumber(ctx)
		if err != nil {
			return nil, fmt.Errorf("wait for inclusion: %w", err)
		}
		for ; next <= uint64(head); next++ {
			bh, err := c.BlockHash(ctx, next)
			if errors.Is(err, chain.ErrNotFound) {
				continue // a height a dev node skipped (chopsticks unsafeBlockHeight)
			}
			if err != nil {
				return nil, fmt.Errorf("wait for inclusion: %w", err)
			}
			var blk struct {
				Block struct {
					Extrinsics []string `json:"extrinsics"`
				} `json:"block"`
			}
			if err := c.Call(ctx, &blk, "chain_getBlock", hexOf(bh[:])); err != nil {
				return nil, fmt.Errorf("wait for inclusion: %w", err)
			}
			for i, xs := range blk.Block.Extrinsics {
				b, err := parseHex(xs)
				if err != nil || !bytes.Equal(b, xt) {
					continue
				}
				evs, err := c.Events(ctx, bh)
				if err != nil {
					return nil, fmt.Errorf("read events of block %d: %w", next, err)
				}
				r := &Receipt{Hash: hash, Block: next, BlockHash: bh, Index: i}
				for _, e := range evs {
					if e.Extrinsic == i {
						r.Events = append(r.Events, e)
					}
				}
				return r, nil
			}
		}
		if uint64(head) > expires {
			return nil, fmt.Errorf("wait for inclusion of 0x%x: era expired at block %d without inclusion: %w", hash, expires, chain.ErrTxRejected)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for inclusion of 0x%x: %w", hash, ctx.Err())
		case <-t.C:
			if time.Since(start) > 5*time.Second {
				wait = PollInterval
			}
			t.Reset(wait)
		}
	}
}

// BuildCall encodes pallet.name with pre-encoded args, checking the call
// index, the number of arguments and the size of fixed-size arguments
// against the metadata.
func (m *Metadata) BuildCall(pallet, name string, args ...[]byte) ([]byte, error) {
	v, idx, err := m.Call(pallet, name)
	if err != nil {
		return nil, err
	}
	if len(v.Fields) != len(args) {
		return nil, fmt.Errorf("build call %s.%s: %d arguments, runtime wants %d: %w", pallet, name, len(args), len(v.Fields), ErrMetadata)
	}
	out := append([]byte(nil), idx[:]...)
	for i, a := range args {
		if want := m.fixedSize(v.Fields[i].Type, 0); want >= 0 && want != len(a) {
			return nil, fmt.Errorf("build call %s.%s: argument %q is %d bytes, runtime type takes %d: %w", pallet, name, v.Fields[i].Name, len(a), want, ErrMetadata)
		}
		out = append(out, a...)
	}
	return out, nil
}

// fixedSize returns the encoded size of fixed-size types, or -1.
func (m *Metadata) fixedSize(id uint32, _ int) int {
	if int(id) >= len(m.fixed) {
		return -1
	}
	return m.fixed[id]
}

// Tx builds pallet.name from args and submits it.
func (c *Client) Tx(ctx context.Context, pallet, name string, args ...[]byte) (*Receipt, error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return nil, err
	}
	call, err := m.BuildCall(pallet, name, args...)
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, call)
}

// Sudo wraps pallet.name(args) in Sudo.sudo and submits it (the signer must be the sudo key).
func (c *Client) Sudo(ctx context.Context, pallet, name string, args ...[]byte) (*Receipt, error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return nil, err
	}
	inner, err := m.BuildCall(pallet, name, args...)
	if err != nil {
		return nil, err
	}
	_, idx, err := m.Call("Sudo", "sudo")
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, append(idx[:], inner...))
}

// SudoBatch submits Sudo.sudo(Utility.batch_all(calls)): every call
// (built with Metadata.BuildCall) succeeds, or none does.
func (c *Client) SudoBatch(ctx context.Context, calls ...[]byte) (*Receipt, error) {
	arg := scale.AppendCompact(nil, uint64(len(calls)))
	for _, call := range calls {
		arg = append(arg, call...)
	}
	return c.Sudo(ctx, "Utility", "batch_all", arg)
}

// Commit publishes data as a Raw commitment (Commitments.set_commitment).
func (c *Client) Commit(ctx context.Context, netuid chain.NetUID, data string) (chain.BlockNumber, error) {
	info, err := EncodeCommitmentInfo([]byte(data))
	if err != nil {
		return 0, err
	}
	r, err := c.Tx(ctx, "Commitments", "set_commitment", u16le(uint16(netuid)), info)
	if err != nil {
		return 0, fmt.Errorf("commit on subnet %d: %w", netuid, c.subnetErr(ctx, netuid, err))
	}
	return chain.BlockNumber(r.Block), nil
}

func vecU16(v []uint16) []byte { return new(scale.Encoder).VecU16(v).Bytes() }

func uidsU16(uids []chain.UID) []uint16 {
	out := make([]uint16, len(uids))
	for i, u := range uids {
		out[i] = uint16(u)
	}
	return out
}

func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// SetWeights submits SubtensorModule.set_weights with u16 values.
func (c *Client) SetWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values []uint16, versionKey uint64) (chain.BlockNumber, error) {
	if len(uids) != len(values) {
		return 0, fmt.Errorf("set weights on subnet %d: %d uids but %d values: %w", netuid, len(uids), len(values), chain.ErrInvalidWeights)
	}
	r, err := c.Tx(ctx, "SubtensorModule", "set_weights", u16le(uint16(netuid)), vecU16(uidsU16(uids)), vecU16(values), u64le(versionKey))
	if err != nil {
		return 0, fmt.Errorf("set weights on subnet %d: %w", netuid, c.subnetErr(ctx, netuid, err))
	}
	return chain.BlockNumber(r.Block), nil
}

// CommitWeights submits SubtensorModule.commit_weights (hash variant).
func (c *Client) CommitWeights(ctx context.Context, netuid chain.NetUID, hash [32]byte) (chain.BlockNumber, error) {
	r, err := c.Tx(ctx, "SubtensorModule", "commit_weights", u16le(uint16(netuid)), hash[:])
	if err != nil {
		return 0, fmt.Errorf("commit weights on subnet %d: %w", netuid, c.subnetErr(ctx, netuid, err))
	}
	return chain.BlockNumber(r.Block), nil
}

// RevealWeights submits SubtensorModule.reveal_weights.
func (c *Client) RevealWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values, salt []uint16, versionKey uint64) (chain.BlockNumber, error) {
	r, err := c.Tx(ctx, "SubtensorModule", "reveal_weights", u16le(uint16(netuid)), vecU16(uidsU16(uids)), vecU16(values), vecU16(salt), u64le(versionKey))
	if err != nil {
		return 0, fmt.Errorf("reveal weights on subnet %d: %w", netuid, c.subnetErr(ctx, netuid, err))
	}
	return chain.BlockNumber(r.Block), nil
}

// Register burns TAO from the signer (coldkey) to register hotkey on netuid
// (SubtensorModule.burned_register) and returns its uid.
func (c *Client) Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.UID, error) {
	if _, err := c.Tx(ctx, "SubtensorModule", "burned_register", u16le(uint16(netuid)), hotkey[:]); err != nil {
		return 0, fmt.Errorf("register %s on subnet %d: %w", hotkey, netuid, c.subnetErr(ctx, netuid, err))
	}
	return c.UID(ctx, netuid, hotkey)
}

// RegisterNetwork creates a subnet owned by the signer with hotkey as owner
// hotkey and returns its netuid.
func (c *Client) RegisterNetwork(ctx context.Context, hotkey chain.Hotkey) (chain.NetUID, error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return 0, err
	}
	v, _, err := m.Call("SubtensorModule", "register_network")
	if err != nil {
		return 0, err
	}
	args := [][]byte{hotkey[:]}
	if len(v.Fields) == 2 { // spec ≤ 218: (hotkey, mechid)
		args = append(args, u16le(1))
	}
	r, err := c.Tx(ctx, "SubtensorModule", "register_network", args...)
	if err != nil {
		return 0, fmt.Errorf("register network: %w", err)
	}
	if e, ok := r.Event("SubtensorModule", "NetworkAdded"); ok && len(e.Fields.Fields) > 0 {
		return chain.NetUID(e.Fields.Fields[0].Uint), nil
	}
	return 0, fmt.Errorf("register network: no NetworkAdded event in block %d: %w", r.Block, chain.ErrDispatchFailed)
}

// Transfer sends amount rao from the signer to dest (Balances.transfer_keep_alive).
func (c *Client) Transfer(ctx context.Context, dest chain.AccountID, amount uint64) error {
	addr := append([]byte{0}, dest[:]...) // MultiAddress::Id
	if _, err := c.Tx(ctx, "Balances", "transfer_keep_alive", addr, scale.AppendCompact(nil, amount)); err != nil {
		return fmt.Errorf("transfer to %s: %w", dest, err)
	}
	return nil
}

// subnetErr adds ErrUnknownNetuid to a failed write when the subnet does not
// exist, since the runtime often reports that as "not registered".
func (c *Client) subnetErr(ctx context.Context, netuid chain.NetUID, err error) error {
	if errors.Is(err, chain.ErrUnknownNetuid) || ctx.Err() != nil {
		return err
	}
	var me *chain.ModuleError
	if !errors.As(err, &me) && !errors.Is(err, chain.ErrTxRejected) {
		return err
	}
	if ok, e := c.SubnetExists(ctx, netuid, nil); e == nil && !ok {
		return fmt.Errorf("subnet %d: %w: %w", netuid, chain.ErrUnknownNetuid, err)
	}
	return err
}
