// Package keys holds sr25519 key pairs for signing Substrate extrinsics:
// derivation from BIP39 mnemonics (Substrate style) and secret URIs such as
// //Alice, and reading and writing bittensor wallet files.
//
// A [Pair] never reveals its secret through fmt, log/slog or encoding/json:
// its String, Format, GoString, LogValue and MarshalJSON methods print only
// the public SS58 address.
package keys

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/coldint/coldint/chain"
	"github.com/cosmos/go-bip39"
	subkey "github.com/vedhavyas/go-subkey/v2"
	"github.com/vedhavyas/go-subkey/v2/sr25519"
)

var _ chain.Signer = (*Pair)(nil)

// SS58Prefix is the SS58 address format of Bittensor (the generic Substrate 42).
const SS58Prefix = 42

// DevPhrase is the well-known development mnemonic behind //Alice, //Bob, ...
const DevPhrase = subkey.DevPhrase

// ErrInvalidKey reports a malformed seed, mnemonic, URI or public key.
var ErrInvalidKey = errors.New("invalid key")

// Pair is an sr25519 key pair. The zero value is not usable; build one with
// [FromURI], [FromMnemonic], [FromSeed] or [Generate]. A Pair is safe for
// concurrent use.
type Pair struct {
	// state hides everything behind a function: fmt prints a func value as
	// an address whatever the verb and depth, so even a Pair inside an
	// unexported struct field shows no secret.
	state func() *pairState
}

type pairState struct {
	kp  subkey.KeyPair
	pub [32]byte
	// mini is the 32-byte mini secret when known (not for soft derivations).
	mini []byte
	// phrase is the mnemonic when the pair was made from one with no
	// derivation path and no password; it is written to wallet files.
	phrase string
}

// FromURI derives a pair from a Substrate secret URI:
// "<mnemonic or 0x-hex seed>[//hard][/soft]...[///password]". A URI that
// starts with a path ("//Alice") uses [DevPhrase].
func FromURI(uri string) (*Pair, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return nil, fmt.Errorf("derive key from uri: empty uri: %w", ErrInvalidKey)
	}
	kp, err := subkey.DeriveKeyPair(sr25519.Scheme{}, uri)
	if err != nil {
		// The library's messages never contain the secret, but keep ours generic.
		return nil, fmt.Errorf("derive key from uri: %w: %v", ErrInvalidKey, err)
	}
	p, err := newPair(kp)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(uri, "/") && bip39.IsMnemonicValid(uri) {
		p.state().phrase = uri
	}
	return p, nil
}

// FromMnemonic derives the root pair of a BIP39 mnemonic the Substrate way:
// the mini secret is PBKDF2-HMAC-SHA512 of the mnemonic's entropy with salt
// "mnemonic"+password.
func FromMnemonic(phrase, password string) (*Pair, error) {
	phrase = strings.Join(strings.Fields(phrase), " ")
	if !bip39.IsMnemonicValid(phrase) {
		return nil, fmt.Errorf("derive key from mnemonic: not a valid bip39 mnemonic: %w", ErrInvalidKey)
	}
	kp, err := sr25519.Scheme{}.FromPhrase(phrase, password)
	if err != nil {
		return nil, fmt.Errorf("derive key from mnemonic: %w: %v", ErrInvalidKey, err)
	}
	p, err := newPair(kp)
	if err != nil {
		return nil, err
	}
	if password == "" {
		p.state().phrase = phrase
	}
	return p, nil
}

// FromSeed builds a pair from a 32-byte mini secret or a 64-byte expanded
// secret key (scalar then nonce, as schnorrkel's SecretKey::to_bytes).
func FromSeed(seed []byte) (*Pair, error) {
	if len(seed) != 32 && len(seed) != 64 {
		return nil, fmt.Errorf("build key from seed: seed has %d bytes, want 32 or 64: %w", len(seed), ErrInvalidKey)
	}
	s := append([]byte(nil), seed...)
	kp, err := sr25519.Scheme{}.FromSeed(s)
	if err != nil {
		return nil, fmt.Errorf("build key from seed: %w: %v", ErrInvalidKey, err)
	}
	return newPair(kp)
}

// Generate makes a new random pair from a fresh 12-word mnemonic, which the
// pair remembers so that [WriteKeyfile] can store it like bittensor does.
func Generate() (*Pair, error) {
	entropy, err := bip39.NewEntropy(128)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	phrase, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return FromMnemonic(phrase, "")
}

func newPair(kp subkey.KeyPair) (*Pair, error) {
	pub := kp.Public()
	if len(pub) != 32 {
		return nil, fmt.Errorf("build key: public key has %d bytes: %w", len(pub), ErrInvalidKey)
	}
	st := &pairState{kp: kp}
	copy(st.pub[:], pub)
	if s := kp.Seed(); len(s) == 32 {
		st.mini = append([]byte(nil), s...)
	}
	return &Pair{state: func() *pairState { return st }}, nil
}

// PublicKey returns the 32-byte sr25519 public key (the AccountId).
func (p Pair) PublicKey() [32]byte { return p.state().pub }

// AccountID returns the public key as a chain account id.
func (p Pair) AccountID() chain.AccountID { return chain.AccountID(p.state().pub) }

// Address returns the SS58 address with the Bittensor prefix 42.
func (p Pair) Address() string { return subkey.SS58Encode(p.state().pub[:], SS58Prefix) }

// Sign signs msg with the "substrate" signing context. sr25519 signatures
// are randomised: verify them, do not compare them.
func (p Pair) Sign(msg []byte) ([]byte, error) {
	sig, err := p.state().kp.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign message: %w", err)
	}
	return sig, nil
}

// Verify reports whether sig is a valid signature of msg by this pair.
func (p Pair) Verify(msg, sig []byte) bool { return p.state().kp.Verify(msg, sig) }

// Verify reports whether sig is a valid sr25519 signature of msg by pub.
func Verify(pub [32]byte, msg, sig []byte) bool {
	pk, err := sr25519.Scheme{}.FromPublicKey(pub[:])
	if err != nil {
		return false
	}
	return pk.Verify(msg, sig)
}

// String returns a description that holds only the public address.
func (p Pair) String() string {
	if p.state == nil {
		return "sr25519(<nil>)"
	}
	return "sr25519(" + p.Address() + ")"
}

// GoString is like String, so %#v shows no secret either.
func (p Pair) GoString() string { return p.String() }

// Format prints [Pair.String] for every verb, so %v, %+v, %#v, %s, %x and
// %q never show a secret.
func (p Pair) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue makes log/slog print only the public address.
func (p Pair) LogValue() slog.Value {
	if p.state == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("ss58", p.Address()))
}

// MarshalJSON encodes only the public part.
func (p Pair) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"ss58Address":%q,"publicKey":"0x%x"}`, p.Address(), p.state().pub[:]), nil
}

// secretKey64 returns the 64-byte expanded secret (scalar/cofactor ++ nonce)
// when the mini secret is known, as schnorrkel's SecretKey::to_bytes.
func (p Pair) secretKey64() []byte {
	if len(p.state().mini) == 32 {
		return expandMini(p.state().mini)
	}
	if s := p.state().kp.Seed(); len(s) == 64 {
		return append([]byte(nil), s...)
	}
	return nil
}

// expandMini expands a mini secret ed25519-style: sha512, clamp, divide the
// scalar by the cofactor 8; the nonce is the second half of the hash.
func expandMini(mini []byte) []byte {
	h := sha512.Sum512(mini)
	key := h[:32]
	key[0] &= 248
	key[31] &= 63
	key[31] |= 64
	divideByCofactor(key)
	return h[:]
}

// divideByCofactor shifts a 256-bit little-endian number right by 3 bits.
func divideByCofactor(s []byte) {
	var low byte
	for i := len(s) - 1; i >= 0; i-- {
		r := s[i] & 0x07
		s[i] >>= 3
		s[i] |= low
		low = r << 5
	}
}

// multiplyByCofactor shifts a 256-bit little-endian number left by 3 bits
// (the ed25519 form of a schnorrkel scalar).
func multiplyByCofactor(s []byte) {
	var high byte
	for i := range s {
		r := s[i] & 0xe0
		s[i] <<= 3
		s[i] |= high
		high = r >> 5
	}
}

// ParseAddress decodes an SS58 address (any prefix) into a public key.
func ParseAddress(addr string) ([32]byte, error) {
	var pub [32]byte
	_, b, err := subkey.SS58Decode(strings.TrimSpace(addr))
	if err != nil {
		return pub, fmt.Errorf("parse ss58 address %q: %w: %v", addr, ErrInvalidKey, err)
	}
	if len(b) != 32 {
		return pub, fmt.Errorf("parse ss58 address %q: %d-byte account, want 32: %w", addr, len(b), ErrInvalidKey)
	}
	copy(pub[:], b)
	return pub, nil
}

// EncodeAddress returns the SS58 address (prefix 42) of a public key.
func EncodeAddress(pub [32]byte) string { return subkey.SS58Encode(pub[:], SS58Prefix) }

// decodeHex decodes an optional-0x hex string.
func decodeHex(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
}
