package chain

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

type vectors struct {
	Accounts []struct {
		URI     string `json:"uri"`
		Pub     string `json:"sr25519_public"`
		SS58    string `json:"ss58_42"`
		SS58Dot string `json:"ss58_0_polkadot"`
		EdPub   string `json:"ed25519_public"`
		EdSS58  string `json:"ed25519_ss58_42"`
	} `json:"accounts"`
	WeightsEmit struct {
		Cases []struct {
			UIDs      []UID     `json:"uids"`
			Weights   []float64 `json:"weights"`
			OutUIDs   []UID     `json:"out_uids"`
			OutValues []uint16  `json:"out_values"`
		} `json:"cases"`
	} `json:"weights_emit"`
	CommitHashV2 struct {
		Hotkey string `json:"hotkey"`
		Hash   string `json:"hash"`
	} `json:"commit_hash_v2"`
	Calls struct {
		RevealWeights struct {
			Args struct {
				Netuid     NetUID   `json:"netuid"`
				UIDs       []UID    `json:"uids"`
				Values     []uint16 `json:"values"`
				Salt       []uint16 `json:"salt"`
				VersionKey uint64   `json:"version_key"`
			} `json:"args"`
		} `json:"reveal_weights"`
	} `json:"calls"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "spec", "chain-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSS58Vectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Accounts) == 0 {
		t.Fatal("no account vectors")
	}
	for _, a := range v.Accounts {
		for _, c := range []struct {
			pub, addr string
			prefix    uint16
		}{{a.Pub, a.SS58, 42}, {a.Pub, a.SS58Dot, 0}, {a.EdPub, a.EdSS58, 42}} {
			id, err := AccountIDFromBytes(mustHex(t, c.pub))
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodeSS58(id, c.prefix); got != c.addr {
				t.Errorf("%s: EncodeSS58(prefix %d) = %s, want %s", a.URI, c.prefix, got, c.addr)
			}
			back, p, err := DecodeSS58(c.addr)
			if err != nil || back != id || p != c.prefix {
				t.Errorf("%s: DecodeSS58(%s) = %x,%d,%v", a.URI, c.addr, back, p, err)
			}
			parsed, err := ParseAccountID(id.Hex())
			if err != nil || parsed != id {
				t.Errorf("ParseAccountID(hex) = %v, %v", parsed, err)
			}
		}
	}
}

func TestSS58Errors(t *testing.T) {
	good := "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
	for _, s := range []string{"", "0OIl", good[:len(good)-1] + "Z", good[:20], "0x1234", "0xzz"} {
		if _, err := ParseAccountID(s); err == nil {
			t.Errorf("ParseAccountID(%q): no error", s)
		}
	}
	// Two-byte prefixes round-trip.
	var a AccountID
	a[0], a[31] = 7, 9
	for _, p := range []uint16{0, 42, 63, 64, 255, 1000, 16383} {
		got, gp, err := DecodeSS58(EncodeSS58(a, p))
		if err != nil || got != a || gp != p {
			t.Errorf("prefix %d round trip: %v %d %v", p, got, gp, err)
		}
	}
}

func TestAccountIDText(t *testing.T) {
	id, err := ParseAccountID("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct{ H Hotkey }{id})
	if string(b) != `{"H":"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"}` {
		t.Fatalf("json = %s", b)
	}
	var back struct{ H Hotkey }
	if err := json.Unmarshal(b, &back); err != nil || back.H != id {
		t.Fatalf("unmarshal: %v %v", back.H, err)
	}
}

func TestNormalizeWeightsVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.WeightsEmit.Cases) == 0 {
		t.Fatal("no weights_emit vectors")
	}
	for i, c := range v.WeightsEmit.Cases {
		u, w, err := NormalizeWeights(c.UIDs, c.Weights)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(u) != len(c.OutUIDs) || len(w) != len(c.OutValues) {
			t.Fatalf("case %d: got %v %v, want %v %v", i, u, w, c.OutUIDs, c.OutValues)
		}
		for j := range u {
			if u[j] != c.OutUIDs[j] || w[j] != c.OutValues[j] {
				t.Errorf("case %d: got %v %v, want %v %v", i, u, w, c.OutUIDs, c.OutValues)
				break
			}
		}
	}
}

func TestNormalizeWeightsErrors(t *testing.T) {
	for _, c := range []struct {
		uids []UID
		w    []float64
	}{
		{[]UID{1}, nil},
		{[]UID{1, 2}, []float64{1, -1}},
		{[]UID{1, 1}, []float64{1, 1}},
		{[]UID{1}, []float64{nanValue()}},
	} {
		if _, _, err := NormalizeWeights(c.uids, c.w); !errors.Is(err, ErrInvalidWeights) {
			t.Errorf("NormalizeWeights(%v, %v) err = %v", c.uids, c.w, err)
		}
	}
}

func nanValue() float64 { z := 0.0; return z / z }

func TestCommitHashVector(t *testing.T) {
	v := loadVectors(t)
	hk, err := ParseAccountID(v.CommitHashV2.Hotkey)
	if err != nil {
		t.Fatal(err)
	}
	a := v.Calls.RevealWeights.Args
	got := CommitHash(hk, a.Netuid, a.UIDs, a.Values, a.Salt, a.VersionKey)
	if want := mustHex(t, v.CommitHashV2.Hash); hex.EncodeToString(got[:]) != hex.EncodeToString(want) {
		t.Fatalf("CommitHash = %x, want %x", got, want)
	}
}

func TestParseModelID(t *testing.T) {
	commit := strings.Repeat("ab", 20)
	hash := strings.Repeat("Q", 43) + "="
	good := "myorg:mymodel:" + commit + ":" + hash + ":c00"
	tests := []struct {
		in      string
		wantErr string
	}{
		{good, ""},
		{"a:b:c:d", "4 fields"},
		{"a:b:c:d:e:f", "6 fields"},
		{"", "1 fields"},
		{"a::c:d:e", "empty name"},
		{"a:b:c:d:", "empty competition"},
		{strings.Repeat("x", 129), "over 128"},
		{"a:b:\xff:d:e", "UTF-8"},
	}
	for _, tt := range tests {
		m, err := ParseModelID(tt.in)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ParseModelID(%q): %v", tt.in, err)
				continue
			}
			if m.String() != tt.in {
				t.Errorf("round trip %q -> %q", tt.in, m.String())
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate(%q): %v", tt.in, err)
			}
			if m.Label() != "myorg/mymodel|abab" || m.FullLabel() != "myorg/mymodel|"+commit {
				t.Errorf("labels %q %q", m.Label(), m.FullLabel())
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrMalformedCommitment) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseModelID(%q) err = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestValidateRepoID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"my-org/my-repo-name", ""},
		{"my-org/" + strings.Repeat("a", 40), "between 3 and 41"},
		{"abc", "between 3 and 41"},
		{"myorgmyrepo", "format <org or user name>/<repo_name>"},
		{"a/b/c", "format"},
	} {
		err := ValidateRepoID(c.id)
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.id, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.id, err, c.want)
		}
	}
}

func TestModuleError(t *testing.T) {
	e := &ModuleError{Pallet: "Commitments", Name: "CommitmentSetRateLimitExceeded", Kind: KindOf("CommitmentSetRateLimitExceeded")}
	if !errors.Is(e, ErrRateLimited) || !strings.Contains(e.Error(), "Commitments.CommitmentSetRateLimitExceeded") {
		t.Fatalf("ModuleError %v", e)
	}
	if KindOf("NoSuchError") != nil {
		t.Fatal("unknown name mapped")
	}
}

func FuzzParseModelID(f *testing.F) {
	f.Add("myorg:mymodel:abc:def:c00")
	f.Add("a:b")
	f.Add("::::")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseModelID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedCommitment) {
				t.Fatalf("error does not wrap ErrMalformedCommitment: %v", err)
			}
			return
		}
		if m.String() != s {
			t.Fatalf("round trip %q -> %q", s, m.String())
		}
		_ = m.Validate()
	})
}

func FuzzDecodeSS58(f *testing.F) {
	f.Add("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	f.Add("1111")
	f.Fuzz(func(t *testing.T, s string) {
		a, p, err := DecodeSS58(s)
		if err != nil {
			return
		}
		if p < 16384 {
			if _, p2, err := DecodeSS58(EncodeSS58(a, p)); err != nil || p2 != p {
				t.Fatalf("re-encode of %q: %v", s, err)
			}
		}
	})
}
