package timelock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/coldint/coldint/chain/scale"
)

// Names and limits of the chain call that carries a timelocked commit.
const (
	// Pallet and Call name SubtensorModule.commit_timelocked_weights (call
	// index 113 in current runtimes; absent from spec 218).
	Pallet = "SubtensorModule"
	Call   = "commit_timelocked_weights"
	// MaxCommitBytes is the chain's bound on the commit argument.
	MaxCommitBytes = 5000
	// CommitRevealVersion is the version current runtimes expect (storage
	// CommitRevealWeightsVersion); the chain refuses any other value.
	CommitRevealVersion uint16 = 4
)

// ErrPayload reports a weights payload that cannot be committed.
var ErrPayload = errors.New("invalid timelocked weights payload")

// Payload is what the chain decrypts and decodes when it reveals a commit
// (WeightsTlockPayload in the pallet): the committing hotkey's 32-byte
// public key, the weight row and the version key. SCALE: Vec<u8> hotkey,
// Vec<u16> uids, Vec<u16> values, u64 version key.
type Payload struct {
	Hotkey     [32]byte
	UIDs       []uint16
	Values     []uint16
	VersionKey uint64
}

// Encode returns the payload's SCALE bytes.
func (p *Payload) Encode() ([]byte, error) {
	if len(p.UIDs) != len(p.Values) {
		return nil, fmt.Errorf("encode payload: %d uids but %d values: %w", len(p.UIDs), len(p.Values), ErrPayload)
	}
	e := new(scale.Encoder)
	e.VecU8(p.Hotkey[:]).VecU16(p.UIDs).VecU16(p.Values).U64(p.VersionKey)
	return e.Bytes(), nil
}

// DecodePayload reads a payload's SCALE bytes (all of them).
func DecodePayload(b []byte) (Payload, error) {
	var p Payload
	d := scale.NewDecoder(b)
	hk := d.VecU8()
	p.UIDs = d.VecU16()
	p.Values = d.VecU16()
	p.VersionKey = d.U64()
	if err := d.Finish(); err != nil {
		return Payload{}, fmt.Errorf("decode payload: %v: %w", err, ErrPayload)
	}
	if len(hk) != len(p.Hotkey) {
		return Payload{}, fmt.Errorf("decode payload: hotkey is %d bytes, want 32: %w", len(hk), ErrPayload)
	}
	if len(p.UIDs) != len(p.Values) {
		return Payload{}, fmt.Errorf("decode payload: %d uids but %d values: %w", len(p.UIDs), len(p.Values), ErrPayload)
	}
	copy(p.Hotkey[:], hk)
	return p, nil
}

// EncryptPayload encodes p and timelocks it to round, checking that the
// result fits the chain's commit bound.
func EncryptPayload(pk PublicKey, round uint64, p *Payload, rand io.Reader) ([]byte, error) {
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	ct, err := Encrypt(pk, round, b, rand)
	if err != nil {
		return nil, err
	}
	if len(ct) > MaxCommitBytes {
		return nil, fmt.Errorf("encrypt payload of %d uids: commit is %d bytes, the chain takes at most %d: %w", len(p.UIDs), len(ct), MaxCommitBytes, ErrPayload)
	}
	return ct, nil
}

// CallArgs returns the SCALE-encoded arguments of
// SubtensorModule.commit_timelocked_weights, in order: netuid u16, commit
// BoundedVec<u8> (compact length, bytes), reveal_round u64 and
// commit_reveal_version u16. They are what substrate's Metadata.BuildCall
// takes after the pallet and call names.
func CallArgs(netuid uint16, commit []byte, revealRound uint64, version uint16) ([][]byte, error) {
	if len(commit) == 0 || len(commit) > MaxCommitBytes {
		return nil, fmt.Errorf("encode %s arguments: commit is %d bytes, want 1 to %d: %w", Call, len(commit), MaxCommitBytes, ErrPayload)
	}
	if revealRound == 0 {
		return nil, fmt.Errorf("encode %s arguments: reveal round 0: %w", Call, ErrPayload)
	}
	return [][]byte{
		binary.LittleEndian.AppendUint16(nil, netuid),
		new(scale.Encoder).VecU8(commit).Bytes(),
		binary.LittleEndian.AppendUint64(nil, revealRound),
		binary.LittleEndian.AppendUint16(nil, version),
	}, nil
}

// GenerateCommit does what the reference SDK's generate_commit does: it
// computes the reveal round from rp (with the beacon's genesis and period
// taken from info) and timelocks the payload to it. It returns the commit
// bytes and the round, ready for CallArgs.
func GenerateCommit(info ChainInfo, rp RevealParams, p *Payload, rand io.Reader) ([]byte, uint64, error) {
	switch {
	case info.Scheme != QuicknetScheme:
		return nil, 0, fmt.Errorf("generate commit: beacon scheme %q, only %q is supported: %w", info.Scheme, QuicknetScheme, ErrPayload)
	case info.Period <= 0:
		return nil, 0, fmt.Errorf("generate commit: beacon period %v: %w", info.Period, ErrPayload)
	case rp.BlockTime <= 0:
		return nil, 0, fmt.Errorf("generate commit: block time %v: %w", rp.BlockTime, ErrPayload)
	case rp.Now.IsZero():
		return nil, 0, fmt.Errorf("generate commit: no current time: %w", ErrPayload)
	}
	rp.Genesis, rp.Period = info.Genesis, info.Period
	round := RevealRound(rp)
	ct, err := EncryptPayload(info.PublicKey, round, p, rand)
	if err != nil {
		return nil, 0, err
	}
	return ct, round, nil
}
