package eval

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
)

func seq(from, to int) []int {
	var out []int
	for u := from; u != to; u = (u + 1) % NUIDs {
		out = append(out, u)
	}
	return out
}

// TestRevisitWindow checks the numbers (docs/validator.md#visiting-uids): a 172800 s (48 h) period split
// over 256 UIDs (675 s each), a first window of 10 UIDs ending before until,
// at most 10 UIDs per call, wrap-around modulo 256.
func TestRevisitWindow(t *testing.T) {
	day0 := time.Unix(172800*11000, 0).UTC() // a multiple of 48 h since the epoch
	tests := []struct {
		name      string
		now       time.Time
		last      int
		want      []int
		wantUntil int
	}{
		{"period start, unset: (0−10) mod 256 = 246", day0, -1, seq(246, 0), 0},
		{"half period: until 128", day0.Add(86400 * time.Second), -1, seq(118, 128), 128},
		{"675 s per UID: 674 s is still slot 0", day0.Add(674 * time.Second), 0, nil, 0},
		{"675 s per UID: slot 1", day0.Add(675 * time.Second), 0, []int{0}, 1},
		{"one chain update (960 s) later", day0.Add(86400*time.Second + 960*time.Second), 128, []int{128}, 129},
		{"same slot: empty (quirk fix)", day0.Add(86400 * time.Second), 128, nil, 128},
		{"long gap keeps the last 10", day0.Add(86400 * time.Second), 100, seq(118, 128), 128},
		{"wrap around", day0.Add(3 * 675 * time.Second), 250, seq(250, 3), 3},
		{"end of period", day0.Add(172799 * time.Second), 250, seq(250, 255), 255},
		{"UTC-synchronised: time zone does not matter", day0.Add(86400 * time.Second).In(time.FixedZone("X", 5*3600)), -1, seq(118, 128), 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, until := RevisitWindow(tc.now, tc.last)
			if until != tc.wantUntil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v until %d; want %v until %d", got, until, tc.want, tc.wantUntil)
			}
		})
	}
	// Over one 48 h period with a chain update every 960 s, every UID is
	// revisited exactly once.
	count := make([]int, NUIDs)
	last := 0
	for s := int64(0); s < 172800; s += 960 {
		var uids []int
		uids, last = RevisitWindow(day0.Add(time.Duration(s)*time.Second), last)
		for _, u := range uids {
			count[u]++
		}
	}
	_, until := RevisitWindow(day0.Add(172800*time.Second), last)
	for _, u := range seq(last, until) {
		count[u]++
	}
	for u, c := range count {
		if c != 1 {
			t.Fatalf("uid %d revisited %d times in 48 h", u, c)
		}
	}
}

func TestPlanVisits(t *testing.T) {
	now := time.Unix(172800*11000+86400, 0)
	// Active UIDs 1 and 6 stay in the new phase (quirk fix): only a changed
	// commitment is synced there.
	phases, until := PlanVisits(8, []chain.UID{5, 2, 2, 1}, []chain.UID{1, 6}, 3, now, -1)
	if until != 128 || len(phases) != 3 {
		t.Fatal(phases, until)
	}
	if !reflect.DeepEqual(phases[0].UIDs, []int{2, 5}) || phases[0].Priority != PrioTopModel || phases[0].RetryInterval != 24*time.Hour {
		t.Errorf("top %+v", phases[0])
	}
	if !reflect.DeepEqual(phases[1].UIDs, []int{3, 4, 6, 7, 0, 1}) || phases[1].RetryInterval != 0 || phases[1].Priority != PrioNewModel {
		t.Errorf("new %+v", phases[1])
	}
	if len(phases[2].UIDs) != 10 || phases[2].RetryInterval != 24*time.Hour || phases[2].Priority != PrioRevisit {
		t.Errorf("revisit %+v", phases[2])
	}
}

func TestDecideVisit(t *testing.T) {
	m := &ModelMetadata{ID: chain.ModelID{Namespace: "a", Name: "b", Commit: "c", Hash: "h", Competition: "c00"}, Block: 10}
	moved := &ModelMetadata{ID: m.ID, Block: 11}
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name     string
		uid, n   int
		meta, kn *ModelMetadata
		last     time.Time
		retry    time.Duration
		want     VisitAction
	}{
		{"beyond metagraph", 5, 5, m, nil, time.Time{}, 0, VisitSkip},
		{"no metadata", 1, 5, nil, m, time.Time{}, 0, VisitRemove},
		{"new", 1, 5, m, nil, time.Time{}, 0, VisitSync},
		{"re-commit moves block = changed", 1, 5, moved, m, now, 0, VisitSync},
		{"unchanged, retry 0", 1, 5, m, m, time.Time{}, 0, VisitSkip},
		{"unchanged, not due", 1, 5, m, m, now.Add(-23 * time.Hour), 24 * time.Hour, VisitSkip},
		{"unchanged, due", 1, 5, m, m, now.Add(-24 * time.Hour), 24 * time.Hour, VisitSync},
		{"unchanged, never tried", 1, 5, m, m, time.Time{}, 24 * time.Hour, VisitSync},
	}
	for _, tc := range tests {
		if got := DecideVisit(tc.uid, tc.n, tc.meta, tc.kn, tc.last, now, tc.retry); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
	if !SyncError.Retry() || !SyncDownloadFailed.Retry() || SyncHashFailed.Retry() || SyncModelNotAllowed.Retry() || SyncSuccess.Retry() {
		t.Error("retry policy")
	}
}

func TestSelectUIDsAndCompState(t *testing.T) {
	cs := map[string]*CompState{}
	rng := rand.New(rand.NewPCG(1, 1))
	AddOrRemoveUID(cs, 1, "c00", Jitter(PrioTopModel, rng))
	AddOrRemoveUID(cs, 2, "c00", 20.5)
	AddOrRemoveUID(cs, 3, "c00", 40.1)
	AddOrRemoveUID(cs, 4, "c00", 20.9)
	AddOrRemoveUID(cs, 5, "c01", 60.2)
	cs["c00"].Pool = []chain.UID{9, 8}
	// Moving uid 5 to c00 removes it from c01.
	AddOrRemoveUID(cs, 5, "c00", 61)
	if cs["c01"].Has(5) || !cs["c00"].Has(5) {
		t.Fatal("move between competitions")
	}
	// Already pooled: priority untouched, not pending.
	AddOrRemoveUID(cs, 9, "c00", 40)
	if _, ok := cs["c00"].Pending[9]; ok {
		t.Fatal("pooled uid added to pending")
	}
	if got := ActiveUIDs(cs); !reflect.DeepEqual(got, []chain.UID{1, 2, 3, 4, 5, 8, 9}) {
		t.Fatalf("active %v", got)
	}
	// pool 2 + pend 2 = 4 picks: 9, 8 (100), 1 (80.x), 5 (61). Unpicked:
	// 3 (40.1) stays; 2 and 4 (revisits) are dropped.
	sel := SelectUIDs(cs["c00"], 2, 2, nil)
	if !reflect.DeepEqual(sel.Picked, []chain.UID{9, 8, 1, 5}) || !reflect.DeepEqual(sel.Pending, map[chain.UID]float64{3: 40.1}) {
		t.Fatalf("%+v", sel)
	}
	// Cache mode: unknown UIDs are skipped.
	sel = SelectUIDs(cs["c00"], 2, 2, func(u chain.UID) bool { return u != 8 })
	if !reflect.DeepEqual(sel.Picked, []chain.UID{9, 1, 5, 3}) || len(sel.Pending) != 0 {
		t.Fatalf("%+v", sel)
	}
	AddOrRemoveUID(cs, 9, "", 0)
	if cs["c00"].Has(9) {
		t.Fatal("no metadata must remove")
	}
}
