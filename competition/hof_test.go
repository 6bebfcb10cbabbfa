package competition

import (
	"errors"
	"math"
	"testing"

	"github.com/coldint/coldint/chain"
)

const emissionControl = "5EXXXXXnvHbsa1JSWSseFm8evjALQoqMhxETWyk8moJkaPXH"

func TestHoFEntryWeightSpec(t *testing.T) {
	tests := []struct {
		name    string
		e       HoFEntry
		current uint64
		want    float64
	}{
		// docs/validator.md#hall-of-fame: reward 0.2 at delta 0 → 0.001; at delta 361 blocks → 0.000995.
		{"reward 0.2, delta 0", HoFEntry{Block: 1000, Reward: 0.2}, 1000, 0.001},
		{"reward 0.2, delta 361", HoFEntry{Block: 1000, Reward: 0.2}, 1361, 0.000995},
		// docs/validator.md#hall-of-fame: Emission control starts at 1e9/200 = 5e6.
		{"emission control initial", HoFEntry{Block: 5020713, Reward: 1e9}, 5020713, 5e6},
		{"future entry clamped (quirk fix)", HoFEntry{Block: 2000, Reward: 0.2}, 1000, 0.001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HoFEntryWeight(tc.e, tc.current); math.Abs(got-tc.want) > 1e-15*math.Max(1, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
	// docs/validator.md#hall-of-fame: the Emission control entry stays above weight 1.0 for about 3077 epochs.
	e := HoFEntry{Block: 5020713, Reward: 1e9}
	if w := HoFEntryWeight(e, 5020713+3077*361); w <= 1 {
		t.Errorf("at 3077 epochs weight %v, want > 1", w)
	}
	if w := HoFEntryWeight(e, 5020713+3078*361); w >= 1 {
		t.Errorf("at 3078 epochs weight %v, want < 1", w)
	}
}

// headHoF is the hall of fame at sn29 HEAD as docs/validator.md#hall-of-fame describes it.
func headHoF() HallOfFame {
	return HallOfFame{
		"5HotkeyUidZero":    {{Block: 3382073, Reward: 0.2, Desc: "UID-0 claim"}},
		"5HotkeyValidators": {{Block: 3436348, Reward: 1.0, Desc: "Validator testing"}, {Block: 3436348, Reward: 1.0, Desc: "Validator testing"}},
		emissionControl:     {{Block: 5020713, Reward: 1e9, Desc: "Emission control"}},
	}
}

func TestHoFWeightsCap(t *testing.T) {
	hotkeys := []string{"5HotkeyUidZero", "5Other", "5HotkeyValidators", emissionControl}
	tests := []struct {
		name    string
		hof     HallOfFame
		current uint64
		max     float64
		want    map[chain.UID]float64
		total   float64
	}{
		{"no cap: 0.001 + 0.01", HallOfFame{"5HotkeyUidZero": {{Block: 100, Reward: 0.2}}, "5HotkeyValidators": {{Block: 100, Reward: 2}}},
			100, 0.4, map[chain.UID]float64{0: 0.001, 2: 0.01}, 0.011},
		{"cap binds: scaled to 0.4", HallOfFame{"5HotkeyUidZero": {{Block: 100, Reward: 60}}, "5HotkeyValidators": {{Block: 100, Reward: 100}}},
			100, 0.4, map[chain.UID]float64{0: 0.4 * 0.3 / 0.8, 2: 0.4 * 0.5 / 0.8}, 0.4},
		{"hotkey not in metagraph earns nothing", HallOfFame{"5Gone": {{Block: 100, Reward: 1}}},
			100, 0.4, map[chain.UID]float64{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rw, total := HoFWeights(tc.hof, hotkeys, tc.current, tc.max)
			if math.Abs(total-tc.total) > 1e-15 || len(rw) != len(tc.want) {
				t.Fatalf("total %v rw %v", total, rw)
			}
			for u, w := range tc.want {
				if math.Abs(rw[u]-w) > 1e-15 {
					t.Errorf("rw[%d] = %v want %v", u, rw[u], w)
				}
			}
		})
	}
	// docs/validator.md#hall-of-fame at HEAD: Emission control dominates, so it takes ≈ REWARDS_MAX_FRACTION.
	rw, total := HoFWeights(headHoF(), hotkeys, 5020713, 0.4)
	if total != 0.4 || math.Abs(rw[3]-0.4) > 1e-12 || rw[0] <= 0 || rw[2] <= 0 || rw[0]+rw[2] > 1e-9 {
		t.Errorf("HEAD HoF: total %v, emission control %v", total, rw[3])
	}
}

func TestParseHallOfFame(t *testing.T) {
	good := `{"5A":[{"block":3382073,"reward":0.2,"desc":"UID-0 claim","url":"https://x"}],"5B":[]}`
	hof, err := ParseHallOfFame([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e := hof["5A"][0]; e.Block != 3382073 || e.Reward != 0.2 || e.Desc != "UID-0 claim" || e.URL != "https://x" {
		t.Fatalf("%+v", hof)
	}
	for _, bad := range []string{
		`[]`, `null`, `{"5A":{}}`, `{"5A":[{"reward":1}]}`, `{"5A":[{"block":1}]}`,
		`{"5A":[{"block":-1,"reward":1}]}`, `{"5A":[{"block":1.5,"reward":1}]}`,
		`{"5A":[{"block":1,"reward":-1}]}`, `{"5A":[{"block":1,"reward":"x"}]}`, `{"5A":[1]}`,
	} {
		if _, err := ParseHallOfFame([]byte(bad)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}
