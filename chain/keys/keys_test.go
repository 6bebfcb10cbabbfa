package keys

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

type vectors struct {
	Accounts []struct {
		URI          string `json:"uri"`
		SR25519Pub   string `json:"sr25519_public"`
		SS58         string `json:"ss58_42"`
		SS58Polkadot string `json:"ss58_0_polkadot"`
	} `json:"accounts"`
	DevPhrase struct {
		Phrase     string `json:"phrase"`
		MiniSecret string `json:"mini_secret_hex"`
		Pub        string `json:"sr25519_public_no_derivation"`
	} `json:"dev_phrase"`
	Signing struct {
		Vectors []struct {
			Name          string `json:"name"`
			Signer        string `json:"signer"`
			PayloadSigned string `json:"payload_signed"`
			Signature     string `json:"signature_sr25519"`
		} `json:"vectors"`
	} `json:"signing"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	dir := testenv.Shared(t)
	b, err := os.ReadFile(filepath.Join(dir, "spec", "chain-vectors.json"))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(v.Accounts) == 0 || v.DevPhrase.Phrase == "" {
		t.Fatalf("vectors: accounts or dev_phrase missing")
	}
	return v
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := decodeHex(s)
	if err != nil {
		t.Fatalf("decode hex %q: %v", s, err)
	}
	return b
}

func TestDevAccounts(t *testing.T) {
	v := loadVectors(t)
	for _, a := range v.Accounts {
		t.Run(a.URI, func(t *testing.T) {
			p, err := FromURI(a.URI)
			if err != nil {
				t.Fatalf("FromURI: %v", err)
			}
			if got := p.AccountID().Hex(); got != a.SR25519Pub {
				t.Errorf("public = %s, want %s", got, a.SR25519Pub)
			}
			if got := p.Address(); got != a.SS58 {
				t.Errorf("address = %s, want %s", got, a.SS58)
			}
			pub, err := ParseAddress(a.SS58Polkadot)
			if err != nil {
				t.Fatalf("ParseAddress(prefix 0): %v", err)
			}
			if pub != p.PublicKey() {
				t.Errorf("ParseAddress(%s) = %x, want %x", a.SS58Polkadot, pub, p.PublicKey())
			}
			// The same key through the explicit phrase.
			q, err := FromURI(v.DevPhrase.Phrase + a.URI)
			if err != nil {
				t.Fatalf("FromURI(phrase+path): %v", err)
			}
			if q.PublicKey() != p.PublicKey() {
				t.Errorf("phrase%s gives %s, want %s", a.URI, q.Address(), p.Address())
			}
		})
	}
}

func TestDevPhrase(t *testing.T) {
	v := loadVectors(t)
	if v.DevPhrase.Phrase != DevPhrase {
		t.Fatalf("DevPhrase = %q, vectors say %q", DevPhrase, v.DevPhrase.Phrase)
	}
	p, err := FromMnemonic(v.DevPhrase.Phrase, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("0x%x", p.state().mini); got != v.DevPhrase.MiniSecret {
		t.Errorf("mini secret = %s, want %s", got, v.DevPhrase.MiniSecret)
	}
	if got := p.AccountID().Hex(); got != v.DevPhrase.Pub {
		t.Errorf("public = %s, want %s", got, v.DevPhrase.Pub)
	}
	// The mini secret as a hex seed URI gives the same key.
	q, err := FromURI(v.DevPhrase.MiniSecret)
	if err != nil {
		t.Fatal(err)
	}
	if q.PublicKey() != p.PublicKey() {
		t.Errorf("seed uri gives %s, want %s", q.Address(), p.Address())
	}
}

func TestDerivationPaths(t *testing.T) {
	alice, err := FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		uri      string
		sameAs   string // URI expected to give the same key, or ""
		distinct bool   // must differ from //Alice
	}{
		{uri: "//Dev//x", distinct: true},
		{uri: "//Alice//stash", distinct: true},
		{uri: "//Alice/soft", distinct: true},
		{uri: "//Alice///pw", distinct: true},
		{uri: DevPhrase + "//Alice", sameAs: "//Alice"},
		{uri: "  //Alice ", sameAs: "//Alice"},
	}
	seen := map[[32]byte]string{}
	for _, c := range cases {
		p, err := FromURI(c.uri)
		if err != nil {
			t.Fatalf("FromURI(%q): %v", c.uri, err)
		}
		if c.sameAs != "" {
			q, _ := FromURI(c.sameAs)
			if q.PublicKey() != p.PublicKey() {
				t.Errorf("%q != %q", c.uri, c.sameAs)
			}
			continue
		}
		if c.distinct && p.PublicKey() == alice.PublicKey() {
			t.Errorf("%q equals //Alice", c.uri)
		}
		if prev, ok := seen[p.PublicKey()]; ok {
			t.Errorf("%q and %q give the same key", c.uri, prev)
		}
		seen[p.PublicKey()] = c.uri
		// Deterministic.
		again, _ := FromURI(c.uri)
		if again.PublicKey() != p.PublicKey() {
			t.Errorf("%q is not deterministic", c.uri)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, uri := range []string{"", "not a valid mnemonic at all", "0x1234", "//"} {
		_, err := FromURI(uri)
		if err == nil {
			t.Errorf("FromURI(%q) succeeded", uri)
			continue
		}
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("FromURI(%q) = %v, want ErrInvalidKey", uri, err)
		}
	}
	if _, err := FromMnemonic("bottom drive obey lake curtain smoke basket hold race lonely fit fit", ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("bad checksum mnemonic: %v", err)
	}
	if _, err := FromSeed(make([]byte, 31)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("FromSeed(31 bytes): %v", err)
	}
	for _, a := range []string{"", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", "hello"} {
		if _, err := ParseAddress(a); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseAddress(%q) = %v", a, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	p, err := FromURI("//Bob")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("coldint signing test")
	sig, err := p.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 64 {
		t.Fatalf("signature has %d bytes", len(sig))
	}
	if !p.Verify(msg, sig) || !Verify(p.PublicKey(), msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if Verify(p.PublicKey(), []byte("other"), sig) {
		t.Error("signature verifies another message")
	}
	alice, _ := FromURI("//Alice")
	if Verify(alice.PublicKey(), msg, sig) {
		t.Error("signature verifies under another key")
	}
	bad := append([]byte(nil), sig...)
	bad[10] ^= 1
	if Verify(p.PublicKey(), msg, bad) {
		t.Error("corrupted signature verifies")
	}
}

// TestSigningVectors verifies the @polkadot signatures in chain-vectors.json.
func TestSigningVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Signing.Vectors) == 0 {
		t.Fatal("no signing vectors")
	}
	for _, s := range v.Signing.Vectors {
		t.Run(s.Name, func(t *testing.T) {
			pub, err := ParseAddress(s.Signer)
			if err != nil {
				t.Fatal(err)
			}
			payload, sig := mustHex(t, s.PayloadSigned), mustHex(t, s.Signature)
			if !Verify(pub, payload, sig) {
				t.Error("vector signature does not verify")
			}
			payload[0] ^= 1
			if Verify(pub, payload, sig) {
				t.Error("signature verifies a changed payload")
			}
		})
	}
}

func TestExpandedSecret(t *testing.T) {
	p, err := FromURI("//Charlie")
	if err != nil {
		t.Fatal(err)
	}
	sk := p.secretKey64()
	if len(sk) != 64 {
		t.Fatalf("secret key has %d bytes", len(sk))
	}
	q, err := FromSeed(sk)
	if err != nil {
		t.Fatal(err)
	}
	if q.PublicKey() != p.PublicKey() {
		t.Fatalf("64-byte secret gives %s, want %s", q.Address(), p.Address())
	}
	// Signatures of the expanded key verify under the original public key.
	sig, _ := q.Sign([]byte("x"))
	if !Verify(p.PublicKey(), []byte("x"), sig) {
		t.Error("expanded key signature does not verify")
	}
	// Cofactor helpers are inverse on clamped scalars.
	k := append([]byte(nil), sk[:32]...)
	multiplyByCofactor(k)
	divideByCofactor(k)
	if !bytes.Equal(k, sk[:32]) {
		t.Error("multiply/divide by cofactor do not round trip")
	}
}

func TestKeyfileRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := Wallet{Path: filepath.Join(dir, "wallets"), Name: "miner", Hotkey: "hk1"}
	p, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyfile(ctx, w.HotkeyFile(), p, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(w.HotkeyFile())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("hotkey mode = %v, want 0600", st.Mode().Perm())
	}
	for _, d := range []string{filepath.Join(dir, "wallets"), filepath.Join(dir, "wallets", "miner"), filepath.Dir(w.HotkeyFile())} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s mode = %v, want 0700", d, st.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(w.HotkeyFile()))
	if len(ents) != 1 {
		t.Errorf("hotkeys folder holds %d entries, want 1 (no temp files left)", len(ents))
	}
	// The file is bittensor's format.
	raw, _ := os.ReadFile(w.HotkeyFile())
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accountId", "publicKey", "privateKey", "secretPhrase", "secretSeed", "ss58Address"} {
		if s, ok := m[k].(string); !ok || s == "" {
			t.Errorf("field %s missing or empty", k)
		}
	}
	if m["ss58Address"] != p.Address() {
		t.Errorf("ss58Address = %v, want %s", m["ss58Address"], p.Address())
	}
	if words := strings.Fields(m["secretPhrase"].(string)); len(words) != 12 {
		t.Errorf("secretPhrase has %d words", len(words))
	}
	q, err := w.ReadHotkey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.PublicKey() != p.PublicKey() || q.state().phrase != p.state().phrase {
		t.Errorf("read back %s, wrote %s", q.Address(), p.Address())
	}
	// No overwrite by default.
	if err := WriteKeyfile(ctx, w.HotkeyFile(), p, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write = %v, want ErrExist", err)
	}
	r, _ := FromURI("//Dave")
	if err := WriteKeyfile(ctx, w.HotkeyFile(), r, true); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if q, err = w.ReadHotkey(ctx); err != nil || q.PublicKey() != r.PublicKey() {
		t.Errorf("after overwrite read %v, %v", q, err)
	}
	// A soft-derived key has no storable secret.
	soft, _ := FromURI("//Alice/soft")
	if err := WriteKeyfile(ctx, filepath.Join(dir, "soft"), soft, false); !errors.Is(err, ErrNoSecret) {
		t.Errorf("soft key write = %v, want ErrNoSecret", err)
	}
}

func TestParseKeyfile(t *testing.T) {
	dev, err := FromMnemonic(DevPhrase, "")
	if err != nil {
		t.Fatal(err)
	}
	pubHex := fmt.Sprintf("0x%x", dev.state().pub[:])
	seedHex := fmt.Sprintf("0x%x", dev.state().mini)
	sk := dev.secretKey64()
	skHex := fmt.Sprintf("0x%x", sk)
	ed := append([]byte(nil), sk...)
	multiplyByCofactor(ed[:32])
	edHex := fmt.Sprintf("0x%x", ed)
	alice, _ := FromURI("//Alice")
	obj := func(kv ...string) []byte {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "null" {
				m[kv[i]] = nil
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"seed only", obj("secretSeed", seedHex), nil},
		{"full bittensor file", obj("accountId", pubHex, "publicKey", pubHex, "privateKey", skHex, "secretPhrase", DevPhrase, "secretSeed", seedHex, "ss58Address", dev.Address()), nil},
		{"phrase only", obj("secretPhrase", DevPhrase, "ss58Address", dev.Address()), nil},
		{"private key schnorrkel form", obj("privateKey", skHex, "publicKey", pubHex), nil},
		{"private key ed25519 form", obj("privateKey", edHex, "publicKey", pubHex), nil},
		{"nulls besides seed", obj("secretSeed", seedHex, "secretPhrase", "null", "privateKey", "null"), nil},
		{"public only", obj("ss58Address", dev.Address(), "secretSeed", "null"), ErrNoSecret},
		{"mismatched address", obj("secretSeed", seedHex, "ss58Address", alice.Address()), ErrInvalidKey},
		{"mismatched public fields", obj("secretSeed", seedHex, "publicKey", pubHex, "accountId", fmt.Sprintf("0x%x", alice.state().pub[:])), ErrInvalidKey},
		{"short seed", obj("secretSeed", "0x1234"), ErrInvalidKey},
		{"bad phrase", obj("secretPhrase", "hello world"), ErrInvalidKey},
		{"not json", []byte("secret stuff"), ErrInvalidKey},
		{"nacl encrypted", []byte("$NACL\x00\x01\x02"), ErrEncrypted},
		{"ansible encrypted", []byte("$ANSIBLE_VAULT;1.1;AES256\n6162"), ErrEncrypted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseKeyfile(c.data)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				for _, secret := range []string{seedHex[2:], skHex[2:], "drive obey", "secret stuff"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q reveals a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.PublicKey() != dev.PublicKey() {
				t.Errorf("got %s, want %s", p.Address(), dev.Address())
			}
			msg := []byte("m")
			sig, err := p.Sign(msg)
			if err != nil || !Verify(dev.PublicKey(), msg, sig) {
				t.Errorf("signature from parsed key does not verify: %v", err)
			}
		})
	}
}

func TestParsePublicKeyfile(t *testing.T) {
	alice, _ := FromURI("//Alice")
	pubHex := fmt.Sprintf("0x%x", alice.state().pub[:])
	good := map[string]string{
		"bittensor json": fmt.Sprintf(`{"accountId": %q, "publicKey": %q, "privateKey": null, "secretPhrase": null, "secretSeed": null, "ss58Address": %q}`, pubHex, pubHex, alice.Address()),
		"ss58 only json": fmt.Sprintf(`{"ss58Address": %q}`, alice.Address()),
		"bare address":   alice.Address() + "\n",
	}
	for name, data := range good {
		pub, err := ParsePublicKeyfile([]byte(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if pub != alice.PublicKey() {
			t.Errorf("%s: got %x", name, pub)
		}
	}
	for name, data := range map[string]string{"empty json": "{}", "garbage": "zzz", "bad hex": `{"publicKey":"0xzz"}`, "nacl": "$NACLxx"} {
		if _, err := ParsePublicKeyfile([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ctx := context.Background()
	w := Wallet{Path: t.TempDir(), Name: "cold"}
	if err := WriteFileAtomic(w.ColdkeyPubFile(), []byte(good["bittensor json"]), 0o644, 0o700); err != nil {
		t.Fatal(err)
	}
	pub, err := w.ReadColdkeyPub(ctx)
	if err != nil || pub != alice.PublicKey() {
		t.Errorf("ReadColdkeyPub = %x, %v", pub, err)
	}
	if _, err := (Wallet{Path: t.TempDir()}).ReadColdkeyPub(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing coldkeypub: %v", err)
	}
	if _, err := (Wallet{Path: t.TempDir()}).ReadHotkey(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing hotkey: %v", err)
	}
}

func TestWalletPaths(t *testing.T) {
	t.Setenv("HOME", "/home/x")
	cases := []struct {
		w          Wallet
		hot, coldp string
	}{
		{Wallet{}, "/home/x/.bittensor/wallets/default/hotkeys/default", "/home/x/.bittensor/wallets/default/coldkeypub.txt"},
		{Wallet{Path: "~/w", Name: "a", Hotkey: "b"}, "/home/x/w/a/hotkeys/b", "/home/x/w/a/coldkeypub.txt"},
		{Wallet{Path: "/tmp/w", Name: "a"}, "/tmp/w/a/hotkeys/default", "/tmp/w/a/coldkeypub.txt"},
	}
	for _, c := range cases {
		if got := c.w.HotkeyFile(); got != c.hot {
			t.Errorf("%+v HotkeyFile = %s, want %s", c.w, got, c.hot)
		}
		if got := c.w.ColdkeyPubFile(); got != c.coldp {
			t.Errorf("%+v ColdkeyPubFile = %s, want %s", c.w, got, c.coldp)
		}
	}
}

// TestNoSecretInOutput formats a pair every way a program might and checks
// that neither the seed, the expanded secret nor the phrase appears.
func TestNoSecretInOutput(t *testing.T) {
	p, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		hex.EncodeToString(p.state().mini),
		hex.EncodeToString(p.secretKey64()),
		hex.EncodeToString(p.secretKey64()[:32]),
		p.state().phrase,
		strings.Fields(p.state().phrase)[0] + " " + strings.Fields(p.state().phrase)[1],
	}
	type holder struct {
		Name string
		Key  *Pair
		val  Pair
		ptr  *Pair
	}
	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		fmt.Fprintf(&out, f+"\n", p)
		fmt.Fprintf(&out, f+"\n", holder{"h", p, *p, p})
		fmt.Fprintf(&out, f+"\n", *p)
		fmt.Fprintf(&out, f+"\n", []*Pair{p})
	}
	fmt.Fprintln(&out, p)
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		l := slog.New(h)
		l.Info("key", "pair", p, "holder", holder{"h", p, *p, p}, "any", any(p))
		l.Info("key2", slog.Any("pair", p))
	}
	j, err := json.Marshal(holder{"h", p, *p, p})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	s := strings.ToLower(out.String())
	if !strings.Contains(s, strings.ToLower(p.Address())) {
		t.Fatalf("output does not even show the address:\n%s", s)
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, strings.ToLower(sec)) {
			t.Fatalf("output reveals a secret (%d chars):\n%s", len(sec), s)
		}
	}
}

func FuzzParseKeyfile(f *testing.F) {
	dev, _ := FromMnemonic(DevPhrase, "")
	good, _ := marshalKeyfile(dev)
	f.Add(good)
	f.Add([]byte(`{"secretSeed":"0x00"}`))
	f.Add([]byte(`{"privateKey":"0x` + strings.Repeat("ab", 64) + `","publicKey":"0x` + strings.Repeat("00", 32) + `"}`))
	f.Add([]byte(`$NACL`))
	f.Add([]byte(`5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseKeyfile(data)
		if err == nil && p == nil {
			t.Fatal("nil pair without error")
		}
		_, _ = ParsePublicKeyfile(data)
	})
}
