package timelock

import (
	"bytes"
	"crypto/sha512"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/coldint/coldint/chain"
	bls "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// ChainInfo describes a drand beacon chain: its public key, when round 1
// was emitted and how often rounds follow.
type ChainInfo struct {
	// PublicKey is the beacon's key (G2).
	PublicKey PublicKey
	// Genesis is the time of round 1, in Unix seconds.
	Genesis int64
	// Period is the time between rounds.
	Period time.Duration
	// Scheme names the signature scheme; only quicknet's is supported.
	Scheme string
	// Hash is the chain hash drand serves the rounds under.
	Hash string
}

// QuicknetScheme is the scheme of drand quicknet: unchained signatures on
// G1 (hashed as RFC 9380 says), public key on G2.
const QuicknetScheme = "bls-unchained-g1-rfc9380"

// Values of drand quicknet, the beacon subtensor follows, as drand
// publishes them at /<hash>/info and as bittensor-drand embeds them.
const (
	QuicknetPublicKeyHex = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
	QuicknetGenesis      = 1692803367
	QuicknetPeriod       = 3 * time.Second
	QuicknetHash         = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
)

// Quicknet returns the chain info of drand quicknet.
func Quicknet() ChainInfo {
	pk, err := ParsePublicKeyHex(QuicknetPublicKeyHex)
	if err != nil {
		panic("timelock: the embedded quicknet key does not parse: " + err.Error())
	}
	return ChainInfo{PublicKey: pk, Genesis: QuicknetGenesis, Period: QuicknetPeriod, Scheme: QuicknetScheme, Hash: QuicknetHash}
}

// VerifySignature reports whether sig is pk's signature of round
// (e(sig, G2) = e(H(round), pk)); it returns nil when it is.
func VerifySignature(pk PublicKey, round uint64, sig []byte) error {
	s, err := parseSignature(sig)
	if err != nil {
		return fmt.Errorf("verify round %d: %w", round, err)
	}
	q, err := identityPoint(round)
	if err != nil {
		return err
	}
	_, _, _, g2 := bls.Generators()
	var negG2 bls.G2Affine
	negG2.Neg(&g2)
	ok, err := bls.PairingCheck([]bls.G1Affine{*s, q}, []bls.G2Affine{negG2, pk.p})
	if err != nil || !ok {
		return fmt.Errorf("verify round %d: not the beacon's signature: %w", round, ErrSignature)
	}
	return nil
}

// TestBeacon is a beacon whose secret key is known, for tests: it signs
// rounds as drand quicknet does. Never use it for real commits.
type TestBeacon struct {
	secret *big.Int
	info   ChainInfo
}

// NewTestBeacon draws a secret key from rand and returns a beacon with
// quicknet's genesis, period and scheme and its own public key.
func NewTestBeacon(rand io.Reader) (*TestBeacon, error) {
	var s fr.Element
	var buf [48]byte
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return nil, fmt.Errorf("make test beacon: read randomness: %w", err)
	}
	s.SetBytes(buf[:])
	if s.IsZero() {
		s.SetOne()
	}
	secret := s.BigInt(new(big.Int))
	var pk bls.G2Affine
	pk.ScalarMultiplicationBase(secret)
	info := Quicknet()
	info.PublicKey = PublicKey{p: pk}
	info.Hash = ""
	return &TestBeacon{secret: secret, info: info}, nil
}

// Info returns the beacon's chain info.
func (b *TestBeacon) Info() ChainInfo { return b.info }

// Sign returns the beacon's 48-byte signature of round.
func (b *TestBeacon) Sign(round uint64) ([]byte, error) {
	q, err := identityPoint(round)
	if err != nil {
		return nil, err
	}
	var s bls.G1Affine
	s.ScalarMultiplication(&q, b.secret)
	out := s.Bytes()
	return out[:], nil
}

// FromBeaconInfo returns the chain info of a beacon a chain reports,
// checking its key, period and scheme.
func FromBeaconInfo(b chain.BeaconInfo) (ChainInfo, error) {
	pk, err := ParsePublicKey(b.PublicKey)
	if err != nil {
		return ChainInfo{}, fmt.Errorf("read chain beacon: %w", err)
	}
	if b.Period <= 0 {
		return ChainInfo{}, fmt.Errorf("read chain beacon: period %v: %w", b.Period, ErrPublicKey)
	}
	if b.Scheme != QuicknetScheme {
		return ChainInfo{}, fmt.Errorf("read chain beacon: scheme %q, only %q is supported: %w", b.Scheme, QuicknetScheme, ErrPublicKey)
	}
	return ChainInfo{PublicKey: pk, Genesis: b.Genesis, Period: b.Period, Scheme: b.Scheme, Hash: b.Hash}, nil
}

// BeaconInfo returns info in the chain package's form.
func (info ChainInfo) BeaconInfo() chain.BeaconInfo {
	return chain.BeaconInfo{PublicKey: info.PublicKey.Bytes(), Genesis: info.Genesis, Period: info.Period, Scheme: info.Scheme, Hash: info.Hash}
}

// NewTestBeaconFromSeed returns a test beacon whose secret key is derived
// from seed alone: the same seed gives the same beacon.
func NewTestBeaconFromSeed(seed []byte) (*TestBeacon, error) {
	h := sha512.Sum512(append([]byte("coldint test beacon:"), seed...))
	return NewTestBeacon(bytes.NewReader(h[:]))
}
