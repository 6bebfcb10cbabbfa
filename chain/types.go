package chain

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// AccountID is a 32-byte Substrate account id: an sr25519 (or ed25519) public key.
type AccountID [32]byte

// Hotkey is the account id a neuron is registered under on a subnet.
type Hotkey = AccountID

// Coldkey is the account id that owns (and pays for) hotkeys.
type Coldkey = AccountID

// String returns the SS58 address of a with the Bittensor prefix 42.
func (a AccountID) String() string { return EncodeSS58(a, SS58Prefix) }

// Hex returns a as 0x-prefixed lowercase hex.
func (a AccountID) Hex() string { return "0x" + hex.EncodeToString(a[:]) }

// IsZero reports whether every byte of a is zero.
func (a AccountID) IsZero() bool { return a == AccountID{} }

// MarshalText encodes a as its SS58 address (prefix 42).
func (a AccountID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText accepts an SS58 address (any prefix) or 0x-prefixed hex.
func (a *AccountID) UnmarshalText(b []byte) error {
	v, err := ParseAccountID(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAccountID parses an SS58 address (any prefix) or a 0x-prefixed 64-digit hex string.
func ParseAccountID(s string) (AccountID, error) {
	var a AccountID
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return a, fmt.Errorf("parse account id %q: %w", s, err)
		}
		if len(b) != len(a) {
			return a, fmt.Errorf("parse account id %q: %d bytes, want 32", s, len(b))
		}
		copy(a[:], b)
		return a, nil
	}
	a, _, err := DecodeSS58(s)
	return a, err
}

// AccountIDFromBytes copies a 32-byte slice into an AccountID.
func AccountIDFromBytes(b []byte) (AccountID, error) {
	var a AccountID
	if len(b) != len(a) {
		return a, fmt.Errorf("account id: %d bytes, want 32", len(b))
	}
	copy(a[:], b)
	return a, nil
}

// BlockNumber is a block height. The chain stores u32 block numbers and some
// u64 copies (LastUpdate); both fit.
type BlockNumber uint64

// NetUID identifies a subnet.
type NetUID uint16

// UID identifies a neuron slot within a subnet.
type UID uint16

// AxonInfo is the served endpoint of a neuron.
type AxonInfo struct {
	Block    uint64 `json:"block"`
	Version  uint32 `json:"version"`
	IP       string `json:"ip"` // dotted IPv4 or IPv6 text; "0.0.0.0" when unset
	Port     uint16 `json:"port"`
	IPType   uint8  `json:"ip_type"`
	Protocol uint8  `json:"protocol"`
}

// Neuron is one registered uid of a subnet, as the SDK's NeuronInfoLite. The
// u16-scaled metrics (Rank, Trust, ...) are raw chain values: 65535 means 1.0.
type Neuron struct {
	UID             UID         `json:"uid"`
	Netuid          NetUID      `json:"netuid"`
	Hotkey          Hotkey      `json:"hotkey"`
	Coldkey         Coldkey     `json:"coldkey"`
	Active          bool        `json:"active"`
	Stake           uint64      `json:"stake"` // rao (1e-9 TAO), summed over stakers
	Rank            uint16      `json:"rank"`
	Emission        uint64      `json:"emission"`
	Incentive       uint16      `json:"incentive"`
	Consensus       uint16      `json:"consensus"`
	Trust           uint16      `json:"trust"`
	ValidatorTrust  uint16      `json:"validator_trust"`
	Dividends       uint16      `json:"dividends"`
	LastUpdate      BlockNumber `json:"last_update"`
	ValidatorPermit bool        `json:"validator_permit"`
	PruningScore    uint16      `json:"pruning_score"`
	Axon            AxonInfo    `json:"axon"`
}

// Metagraph is the set of neurons of a subnet at a block.
type Metagraph struct {
	Netuid  NetUID      `json:"netuid"`
	Block   BlockNumber `json:"block"`
	Neurons []Neuron    `json:"neurons"`
}

// ByHotkey returns the neuron registered under h, if any.
func (m *Metagraph) ByHotkey(h Hotkey) (Neuron, bool) {
	for _, n := range m.Neurons {
		if n.Hotkey == h {
			return n, true
		}
	}
	return Neuron{}, false
}

// ByUID returns the neuron with uid u, if any.
func (m *Metagraph) ByUID(u UID) (Neuron, bool) {
	for _, n := range m.Neurons {
		if n.UID == u {
			return n, true
		}
	}
	return Neuron{}, false
}

// Commitment is the data a hotkey published on a subnet and the block in
// which it was last set.
type Commitment struct {
	Hotkey Hotkey      `json:"hotkey"`
	Block  BlockNumber `json:"block"`
	Data   string      `json:"data"`
}

// Weight is one (uid, value) entry of a weight row; Value is u16-scaled.
type Weight struct {
	UID   UID    `json:"uid"`
	Value uint16 `json:"value"`
}

// Weights is the weight row a neuron set, in chain order.
type Weights []Weight

// Map returns w as uid → value.
func (w Weights) Map() map[UID]uint16 {
	m := make(map[UID]uint16, len(w))
	for _, e := range w {
		m[e.UID] = e.Value
	}
	return m
}
