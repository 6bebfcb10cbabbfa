package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrEncrypted reports a keyfile that is encrypted (NaCl, Ansible vault or
// the legacy format); coldint reads only unencrypted hotkeys.
var ErrEncrypted = errors.New("keyfile is encrypted")

// ErrNoSecret reports a keyfile that holds only a public key.
var ErrNoSecret = errors.New("keyfile holds no secret")

// Wallet names a bittensor wallet on disk:
// <Path>/<Name>/hotkeys/<Hotkey> and <Path>/<Name>/coldkeypub.txt.
type Wallet struct {
	Path   string // folder of all wallets, default ~/.bittensor/wallets
	Name   string // wallet name, default "default"
	Hotkey string // hotkey name, default "default"
}

// DefaultWalletPath returns ~/.bittensor/wallets (btcli's default).
func DefaultWalletPath() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(".bittensor", "wallets")
	}
	return filepath.Join(home, ".bittensor", "wallets")
}

// ExpandPath replaces a leading "~" with the home folder.
func ExpandPath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func (w Wallet) withDefaults() Wallet {
	if w.Path == "" {
		w.Path = DefaultWalletPath()
	}
	if w.Name == "" {
		w.Name = "default"
	}
	if w.Hotkey == "" {
		w.Hotkey = "default"
	}
	w.Path = ExpandPath(w.Path)
	return w
}

// HotkeyFile returns the path of the wallet's hotkey file.
func (w Wallet) HotkeyFile() string {
	w = w.withDefaults()
	return filepath.Join(w.Path, w.Name, "hotkeys", w.Hotkey)
}

// ColdkeyPubFile returns the path of the wallet's coldkeypub.txt.
func (w Wallet) ColdkeyPubFile() string {
	w = w.withDefaults()
	return filepath.Join(w.Path, w.Name, "coldkeypub.txt")
}

// ReadHotkey reads the wallet's hotkey pair.
func (w Wallet) ReadHotkey(ctx context.Context) (*Pair, error) {
	return ReadKeyfile(ctx, w.HotkeyFile())
}

// ReadColdkeyPub reads the public key in the wallet's coldkeypub.txt.
func (w Wallet) ReadColdkeyPub(ctx context.Context) ([32]byte, error) {
	return ReadPublicKeyfile(ctx, w.ColdkeyPubFile())
}

// keyfile is bittensor's unencrypted keyfile JSON. Secret fields are kept
// in this unexported type only.
type keyfile struct {
	AccountID    *string `json:"accountId"`
	PublicKey    *string `json:"publicKey"`
	PrivateKey   *string `json:"privateKey"`
	SecretPhrase *string `json:"secretPhrase"`
	SecretSeed   *string `json:"secretSeed"`
	SS58Address  *string `json:"ss58Address"`
}

func readFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func isEncrypted(b []byte) bool {
	return bytes.HasPrefix(b, []byte("$NACL")) || bytes.HasPrefix(b, []byte("$ANSIBLE_VAULT")) ||
		bytes.HasPrefix(b, []byte("gAAAAA")) // legacy Fernet
}

// ParseKeyfile decodes the JSON of an unencrypted bittensor keyfile and
// returns the pair it holds. The secret is taken from secretSeed, else
// secretPhrase, else privateKey; when the file also names a public key or
// an SS58 address they must match the secret.
func ParseKeyfile(data []byte) (*Pair, error) {
	data = bytes.TrimSpace(data)
	if isEncrypted(data) {
		return nil, fmt.Errorf("parse keyfile: %w (decrypt it with btcli or create an unencrypted hotkey)", ErrEncrypted)
	}
	var kf keyfile
	if err := json.Unmarshal(data, &kf); err != nil {
		// Never echo the data: it may hold a secret.
		return nil, fmt.Errorf("parse keyfile: not bittensor keyfile json: %w", ErrInvalidKey)
	}
	want, hasWant, err := kf.public()
	if err != nil {
		return nil, fmt.Errorf("parse keyfile: %w", err)
	}
	var candidates []*Pair
	switch {
	case kf.SecretSeed != nil && *kf.SecretSeed != "":
		seed, err := decodeHex(*kf.SecretSeed)
		if err != nil || len(seed) != 32 {
			return nil, fmt.Errorf("parse keyfile: secretSeed is not 32 hex bytes: %w", ErrInvalidKey)
		}
		p, err := FromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("parse keyfile: %w", err)
		}
		if kf.SecretPhrase != nil {
			if q, err := FromMnemonic(*kf.SecretPhrase, ""); err == nil && q.state().pub == p.state().pub {
				p.state().phrase = q.state().phrase
			}
		}
		candidates = append(candidates, p)
	case kf.SecretPhrase != nil && *kf.SecretPhrase != "":
		p, err := FromMnemonic(*kf.SecretPhrase, "")
		if err != nil {
			return nil, fmt.Errorf("parse keyfile: secretPhrase: %w", err)
		}
		candidates = append(candidates, p)
	case kf.PrivateKey != nil && *kf.PrivateKey != "":
		sk, err := decodeHex(*kf.PrivateKey)
		if err != nil || len(sk) != 64 {
			return nil, fmt.Errorf("parse keyfile: privateKey is not 64 hex bytes: %w", ErrInvalidKey)
		}
		// The scalar is stored either as schnorrkel keeps it or in ed25519
		// form (times the cofactor); the public key tells which.
		if p, err := FromSeed(sk); err == nil {
			candidates = append(candidates, p)
		}
		alt := append([]byte(nil), sk...)
		divideByCofactor(alt[:32])
		if p, err := FromSeed(alt); err == nil {
			candidates = append(candidates, p)
		}
		if !hasWant && len(candidates) > 1 {
			candidates = candidates[:1]
		}
	default:
		return nil, fmt.Errorf("parse keyfile: %w", ErrNoSecret)
	}
	for _, p := range candidates {
		if !hasWant || p.state().pub == want {
			return p, nil
		}
	}
	return nil, fmt.Errorf("parse keyfile: secret does not match publicKey/ss58Address: %w", ErrInvalidKey)
}

// public returns the public key named by the file, checking that its
// publicKey, accountId and ss58Address fields agree.
func (kf keyfile) public() ([32]byte, bool, error) {
	var pub [32]byte
	has := false
	set := func(b [32]byte, field string) error {
		if has && b != pub {
			return fmt.Errorf("%s disagrees with the other public fields: %w", field, ErrInvalidKey)
		}
		pub, has = b, true
		return nil
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"publicKey", kf.PublicKey}, {"accountId", kf.AccountID}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		b, err := decodeHex(*f.v)
		if err != nil || len(b) != 32 {
			return pub, false, fmt.Errorf("%s is not 32 hex bytes: %w", f.name, ErrInvalidKey)
		}
		if err := set([32]byte(b), f.name); err != nil {
			return pub, false, err
		}
	}
	if kf.SS58Address != nil && *kf.SS58Address != "" {
		b, err := ParseAddress(*kf.SS58Address)
		if err != nil {
			return pub, false, err
		}
		if err := set(b, "ss58Address"); err != nil {
			return pub, false, err
		}
	}
	return pub, has, nil
}

// ReadKeyfile reads an unencrypted bittensor keyfile (a hotkey) and returns
// its pair. Errors never contain the file's content.
func ReadKeyfile(ctx context.Context, path string) (*Pair, error) {
	b, err := readFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read keyfile %q: %w", path, err)
	}
	p, err := ParseKeyfile(b)
	if err != nil {
		return nil, fmt.Errorf("read keyfile %q: %w", path, err)
	}
	return p, nil
}

// ParsePublicKeyfile decodes a public-only keyfile such as coldkeypub.txt:
// bittensor's JSON (ss58Address/publicKey/accountId) or a bare SS58 address.
func ParsePublicKeyfile(data []byte) ([32]byte, error) {
	data = bytes.TrimSpace(data)
	if isEncrypted(data) {
		return [32]byte{}, fmt.Errorf("parse public keyfile: %w", ErrEncrypted)
	}
	if len(data) > 0 && data[0] != '{' {
		return ParseAddress(string(data))
	}
	var kf keyfile
	if err := json.Unmarshal(data, &kf); err != nil {
		return [32]byte{}, fmt.Errorf("parse public keyfile: not json or ss58: %w", ErrInvalidKey)
	}
	pub, has, err := kf.public()
	if err != nil {
		return pub, fmt.Errorf("parse public keyfile: %w", err)
	}
	if !has {
		return pub, fmt.Errorf("parse public keyfile: no publicKey, accountId or ss58Address: %w", ErrInvalidKey)
	}
	return pub, nil
}

// ReadPublicKeyfile reads a public-only keyfile such as coldkeypub.txt.
func ReadPublicKeyfile(ctx context.Context, path string) ([32]byte, error) {
	b, err := readFile(ctx, path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("read public keyfile %q: %w", path, err)
	}
	pub, err := ParsePublicKeyfile(b)
	if err != nil {
		return pub, fmt.Errorf("read public keyfile %q: %w", path, err)
	}
	return pub, nil
}

// marshalKeyfile encodes p in bittensor's unencrypted keyfile format.
func marshalKeyfile(p *Pair) ([]byte, error) {
	hexs := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := fmt.Sprintf("0x%x", b)
		return &s
	}
	addr := p.Address()
	kf := keyfile{
		AccountID:   hexs(p.state().pub[:]),
		PublicKey:   hexs(p.state().pub[:]),
		PrivateKey:  hexs(p.secretKey64()),
		SecretSeed:  hexs(p.state().mini),
		SS58Address: &addr,
	}
	if p.state().phrase != "" {
		ph := p.state().phrase
		kf.SecretPhrase = &ph
	}
	if kf.PrivateKey == nil && kf.SecretSeed == nil {
		return nil, fmt.Errorf("encode keyfile: %w (a soft-derived key cannot be stored)", ErrNoSecret)
	}
	return json.Marshal(kf)
}

// WriteKeyfile writes p to path in bittensor's unencrypted keyfile format,
// atomically (temp file, fsync, rename, fsync of the folder) with mode 0600;
// missing folders are made with mode 0700. It refuses to replace an existing
// file unless overwrite is set.
func WriteKeyfile(ctx context.Context, path string, p *Pair, overwrite bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := marshalKeyfile(p)
	if err != nil {
		return fmt.Errorf("write keyfile %q: %w", path, err)
	}
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("write keyfile %q: %w", path, fs.ErrExist)
		}
	}
	if err := WriteFileAtomic(path, data, 0o600, 0o700); err != nil {
		return fmt.Errorf("write keyfile %q: %w", path, err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temp file in the same
// folder: write, fsync, chmod, rename, then fsync the folder. Missing
// folders are created with dirMode.
func WriteFileAtomic(path string, data []byte, mode, dirMode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
