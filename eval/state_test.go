package eval

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/coldint/coldint/chain"
)

func TestValidatorStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vali-state", ValidatorStateFile)
	s, err := LoadValidatorState(path)
	if err != nil || s.Version != SpecVersion || len(s.CState) != 0 {
		t.Fatalf("fresh: %+v %v", s, err)
	}
	head, _ := os.ReadFile("testdata/competitions_head.json")
	s.Competitions = head
	s.HallOfFame = headHoF()
	s.HKMetadata["hkA"] = &ModelMetadata{ID: chain.ModelID{Namespace: "o", Name: "m", Commit: commitA, Hash: hashA, Competition: "c00"}, Block: 9}
	s.HKMetadata["hkB"] = nil
	s.DiscardedCommitments = []string{"hkC/o/x|" + commitA}
	s.UIDLastRetriedTS[3] = 1700000000.5
	s.CState["c00"] = &CompState{Pool: []chain.UID{1, 2}, Pending: map[chain.UID]float64{5: 80.3}, Weights: map[chain.UID]float64{1: 0.75, 2: 0.25}}
	last := 17
	s.ForceEvalUntilUIDLast = &last
	s.LastWeightsSet = 1700000100
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadValidatorState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.HKMetadata, s.HKMetadata) || !reflect.DeepEqual(got.CState, s.CState) ||
		!reflect.DeepEqual(got.HallOfFame, s.HallOfFame) || *got.ForceEvalUntilUIDLast != 17 ||
		got.UIDLastRetriedTS[3] != 1700000000.5 || got.LastWeightsSet != 1700000100 || !reflect.DeepEqual(got.DiscardedCommitments, s.DiscardedCommitments) {
		t.Fatalf("round trip:\n%+v\n%+v", got, s)
	}
	cfg, err := got.Config()
	if err != nil || len(cfg.Competitions) != 2 {
		t.Fatalf("config: %v", err)
	}
	// docs/validator.md#state: loaded only when major.minor is unchanged.
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"version":1017}`, true},
		{`{"version":1099}`, true},
		{`{"version":1100}`, false},
		{`{"version":916}`, false},
		{`{}`, false},
	} {
		os.WriteFile(path, []byte(tc.body), 0o644)
		_, err := LoadValidatorState(path)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrIncompatibleState)) {
			t.Errorf("%s: %v", tc.body, err)
		}
	}
	os.WriteFile(path, []byte(`{"version":`), 0o644)
	if _, err := LoadValidatorState(path); err == nil {
		t.Error("corrupt state accepted")
	}
}
