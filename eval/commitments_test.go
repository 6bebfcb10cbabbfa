package eval

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	hashA   = "tXNDvHVzqYIRiUx0rvK+M5+Lu4OLzhfPJH+gf7HvCeA="
)

func cm(block chain.BlockNumber, data string) *chain.Commitment {
	return &chain.Commitment{Block: block, Data: data}
}

func TestDedupCommitments(t *testing.T) {
	same := "org:model:" + commitA + ":" + hashA + ":c00"
	other := "org:other:" + commitA + ":" + hashA + ":c00"
	prev := map[string]*ModelMetadata{"hkE": {ID: chain.ModelID{Namespace: "old", Name: "m", Commit: commitA, Hash: hashA, Competition: "c00"}, Block: 3}}
	qs := []CommitmentQuery{
		{UID: 0, Hotkey: "hkA", Commitment: cm(10, same)},
		{UID: 1, Hotkey: "hkB", Commitment: cm(5, same)},
		{UID: 2, Hotkey: "hkC", Commitment: cm(5, same)},
		{UID: 3, Hotkey: "hkD", Commitment: cm(7, "not:a:model")},
		{UID: 4, Hotkey: "hkE", Err: errors.New("timeout")},
		{UID: 5, Hotkey: "hkF"},
		{UID: 6, Hotkey: "hkG", Commitment: cm(8, other)},
		{UID: 7, Hotkey: "hkH", Commitment: cm(9, "org:disc:"+commitA+":"+hashA+":c00")},
		{UID: 8, Hotkey: "hkI", Commitment: cm(9, "org:top:"+commitA+":"+hashA+":c00")},
	}
	discarded := map[string]bool{
		"hkH/org/disc|" + commitA: true,
		"hkI/org/top|" + commitA:  true,
	}
	top := map[chain.UID]bool{8: true}
	r := DedupCommitments(qs, prev, discarded, 0.02, top)
	wantKept := map[chain.UID]chain.BlockNumber{1: 5, 2: 5, 4: 3, 6: 8, 8: 9}
	if !reflect.DeepEqual(r.Blocks, wantKept) {
		t.Fatalf("kept %v", r.Blocks)
	}
	for _, u := range []chain.UID{0, 3, 7} {
		if r.Dropped[u] == "" {
			t.Errorf("uid %d not dropped", u)
		}
	}
	if _, ok := r.Dropped[5]; ok {
		t.Error("no commitment is not a drop")
	}
	if !reflect.DeepEqual(r.Undiscard, []string{"hkI/org/top|" + commitA}) {
		t.Errorf("undiscard %v", r.Undiscard)
	}
	if r.Metadata["hkE"] != prev["hkE"] {
		t.Error("failed query must reuse previous metadata")
	}
	// Order independence (quirk fix): reversed input, same result.
	rev := make([]CommitmentQuery, len(qs))
	for i := range qs {
		rev[i] = qs[len(qs)-1-i]
	}
	if r2 := DedupCommitments(rev, prev, discarded, 0.02, top); !reflect.DeepEqual(r2.Blocks, r.Blocks) {
		t.Fatalf("order dependent: %v", r2.Blocks)
	}
	// discard_winrate 0 disables the discard set.
	if r3 := DedupCommitments(qs, prev, discarded, 0, nil); r3.Blocks[7] != 9 {
		t.Fatal("discard_winrate 0 must keep discarded commitments")
	}
	// A later copy of a discarded original stays a duplicate.
	qs2 := []CommitmentQuery{
		{UID: 0, Hotkey: "hkH", Commitment: cm(9, "org:disc:"+commitA+":"+hashA+":c00")},
		{UID: 1, Hotkey: "hkX", Commitment: cm(12, "org:disc:"+commitA+":"+hashA+":c00")},
	}
	if r4 := DedupCommitments(qs2, nil, discarded, 0.02, nil); len(r4.Blocks) != 0 {
		t.Fatalf("copy of a discarded commitment kept: %v", r4.Blocks)
	}
}

func TestResetRetryOnHotkeyChange(t *testing.T) {
	ts := time.Unix(5, 0)
	m := map[chain.UID]time.Time{0: ts, 1: ts, 2: ts, 9: ts}
	ResetRetryOnHotkeyChange([]string{"a", "b"}, []string{"a", "B", "c"}, m)
	if !reflect.DeepEqual(m, map[chain.UID]time.Time{0: ts, 9: ts}) {
		t.Fatalf("%v", m)
	}
}

// TestTopValidatorsAndMiners uses the test (docs/validator.md#metagraph-and-top-miners)_utils numbers.
func TestTopValidatorsAndMiners(t *testing.T) {
	stakes := []uint64{0, 1, 2, 300, 4, 5, 600, 7, 8, 9}
	permits := map[int]bool{3: true, 6: true, 8: true, 9: true}
	mg := &chain.Metagraph{Block: 5000}
	for i, s := range stakes {
		mg.Neurons = append(mg.Neurons, chain.Neuron{UID: chain.UID(i), Stake: s, ValidatorPermit: permits[i], LastUpdate: 4900})
	}
	if got := TopValidators(mg.Neurons, 3); !reflect.DeepEqual(got, []chain.UID{6, 3, 9}) {
		t.Errorf("top 3 %v", got)
	}
	if got := TopValidators(mg.Neurons, 6); !reflect.DeepEqual(got, []chain.UID{6, 3, 9, 8}) {
		t.Errorf("top 6 %v", got)
	}
	tests := []struct {
		name string
		w    map[chain.UID]chain.Weights
		want []chain.UID
	}{
		{"agree on 0", map[chain.UID]chain.Weights{6: {{UID: 0, Value: 65535}}, 3: {{UID: 0, Value: 100}}}, []chain.UID{0}},
		{"disagree 0 and 2", map[chain.UID]chain.Weights{6: {{UID: 0, Value: 65535}}, 3: {{UID: 2, Value: 100}}}, []chain.UID{0, 2}},
		// 0:1, 1:0.1, 2:0.5 → under the 5 % rule all three qualify.
		{"5 % rule", map[chain.UID]chain.Weights{6: {{UID: 0, Value: 10000}, {UID: 1, Value: 1000}, {UID: 2, Value: 5000}}}, []chain.UID{0, 1, 2}},
		{"below 5 %", map[chain.UID]chain.Weights{6: {{UID: 0, Value: 10000}, {UID: 1, Value: 500}}}, []chain.UID{0}},
	}
	for _, tc := range tests {
		if got := TopMiners(mg, tc.w); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v want %v", tc.name, got, tc.want)
		}
	}
	// A validator whose last update is more than 1200 blocks old is ignored.
	mg.Neurons[6].LastUpdate = 5000 - 1201
	if got := TopMiners(mg, map[chain.UID]chain.Weights{6: {{UID: 4, Value: 1}}}); len(got) != 0 {
		t.Errorf("stale validator counted: %v", got)
	}
	mg.Neurons[6].LastUpdate = 5000 - 1200
	if got := TopMiners(mg, map[chain.UID]chain.Weights{6: {{UID: 4, Value: 1}}}); !reflect.DeepEqual(got, []chain.UID{4}) {
		t.Errorf("1200 blocks is not stale: %v", got)
	}
}
