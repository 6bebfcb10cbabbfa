package substrate

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
)

// DefaultEraPeriod is the SDK's default mortality period in blocks.
const DefaultEraPeriod = 128

// Era is a transaction mortality window. The zero value is immortal.
type Era struct {
	Period uint64 // power of two in [4, 65536]; 0 means immortal
	Phase  uint64
}

// MortalEra returns the era valid from block current for about period blocks,
// rounding period up to a power of two in [4, 65536] as Substrate does.
func MortalEra(current, period uint64) Era {
	p := uint64(4)
	for p < period && p < 1<<16 {
		p <<= 1
	}
	phase := current % p
	q := max(p>>12, 1)
	return Era{Period: p, Phase: phase / q * q}
}

// Immortal reports whether the era never expires.
func (e Era) Immortal() bool { return e.Period == 0 }

// Encode returns the SCALE encoding: 0x00 for immortal, else two bytes.
func (e Era) Encode() []byte {
	if e.Immortal() {
		return []byte{0}
	}
	q := max(e.Period>>12, 1)
	tz := uint64(bits.TrailingZeros64(e.Period))
	v := min(max(tz, 2)-1, 15) | (e.Phase/q)<<4
	return binary.LittleEndian.AppendUint16(nil, uint16(v))
}

// Birth returns the first block of the era that contains block current.
func (e Era) Birth(current uint64) uint64 {
	if e.Immortal() {
		return 0
	}
	return (max(current, e.Phase)-e.Phase)/e.Period*e.Period + e.Phase
}

// SignedParams are the chain facts and per-transaction values a signature covers.
type SignedParams struct {
	SpecVersion uint32
	TxVersion   uint32
	Genesis     [32]byte
	Era         Era
	BirthHash   [32]byte // hash of the era's birth block (genesis when immortal)
	Nonce       uint32
	Tip         uint64
}

// SignedExtras builds the explicit ("extra") and implicit ("additional signed")
// bytes of the runtime's signed-extension list. Extensions it does not know
// are accepted only when both parts are zero-sized.
func (m *Metadata) SignedExtras(p SignedParams) (extra, additional []byte, err error) {
	for _, ext := range m.Extensions {
		switch ext.Identifier {
		case "CheckSpecVersion":
			additional = binary.LittleEndian.AppendUint32(additional, p.SpecVersion)
		case "CheckTxVersion":
			additional = binary.LittleEndian.AppendUint32(additional, p.TxVersion)
		case "CheckGenesis":
			additional = append(additional, p.Genesis[:]...)
		case "CheckMortality", "CheckEra":
			extra = append(extra, p.Era.Encode()...)
			if p.Era.Immortal() {
				additional = append(additional, p.Genesis[:]...)
			} else {
				additional = append(additional, p.BirthHash[:]...)
			}
		case "CheckNonce":
			extra = scale.AppendCompact(extra, uint64(p.Nonce))
		case "ChargeTransactionPayment", "ChargeTransactionPaymentWrapper":
			extra = scale.AppendCompact(extra, p.Tip)
		case "CheckMetadataHash":
			extra = append(extra, 0)           // mode: disabled
			additional = append(additional, 0) // Option<[u8;32]>: None
		default:
			if !m.zeroSized(ext.Type, 0) || !m.zeroSized(ext.AdditionalSigned, 0) {
				return nil, nil, fmt.Errorf("build extrinsic: unsupported signed extension %q: %w", ext.Identifier, ErrMetadata)
			}
		}
	}
	return extra, additional, nil
}

func (m *Metadata) zeroSized(id uint32, _ int) bool {
	return int(id) < len(m.zero) && m.zero[id]
}

// SigningPayload returns the bytes to sign: call ++ extra ++ additional,
// replaced by its blake2_256 when longer than 256 bytes.
func SigningPayload(call, extra, additional []byte) []byte {
	p := make([]byte, 0, len(call)+len(extra)+len(additional))
	p = append(append(append(p, call...), extra...), additional...)
	if len(p) > 256 {
		h := Blake2_256(p)
		return h[:]
	}
	return p
}

// AssembleSigned returns the v4 signed extrinsic with its compact length
// prefix: 0x84, MultiAddress::Id(signer), MultiSignature::Sr25519(sig), extra, call.
func AssembleSigned(signer chain.AccountID, sig, extra, call []byte) ([]byte, error) {
	if len(sig) != 64 {
		return nil, fmt.Errorf("assemble extrinsic: signature of %d bytes, want 64", len(sig))
	}
	body := make([]byte, 0, 1+1+32+1+64+len(extra)+len(call))
	body = append(body, 0x84, 0x00)
	body = append(body, signer[:]...)
	body = append(body, 0x01)
	body = append(body, sig...)
	body = append(append(body, extra...), call...)
	return append(scale.AppendCompact(nil, uint64(len(body))), body...), nil
}

// SignExtrinsic builds, signs and assembles a signed extrinsic for call.
func (m *Metadata) SignExtrinsic(s chain.Signer, call []byte, p SignedParams) ([]byte, error) {
	extra, additional, err := m.SignedExtras(p)
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(SigningPayload(call, extra, additional))
	if err != nil {
		return nil, fmt.Errorf("sign extrinsic: %w", err)
	}
	return AssembleSigned(s.AccountID(), sig, extra, call)
}

// ExtrinsicHash returns blake2_256 of the full extrinsic bytes (length prefix included).
func ExtrinsicHash(xt []byte) [32]byte { return Blake2_256(xt) }
