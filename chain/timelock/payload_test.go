package timelock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func hotkey() (h [32]byte) {
	for i := range h {
		h[i] = byte(i + 1)
	}
	return h
}

// TestPayloadEncode: bytes written out by hand from the pallet's
// WeightsTlockPayload (SCALE: Vec<u8>, Vec<u16>, Vec<u16>, u64).
func TestPayloadEncode(t *testing.T) {
	p := Payload{Hotkey: hotkey(), UIDs: []uint16{0, 1, 300}, Values: []uint16{65535, 1, 2}, VersionKey: 1000}
	want := "80" + hex.EncodeToString(p.Hotkey[:]) + // compact(32), the key
		"0c" + "0000" + "0100" + "2c01" + // compact(3), uids
		"0c" + "ffff" + "0100" + "0200" + // compact(3), values
		"e803000000000000" // version key
	got, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("encoded %x\nwant    %s", got, want)
	}
	back, err := DecodePayload(got)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("decode: %+v, %v", back, err)
	}
	if _, err := (&Payload{UIDs: []uint16{1}}).Encode(); !errors.Is(err, ErrPayload) {
		t.Errorf("1 uid, 0 values: error %v, want ErrPayload", err)
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	good, _ := (&Payload{Hotkey: hotkey(), UIDs: []uint16{1}, Values: []uint16{2}, VersionKey: 3}).Encode()
	for name, b := range map[string][]byte{
		"truncated":      good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0),
		"31-byte hotkey": append([]byte{31 << 2}, good[2:]...),
		"unequal rows":   append(append([]byte{0x80}, good[1:34]...), 0x04, 1, 0, 0x00, 3, 0, 0, 0, 0, 0, 0, 0),
		"empty":          nil,
	} {
		if _, err := DecodePayload(b); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: error %v, want ErrPayload", name, err)
		}
	}
}

// TestEncryptPayload: what the chain would do on reveal (decrypt with the
// round's signature, decode the payload) gives back the row.
func TestEncryptPayload(t *testing.T) {
	b := testBeacon(t)
	p := Payload{Hotkey: hotkey(), UIDs: []uint16{3, 7, 9}, Values: []uint16{10, 65535, 7}, VersionKey: 42}
	ct, err := EncryptPayload(b.Info().PublicKey, 900, &p, seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decrypt(sign(t, b, 900), ct)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePayload(plain)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("revealed %+v, %v; want %+v", got, err, p)
	}
	big := Payload{UIDs: make([]uint16, 1200), Values: make([]uint16, 1200)}
	if _, err := EncryptPayload(b.Info().PublicKey, 900, &big, seeded(9)); !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "at most 5000") {
		t.Errorf("1200 uids: error %v, want the 5000-byte bound", err)
	}
}

// TestCallArgs: the arguments of commit_timelocked_weights as subtensor
// declares them (netuid u16, commit BoundedVec<u8>, reveal_round u64,
// commit_reveal_version u16), written out by hand.
func TestCallArgs(t *testing.T) {
	long := bytes.Repeat([]byte{0x5a}, 300)
	for _, tc := range []struct {
		name   string
		commit []byte
		want   []string
	}{
		{"short", []byte{0xaa, 0xbb, 0xcc}, []string{"1d00", "0caabbcc", "a8ed220100000000", "0400"}},
		{"300 bytes", long, []string{"1d00", "b104" + hex.EncodeToString(long), "a8ed220100000000", "0400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, err := CallArgs(29, tc.commit, 19_066_280, CommitRevealVersion)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range args {
				got = append(got, hex.EncodeToString(a))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("args %v\nwant %v", got, tc.want)
			}
		})
	}
	for name, c := range map[string][]byte{"empty": nil, "5001 bytes": make([]byte, 5001)} {
		if _, err := CallArgs(29, c, 1, CommitRevealVersion); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: error %v, want ErrPayload", name, err)
		}
	}
	if _, err := CallArgs(29, []byte{1}, 0, CommitRevealVersion); !errors.Is(err, ErrPayload) {
		t.Errorf("round 0: error %v, want ErrPayload", err)
	}
}

func TestGenerateCommit(t *testing.T) {
	b := testBeacon(t)
	p := Payload{Hotkey: hotkey(), UIDs: []uint16{1}, Values: []uint16{65535}, VersionKey: 2}
	// The SDK test inputs of TestRevealRound: round 3204.
	rp := RevealParams{Now: time.Unix(QuicknetGenesis+9000, 0), CurrentBlock: 1000, NetUID: 1, Tempo: 20, RevealPeriodEpochs: 3, BlockTime: 12 * time.Second}
	ct, round, err := GenerateCommit(b.Info(), rp, &p, seeded(5))
	if err != nil {
		t.Fatal(err)
	}
	if round != 3204 {
		t.Fatalf("round %d, want 3204", round)
	}
	plain, err := Decrypt(sign(t, b, 3204), ct)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodePayload(plain); err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("revealed %+v, %v", got, err)
	}
	bad := b.Info()
	bad.Scheme = "pedersen-bls-chained"
	noBlock := rp
	noBlock.BlockTime = 0
	for name, tc := range map[string]struct {
		info ChainInfo
		rp   RevealParams
	}{"scheme": {bad, rp}, "block time": {b.Info(), noBlock}, "no time": {b.Info(), RevealParams{BlockTime: time.Second}}} {
		if _, _, err := GenerateCommit(tc.info, tc.rp, &p, seeded(5)); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: error %v, want ErrPayload", name, err)
		}
	}
}
