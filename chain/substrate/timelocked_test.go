package substrate

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/coldint/coldint/chain/scale"
	"github.com/coldint/coldint/chain/timelock"
)

// timelockedMetadata describes SubtensorModule.commit_timelocked_weights as
// current runtimes do (pallet 7, call 113: netuid u16, commit
// BoundedVec<u8, 5000>, reveal_round u64, commit_reveal_version u16).
// Spec 218 has no such call, so the description is constructed; withCall
// false leaves the call out (a 218-like runtime).
func timelockedMetadata(withCall bool) *Metadata {
	calls := uint32(5)
	variants := []Variant{{Name: "commit_weights", Index: 96, Fields: []Field{{Name: "netuid", Type: 1}, {Name: "commit_hash", Type: 6}}}}
	if withCall {
		variants = append(variants, Variant{Name: "commit_timelocked_weights", Index: 113, Fields: []Field{
			{Name: "netuid", Type: 1, TypeName: "NetUid"},
			{Name: "commit", Type: 4, TypeName: "BoundedVec<u8, ConstU32<MAX_CRV3_COMMIT_SIZE_BYTES>>"},
			{Name: "reveal_round", Type: 2, TypeName: "u64"},
			{Name: "commit_reveal_version", Type: 1, TypeName: "u16"},
		}})
	}
	m := &Metadata{
		Types: []Type{
			{Kind: DefPrimitive, Primitive: PrimU8},  // 0
			{Kind: DefPrimitive, Primitive: PrimU16}, // 1
			{Kind: DefPrimitive, Primitive: PrimU64}, // 2
			{Kind: DefSequence, Elem: 0},             // 3 Vec<u8>
			{Kind: DefComposite, Path: []string{"bounded_collections", "bounded_vec", "BoundedVec"}, Fields: []Field{{Type: 3}}}, // 4
			{Kind: DefVariant, Variants: variants}, // 5 Call
			{Kind: DefArray, Elem: 0, Len: 32},     // 6 [u8; 32]
		},
		Pallets: []Pallet{{Name: "SubtensorModule", Index: 7, Calls: &calls}},
	}
	m.computeSizes()
	return m
}

// TestTimelockedCall proves that the arguments chain/timelock produces are
// what the described runtime call takes: the call index, then each field
// decoding by its metadata type to the values given, with no byte left over.
// It does not prove that a live runtime accepts the commit (no runtime here
// has the call) nor that the chain can decrypt it (chain/timelock's tests
// cover the ciphertext against the reference implementation).
func TestTimelockedCall(t *testing.T) {
	beacon, err := timelock.NewTestBeacon(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	info := beacon.Info()
	p := &timelock.Payload{UIDs: []uint16{0, 3, 7}, Values: []uint16{65535, 100, 7}, VersionKey: 1016}
	rp := timelock.RevealParams{Now: time.Unix(1_750_000_000, 0), CurrentBlock: 5_000_000, NetUID: 29, Tempo: 360, RevealPeriodEpochs: 1, BlockTime: 12 * time.Second}
	commit, round, err := timelock.GenerateCommit(info, rp, p, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := timelockedMetadata(true)
	call, err := TimelockedCall(m, 29, commit, round, timelock.CommitRevealVersion)
	if err != nil {
		t.Fatal(err)
	}
	if call[0] != 7 || call[1] != 113 {
		t.Fatalf("call index %d,%d, want 7,113", call[0], call[1])
	}
	d := scale.NewDecoder(call[1:])
	v := m.DecodeValue(d, 5)
	if err := d.Finish(); err != nil {
		t.Fatalf("decode the call by its metadata: %v", err)
	}
	if v.Name != "commit_timelocked_weights" {
		t.Fatalf("decoded call %q", v.Name)
	}
	want := map[string]uint64{"netuid": 29, "reveal_round": round, "commit_reveal_version": uint64(timelock.CommitRevealVersion)}
	for name, w := range want {
		if f, ok := v.Field(name); !ok || f.Uint != w {
			t.Errorf("field %s = %+v, want %d", name, f, w)
		}
	}
	f, ok := v.Field("commit")
	if !ok || len(f.Fields) != 1 || !bytes.Equal(f.Fields[0].Bytes, commit) {
		t.Errorf("field commit does not decode to the %d commit bytes", len(commit))
	}
	// The commit decrypts to the payload once the round is signed.
	sig, err := beacon.Sign(round)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := timelock.Decrypt(sig, f.Fields[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := timelock.DecodePayload(pt)
	if err != nil || got.VersionKey != 1016 || len(got.UIDs) != 3 {
		t.Fatalf("decrypted payload %+v, %v", got, err)
	}

	// A runtime without the call (spec 218) gives ErrMetadata.
	if _, err := TimelockedCall(timelockedMetadata(false), 29, commit, round, 4); !errors.Is(err, ErrMetadata) {
		t.Errorf("218-like runtime: %v, want ErrMetadata", err)
	}
	// A runtime whose call takes a u32 round refuses the u64 argument.
	m32 := timelockedMetadata(true)
	m32.Types = append(m32.Types, Type{Kind: DefPrimitive, Primitive: PrimU32})
	m32.Types[5].Variants[1].Fields[2].Type = uint32(len(m32.Types) - 1)
	m32.computeSizes()
	if _, err := TimelockedCall(m32, 29, commit, round, 4); !errors.Is(err, ErrMetadata) {
		t.Errorf("u32 reveal_round runtime: %v, want ErrMetadata", err)
	}
}
