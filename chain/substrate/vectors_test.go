package substrate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/chain/scale"
	"github.com/coldint/coldint/internal/testenv"
)

// vectors mirrors ../shared/spec/chain-vectors.json (the parts checked here).
type vectors struct {
	Hashes struct {
		Twox128     map[string]string `json:"twox128"`
		Twox64ABC   string            `json:"twox64_of_abc"`
		Blake128ABC string            `json:"blake2_128_of_abc"`
		Blake256Nil string            `json:"blake2_256_of_empty"`
		Blake256ABC string            `json:"blake2_256_of_abc"`
	} `json:"hashes"`
	StorageKeys []struct {
		Pallet  string   `json:"pallet"`
		Item    string   `json:"item"`
		Hashers []string `json:"hashers"`
		Args    []string `json:"args"`
		Key     string   `json:"key"`
	} `json:"storage_keys"`
	CommitmentData struct {
		None        string                     `json:"none"`
		Raw0        string                     `json:"raw0"`
		RawColdint  struct{ Text, Hex string } `json:"raw_coldint"`
		Raw128First string                     `json:"raw128_first_bytes"`
		BlakeTwo256 string                     `json:"blake_two_256"`
		BigRaw200   struct {
			FirstBytes string `json:"first_bytes"`
		} `json:"big_raw_200"`
		ResetBondsFlag string `json:"reset_bonds_flag"`
		InfoOneField   string `json:"commitment_info_one_field"`
	} `json:"commitment_data"`
	Calls map[string]struct {
		Args map[string]any `json:"args"`
		Hex  string         `json:"hex"`
	} `json:"calls"`
	Era struct {
		Immortal string `json:"immortal"`
		Mortal   []struct {
			Current   uint64 `json:"current"`
			Requested uint64 `json:"requested_period"`
			Hex       string `json:"hex"`
			Period    uint64 `json:"period"`
			Phase     uint64 `json:"phase"`
			Birth     uint64 `json:"birth"`
		} `json:"mortal"`
	} `json:"era"`
	Signing struct {
		Vectors []signingVector `json:"vectors"`
	} `json:"signing"`
	Live liveVectors `json:"live"`
}

type signingVector struct {
	Name          string `json:"name"`
	Signer        string `json:"signer"`
	Nonce         uint32 `json:"nonce"`
	Tip           uint64 `json:"tip"`
	Era           string `json:"era"`
	SpecVersion   uint32 `json:"spec_version"`
	TxVersion     uint32 `json:"transaction_version"`
	Genesis       string `json:"genesis_hash"`
	EraBlockHash  string `json:"era_block_hash"`
	Call          string `json:"call"`
	Extra         string `json:"extra"`
	Payload       string `json:"payload"`
	PayloadSigned string `json:"payload_signed"`
	PayloadHashed bool   `json:"payload_hashed"`
	Signature     string `json:"signature_sr25519"`
	Extrinsic     string `json:"extrinsic"`
	ExtrinsicHash string `json:"extrinsic_hash"`
}

type liveVectors struct {
	Runtime struct {
		SpecVersion uint32 `json:"spec_version"`
		TxVersion   uint32 `json:"transaction_version"`
	} `json:"runtime"`
	GenesisHash      string   `json:"genesis_hash"`
	SignedExtensions []string `json:"signed_extensions"`
	MetadataV14      struct {
		Bytes int    `json:"bytes"`
		Blake string `json:"blake2_256"`
		First string `json:"first_bytes"`
	} `json:"metadata_v14"`
	StorageKeyCheck []struct {
		Item    string   `json:"item"`
		Status  string   `json:"status"`
		Hashers []string `json:"hashers_218"`
	} `json:"storage_key_check"`
	CallCheck    map[string]bool `json:"call_check"`
	PayloadCheck struct {
		PolkadotJS   string `json:"polkadot_js"`
		SameAsManual bool   `json:"same_as_manual"`
	} `json:"payload_check"`
	HandBuiltSW  handBuilt `json:"hand_built_set_weights"`
	HandBuiltSC  handBuilt `json:"hand_built_set_commitment"`
	CommitmentOf struct {
		Key     string `json:"key"`
		Value   string `json:"value"`
		Decoded struct {
			Block string `json:"block"`
		} `json:"decoded"`
	} `json:"commitment_of"`
	Reads struct {
		SubnetworkN     string `json:"subnetwork_n"`
		KeysUIDCharlie  string `json:"keys_uid_charlie"`
		UidsCharlie     string `json:"uids_charlie"`
		LastUpdate      string `json:"last_update"`
		ValidatorPermit string `json:"validator_permit"`
		SystemNumber    string `json:"system_number"`
	} `json:"reads"`
	NeuronsLite struct {
		Raw     string `json:"raw"`
		Decoded []struct {
			Hotkey   string `json:"hotkey"`
			Coldkey  string `json:"coldkey"`
			UID      uint16 `json:"uid"`
			Netuid   uint16 `json:"netuid"`
			Active   bool   `json:"active"`
			AxonInfo struct {
				Block   uint64 `json:"block"`
				Version uint32 `json:"version"`
				IP      uint64 `json:"ip"`
				Port    uint16 `json:"port"`
				IPType  uint8  `json:"ip_type"`
			} `json:"axon_info"`
			Stake           [][2]any `json:"stake"`
			Rank            uint16   `json:"rank"`
			Emission        uint64   `json:"emission"`
			Incentive       uint16   `json:"incentive"`
			Consensus       uint16   `json:"consensus"`
			Trust           uint16   `json:"trust"`
			ValidatorTrust  uint16   `json:"validator_trust"`
			Dividends       uint16   `json:"dividends"`
			LastUpdate      uint64   `json:"last_update"`
			ValidatorPermit bool     `json:"validator_permit"`
			PruningScore    uint16   `json:"pruning_score"`
		} `json:"decoded"`
	} `json:"neurons_lite"`
}

type handBuilt struct {
	AtBlock       uint64      `json:"at_block"`
	Era           string      `json:"era"`
	EraBirth      uint64      `json:"era_birth"`
	Nonce         uint32      `json:"nonce"`
	Extrinsic     string      `json:"extrinsic"`
	ExtrinsicHash string      `json:"extrinsic_hash"`
	WeightsAfter  [][2]uint16 `json:"weights_after"`
}

func loadVectors(t testing.TB) vectors {
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

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func eqHex(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != strings.TrimPrefix(strings.ToLower(want), "0x") {
		t.Errorf("%s = 0x%x, want %s", what, got, want)
	}
}

func hasherByName(t testing.TB, name string) Hasher {
	t.Helper()
	for i, n := range hasherNames {
		if n == name {
			return Hasher(i)
		}
	}
	t.Fatalf("unknown hasher %q", name)
	return 0
}

func TestHashVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Hashes.Twox128) == 0 {
		t.Fatal("no twox128 vectors")
	}
	for name, want := range v.Hashes.Twox128 {
		eqHex(t, "twox128("+name+")", Twox128([]byte(name)), want)
	}
	eqHex(t, "twox64(abc)", Twox64([]byte("abc")), v.Hashes.Twox64ABC)
	eqHex(t, "blake2_128(abc)", Blake2_128([]byte("abc")), v.Hashes.Blake128ABC)
	h := Blake2_256(nil)
	eqHex(t, "blake2_256()", h[:], v.Hashes.Blake256Nil)
	h = Blake2_256([]byte("abc"))
	eqHex(t, "blake2_256(abc)", h[:], v.Hashes.Blake256ABC)
}

func TestStorageKeyVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.StorageKeys) == 0 {
		t.Fatal("no storage key vectors")
	}
	for _, k := range v.StorageKeys {
		var hs []Hasher
		var args [][]byte
		for i, h := range k.Hashers {
			hs = append(hs, hasherByName(t, h))
			args = append(args, unhex(t, k.Args[i]))
		}
		got, err := StorageKey(k.Pallet, k.Item, hs, args...)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, k.Pallet+"."+k.Item, got, k.Key)
	}
}

func TestCommitmentDataVectors(t *testing.T) {
	v := loadVectors(t)
	cd := v.CommitmentData
	info, err := EncodeCommitmentInfo([]byte(cd.RawColdint.Text))
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "CommitmentInfo", info, cd.InfoOneField)
	eqHex(t, "Raw24 field", info[1:], cd.RawColdint.Hex)
	empty, _ := EncodeCommitmentInfo(nil)
	eqHex(t, "Raw0 field", empty[1:], cd.Raw0)
	if _, err := EncodeCommitmentInfo(make([]byte, 129)); err == nil {
		t.Error("129-byte commitment accepted")
	}
	big, _ := EncodeCommitmentInfo(bytes.Repeat([]byte{0xab}, 128))
	eqHex(t, "Raw128 first bytes", big[1:5], cd.Raw128First)

	// Each Data variant decodes as a one-field registration.
	bigRaw := append(unhex(t, cd.BigRaw200.FirstBytes), make([]byte, 200)...)
	for _, c := range []struct {
		hex  string
		raw  []byte
		kind byte
		n    int
	}{
		{cd.None, nil, 0, 0},
		{cd.Raw0, nil, 1, 0},
		{cd.RawColdint.Hex, nil, 1, 24},
		{cd.BlakeTwo256, nil, 0x82, 32},
		{cd.ResetBondsFlag, nil, 0x87, 0},
		{"", bigRaw, 0x88, 200},
	} {
		field := c.raw
		if field == nil {
			field = unhex(t, c.hex)
		}
		reg := append(make([]byte, 12), 0x04)
		reg = append(reg, field...)
		r, err := DecodeRegistration(reg)
		if err != nil {
			t.Fatalf("decode %x: %v", field, err)
		}
		if len(r.Fields) != 1 || r.Fields[0].Kind != c.kind || len(r.Fields[0].Bytes) != c.n {
			t.Errorf("decode %x = %+v", field, r.Fields)
		}
	}
	r, _ := DecodeRegistration(append(append(make([]byte, 12), 0x04), unhex(t, cd.RawColdint.Hex)...))
	if s, err := r.Text(); err != nil || s != cd.RawColdint.Text {
		t.Errorf("Text() = %q, %v", s, err)
	}
	if _, err := DecodeRegistration(append(make([]byte, 12), 0x04, 0x89)); err == nil {
		t.Error("unknown Data variant accepted")
	}
}

// TestCallArgVectors checks the argument encoding of every call vector
// offline; the indices are checked against the live metadata in the chopsticks test.
func TestCallArgVectors(t *testing.T) {
	v := loadVectors(t)
	alice := mustAccount(t, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	commitHash := unhex(t, v.Calls["commit_weights"].Args["commit_hash"].(string))
	for name, args := range map[string][][]byte{
		"set_weights":                     {{7, 0}, u16le(29), vecU16([]uint16{0, 1, 5}), vecU16([]uint16{65535, 32768, 1}), u64le(1000)},
		"set_commitment":                  {{18, 0}, u16le(29), mustInfo(t, "coldint:deadbeefcafe0123")},
		"burned_register":                 {{7, 7}, u16le(29), alice[:]},
		"commit_weights":                  {{7, 96}, u16le(29), commitHash},
		"reveal_weights":                  {{7, 97}, u16le(29), vecU16([]uint16{0, 1, 5}), vecU16([]uint16{65535, 32768, 1}), vecU16([]uint16{1, 2, 3, 4, 5, 6, 7, 8}), u64le(1000)},
		"serve_axon":                      {{7, 4}, u16le(29), {1, 0, 0, 0}, scale.NewEncoder(nil).U128(16909060, 0).Bytes(), u16le(8091), {4}, {0}, {0}, {0}},
		"commit_timelocked_weights_shape": {{7, 113}, u16le(29), new(scale.Encoder).VecU8(bytes.Repeat([]byte{0xcd}, 16)).Bytes(), u64le(123456), u16le(4)},
	} {
		want, ok := v.Calls[name]
		if !ok {
			t.Fatalf("no call vector %q", name)
		}
		eqHex(t, name, bytes.Join(args, nil), want.Hex)
	}
	if len(v.Calls) != 7 {
		t.Errorf("%d call vectors, test covers 7", len(v.Calls))
	}
}

func mustAccount(t testing.TB, s string) chain.AccountID {
	t.Helper()
	a, err := chain.ParseAccountID(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustInfo(t testing.TB, s string) []byte {
	b, err := EncodeCommitmentInfo([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEraVectors(t *testing.T) {
	v := loadVectors(t)
	eqHex(t, "immortal", Era{}.Encode(), v.Era.Immortal)
	if len(v.Era.Mortal) == 0 {
		t.Fatal("no era vectors")
	}
	for _, c := range v.Era.Mortal {
		e := MortalEra(c.Current, c.Requested)
		eqHex(t, "era", e.Encode(), c.Hex)
		if e.Period != c.Period || e.Phase != c.Phase || e.Birth(c.Current) != c.Birth {
			t.Errorf("era(%d,%d) = %+v birth %d, want period %d phase %d birth %d", c.Current, c.Requested, e, e.Birth(c.Current), c.Period, c.Phase, c.Birth)
		}
	}
}

// headMetadata is a synthetic metadata with the HEAD (spec 425) extension list.
func extMetadata(ids ...string) *Metadata {
	m := &Metadata{Types: []Type{{Kind: DefComposite}}}
	for _, id := range ids {
		m.Extensions = append(m.Extensions, SignedExtension{Identifier: id})
	}
	m.computeSizes()
	return m
}

var headExtensions = []string{"CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis", "CheckMortality",
	"CheckNonce", "CheckWeight", "ChargeTransactionPaymentWrapper", "SudoTransactionExtension", "CheckShieldedTxValidity",
	"SubtensorTransactionExtension", "DrandPriority", "CheckMetadataHash"}

func TestSigningVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Signing.Vectors) == 0 {
		t.Fatal("no signing vectors")
	}
	for _, m := range []*Metadata{extMetadata(headExtensions...), extMetadata(v.Live.SignedExtensions...)} {
		for _, sv := range v.Signing.Vectors {
			signer := mustAccount(t, sv.Signer)
			var era Era
			if eb := unhex(t, sv.Era); len(eb) == 2 {
				// Recover (period, phase) from the encoding.
				enc := uint64(eb[0]) | uint64(eb[1])<<8
				era.Period = 2 << (enc % 16)
				q := max(era.Period>>12, 1)
				era.Phase = (enc >> 4) * q
			}
			eqHex(t, sv.Name+" era", era.Encode(), sv.Era)
			p := SignedParams{SpecVersion: sv.SpecVersion, TxVersion: sv.TxVersion, Era: era, Nonce: sv.Nonce, Tip: sv.Tip}
			copy(p.Genesis[:], unhex(t, sv.Genesis))
			copy(p.BirthHash[:], unhex(t, sv.EraBlockHash))
			extra, add, err := m.SignedExtras(p)
			if err != nil {
				t.Fatal(err)
			}
			call := unhex(t, sv.Call)
			eqHex(t, sv.Name+" extra", extra, sv.Extra)
			eqHex(t, sv.Name+" payload", append(append(append([]byte{}, call...), extra...), add...), sv.Payload)
			signed := SigningPayload(call, extra, add)
			eqHex(t, sv.Name+" signed payload", signed, sv.PayloadSigned)
			if (len(signed) == 32) != sv.PayloadHashed {
				t.Errorf("%s: hashed=%v", sv.Name, !sv.PayloadHashed)
			}
			sig := unhex(t, sv.Signature)
			if !keys.Verify(signer, signed, sig) {
				t.Errorf("%s: signature does not verify", sv.Name)
			}
			xt, err := AssembleSigned(signer, sig, extra, call)
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, sv.Name+" extrinsic", xt, sv.Extrinsic)
			h := ExtrinsicHash(xt)
			eqHex(t, sv.Name+" hash", h[:], sv.ExtrinsicHash)
		}
	}
}

// TestSignRoundTrip signs with a real key and checks the signature verifies.
func TestSignRoundTrip(t *testing.T) {
	alice, err := keys.FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	m := extMetadata(headExtensions...)
	call := make([]byte, 300) // long call: payload is hashed
	p := SignedParams{SpecVersion: 218, TxVersion: 1, Era: MortalEra(10, 64), Nonce: 3}
	xt, err := m.SignExtrinsic(alice, call, p)
	if err != nil {
		t.Fatal(err)
	}
	extra, add, _ := m.SignedExtras(p)
	d := scale.NewDecoder(xt)
	n := d.Compact()
	if int(n) != d.Remaining() {
		t.Fatalf("length prefix %d, body %d", n, d.Remaining())
	}
	body := xt[d.Offset():]
	pub := alice.AccountID()
	if body[0] != 0x84 || !bytes.Equal(body[2:34], pub[:]) || body[34] != 1 {
		t.Fatalf("bad header %x", body[:35])
	}
	if !keys.Verify(alice.AccountID(), SigningPayload(call, extra, add), body[35:99]) {
		t.Fatal("signature does not verify")
	}
	// An unknown extension with data is refused.
	m.Types = append(m.Types, Type{Kind: DefPrimitive, Primitive: PrimU32})
	m.Extensions = append(m.Extensions, SignedExtension{Identifier: "Mystery", Type: 1})
	m.computeSizes()
	if _, _, err := m.SignedExtras(p); err == nil || !strings.Contains(err.Error(), "Mystery") {
		t.Fatalf("unknown extension: %v", err)
	}
}

func TestLiveVectorsOffline(t *testing.T) {
	v := loadVectors(t)
	l := v.Live
	// Hand-built extrinsics that the chain accepted: structure and hash.
	for _, hb := range []handBuilt{l.HandBuiltSW, l.HandBuiltSC} {
		xt := unhex(t, hb.Extrinsic)
		h := ExtrinsicHash(xt)
		eqHex(t, "hand-built hash", h[:], hb.ExtrinsicHash)
		era := MortalEra(hb.AtBlock, 4)
		for p := uint64(4); era.Encode()[0] != unhex(t, hb.Era)[0] && p <= 1<<16; p <<= 1 {
			era = MortalEra(hb.AtBlock, p)
		}
		eqHex(t, "hand-built era", era.Encode(), hb.Era)
		if era.Birth(hb.AtBlock) != hb.EraBirth {
			t.Errorf("era birth %d, want %d", era.Birth(hb.AtBlock), hb.EraBirth)
		}
		d := scale.NewDecoder(xt)
		d.Compact()
		off := d.Offset() + 1 + 1 + 32 + 1 + 64
		extra := append(era.Encode(), scale.AppendCompact(nil, uint64(hb.Nonce))...)
		extra = append(extra, 0, 0)
		if !bytes.Equal(xt[off:off+len(extra)], extra) {
			t.Errorf("hand-built extra %x, want %x", xt[off:off+len(extra)], extra)
		}
	}
	// polkadot.js built the same payload as the first signing vector.
	if !l.PayloadCheck.SameAsManual || l.PayloadCheck.PolkadotJS != v.Signing.Vectors[0].Payload {
		t.Errorf("payload_check: polkadot.js payload differs from signing vector 0")
	}
	// CommitmentOf key of Charlie on netuid 2 (Identity, Twox64Concat).
	charlieID := mustAccount(t, "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y")
	key, err := StorageKey("Commitments", "CommitmentOf", []Hasher{IdentityHasher, Twox64ConcatHasher}, u16le(2), charlieID[:])
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "CommitmentOf key", key, l.CommitmentOf.Key)
	// CommitmentOf raw value.
	r, err := DecodeRegistration(unhex(t, l.CommitmentOf.Value))
	if err != nil {
		t.Fatal(err)
	}
	if txt, _ := r.Text(); txt != "coldint:deadbeefcafe0123" || l.CommitmentOf.Decoded.Block != "10" || r.Block != 10 {
		t.Errorf("CommitmentOf = %+v", r)
	}
	// Raw storage reads.
	if d := scale.NewDecoder(unhex(t, l.Reads.SubnetworkN)); d.U16() != 2 || d.Finish() != nil {
		t.Error("SubnetworkN")
	}
	if d := scale.NewDecoder(unhex(t, l.Reads.UidsCharlie)); d.U16() != 1 || d.Finish() != nil {
		t.Error("Uids")
	}
	if d := scale.NewDecoder(unhex(t, l.Reads.SystemNumber)); d.U32() != 10 || d.Finish() != nil {
		t.Error("System.Number")
	}
	if d := scale.NewDecoder(unhex(t, l.Reads.LastUpdate)); d.VecU64()[1] != 9 || d.Finish() != nil {
		t.Error("LastUpdate")
	}
	if d := scale.NewDecoder(unhex(t, l.Reads.ValidatorPermit)); len(d.VecBool()) != 2 || d.Finish() != nil {
		t.Error("ValidatorPermit")
	}
	charlie := mustAccount(t, "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y")
	eqHex(t, "Keys(uid charlie)", charlie[:], l.Reads.KeysUIDCharlie)
	// The Weights row after hand-built set_weights.
	var row []byte
	row = scale.AppendCompact(row, uint64(len(l.HandBuiltSW.WeightsAfter)))
	for _, p := range l.HandBuiltSW.WeightsAfter {
		row = append(append(row, u16le(p[0])...), u16le(p[1])...)
	}
	w, err := DecodeWeights(row)
	if err != nil || len(w) != 2 || w[1].Value != 65535 {
		t.Errorf("weights %v %v", w, err)
	}
	// neurons_lite raw bytes against the polkadot.js decoding.
	ns, err := DecodeNeuronsLite(unhex(t, l.NeuronsLite.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != len(l.NeuronsLite.Decoded) || len(ns) == 0 {
		t.Fatalf("%d neurons, want %d", len(ns), len(l.NeuronsLite.Decoded))
	}
	for i, want := range l.NeuronsLite.Decoded {
		got := ns[i]
		var stake uint64
		for _, s := range want.Stake {
			stake += uint64(s[1].(float64))
		}
		if got.Hotkey.String() != want.Hotkey || got.Coldkey.String() != want.Coldkey || uint16(got.UID) != want.UID ||
			uint16(got.Netuid) != want.Netuid || got.Active != want.Active || got.Stake != stake || got.Rank != want.Rank ||
			got.Emission != want.Emission || got.Incentive != want.Incentive || got.Consensus != want.Consensus ||
			got.Trust != want.Trust || got.ValidatorTrust != want.ValidatorTrust || got.Dividends != want.Dividends ||
			uint64(got.LastUpdate) != want.LastUpdate || got.ValidatorPermit != want.ValidatorPermit ||
			got.PruningScore != want.PruningScore || got.Axon.Port != want.AxonInfo.Port || got.Axon.Block != want.AxonInfo.Block {
			t.Errorf("neuron %d = %+v, want %+v", i, got, want)
		}
		if want.AxonInfo.IP == 16909060 && got.Axon.IP != "1.2.3.4" {
			t.Errorf("neuron %d ip %q", i, got.Axon.IP)
		}
	}
}
