package substrate

import (
	"fmt"
	"net/netip"
	"unicode/utf8"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
)

// Commitment Data variants (pallet-commitments types.rs).
const (
	dataNone      = 0x00
	dataRawMax    = 0x81 // Raw128
	dataHashFirst = 0x82 // BlakeTwo256 .. ShaThree256
	dataHashLast  = 0x85
	dataTimelock  = 0x86
	dataResetFlag = 0x87
	dataBigRaw    = 0x88
)

// EncodeCommitmentInfo encodes CommitmentInfo{fields: [Raw(data)]} for
// Commitments.set_commitment. data must be at most 128 bytes.
func EncodeCommitmentInfo(data []byte) ([]byte, error) {
	if len(data) > chain.MaxCommitmentLen {
		return nil, fmt.Errorf("encode commitment: %d bytes, over %d: %w", len(data), chain.MaxCommitmentLen, chain.ErrTooLarge)
	}
	out := []byte{0x04, byte(len(data) + 1)}
	return append(out, data...), nil
}

// DataField is one decoded commitment Data item.
type DataField struct {
	Kind  byte   // the variant byte (Raw lengths are collapsed to 0x01)
	Bytes []byte // raw payload, hash, or ciphertext
}

// IsRaw reports whether the field is a Raw or BigRaw byte string.
func (f DataField) IsRaw() bool { return f.Kind == 0x01 || f.Kind == dataBigRaw }

func decodeData(d *scale.Decoder) DataField {
	k := d.U8()
	switch {
	case d.Err() != nil:
		return DataField{}
	case k == dataNone:
		return DataField{Kind: k}
	case k <= dataRawMax:
		return DataField{Kind: 0x01, Bytes: d.Raw(int(k) - 1)}
	case k >= dataHashFirst && k <= dataHashLast:
		return DataField{Kind: k, Bytes: d.Raw(32)}
	case k == dataTimelock:
		b := d.VecU8()
		d.U64()
		return DataField{Kind: k, Bytes: b}
	case k == dataResetFlag:
		return DataField{Kind: k}
	case k == dataBigRaw:
		return DataField{Kind: k, Bytes: d.VecU8()}
	}
	d.Failf("commitment data variant 0x%02x", k)
	return DataField{}
}

// Registration is the stored value of Commitments.CommitmentOf.
type Registration struct {
	Deposit uint64
	Block   uint32
	Fields  []DataField
}

// DecodeRegistration decodes Registration{deposit u64, block u32, info}.
func DecodeRegistration(b []byte) (Registration, error) {
	d := scale.NewDecoder(b)
	r := Registration{Deposit: d.U64(), Block: d.U32()}
	d.Vec(1, func(int) { r.Fields = append(r.Fields, decodeData(d)) })
	if err := d.Finish(); err != nil {
		return Registration{}, fmt.Errorf("decode commitment registration: %w", err)
	}
	return r, nil
}

// Text returns the first raw field as UTF-8, as the SDK's get_commitment.
func (r Registration) Text() (string, error) {
	for _, f := range r.Fields {
		if f.IsRaw() {
			if !utf8.Valid(f.Bytes) {
				return "", fmt.Errorf("commitment data is not UTF-8: %w", chain.ErrMalformedCommitment)
			}
			return string(f.Bytes), nil
		}
	}
	return "", fmt.Errorf("commitment has no raw field: %w", chain.ErrMalformedCommitment)
}

// DecodeNeuronsLite decodes the result of NeuronInfoRuntimeApi_get_neurons_lite:
// Vec<NeuronInfoLite>, or (spec ≤ 218) the same wrapped in a Vec<u8>.
func DecodeNeuronsLite(b []byte) ([]chain.Neuron, error) {
	d := scale.NewDecoder(b)
	if n := d.Compact(); d.Err() == nil && n > 0 && n == uint64(d.Remaining()) {
		b = b[d.Offset():] // the Vec<u8> wrapper of older runtimes
	}
	d = scale.NewDecoder(b)
	var out []chain.Neuron
	d.Vec(100, func(int) { out = append(out, decodeNeuronLite(d)) })
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode neurons: %w", err)
	}
	return out, nil
}

func decodeNeuronLite(d *scale.Decoder) chain.Neuron {
	var n chain.Neuron
	n.Hotkey = d.Array32()
	n.Coldkey = d.Array32()
	n.UID = chain.UID(compactU16(d))
	n.Netuid = chain.NetUID(compactU16(d))
	n.Active = d.Bool()
	// AxonInfo
	n.Axon.Block = d.U64()
	n.Axon.Version = d.U32()
	lo, hi := d.U128()
	n.Axon.Port = d.U16()
	n.Axon.IPType = d.U8()
	n.Axon.Protocol = d.U8()
	d.U8()
	d.U8()
	n.Axon.IP = ipString(lo, hi, n.Axon.IPType)
	// PrometheusInfo
	d.U64()
	d.U32()
	d.U128()
	d.U16()
	d.U8()
	d.Vec(33, func(int) {
		d.Array32()
		n.Stake += d.Compact()
	})
	n.Rank = compactU16(d)
	n.Emission = d.Compact()
	n.Incentive = compactU16(d)
	n.Consensus = compactU16(d)
	n.Trust = compactU16(d)
	n.ValidatorTrust = compactU16(d)
	n.Dividends = compactU16(d)
	n.LastUpdate = chain.BlockNumber(d.Compact())
	n.ValidatorPermit = d.Bool()
	n.PruningScore = compactU16(d)
	return n
}

func compactU16(d *scale.Decoder) uint16 {
	v := d.Compact()
	if v > 0xffff {
		d.Failf("compact %d does not fit u16", v)
		return 0
	}
	return uint16(v)
}

func ipString(lo, hi uint64, ipType uint8) string {
	if ipType == 6 {
		var b [16]byte
		for i := 0; i < 8; i++ {
			b[i] = byte(hi >> (56 - 8*i))
			b[8+i] = byte(lo >> (56 - 8*i))
		}
		return netip.AddrFrom16(b).String()
	}
	return netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)}).String()
}

// DecodeWeights decodes a Weights row: Vec<(u16, u16)>.
func DecodeWeights(b []byte) (chain.Weights, error) {
	d := scale.NewDecoder(b)
	w := chain.Weights{}
	d.Vec(4, func(int) { w = append(w, chain.Weight{UID: chain.UID(d.U16()), Value: d.U16()}) })
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode weights: %w", err)
	}
	return w, nil
}
