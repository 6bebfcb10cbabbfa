package eval

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
)

// BenchmarkScoreCompetition scores a full pool (6 + 3 models) on 1500
// samples grouped by 10, the HEAD configuration.
func BenchmarkScoreCompetition(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	models := make([]ModelLosses, 9)
	for i := range models {
		l := make([]float64, 1500)
		for j := range l {
			l[j] = 1000 + 100*rng.Float64()
		}
		models[i] = ModelLosses{UID: chain.UID(i), Block: chain.BlockNumber(1000 * i), Losses: l}
	}
	p := ScoreParams{WinParams: WinParams{CurrentBlock: 10000, AdvantageInitial: 0.004, AdvantageDecay: 0.995}, WeightSkewFactor: 2, GroupSamples: 10}
	for b.Loop() {
		if _, err := ScoreCompetition(models, p, rng); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPickSamples picks 1500 of 20000 samples for 9 models.
func BenchmarkPickSamples(b *testing.B) {
	c := NewCache()
	c.Extend(make([]Sample, 20000), time.Unix(1, 0), 0)
	rows := make([]int, 9)
	for i := range rows {
		rows[i] = c.ModelIndex(string(rune('a' + i)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		c.PickSamples(rows, 1500, rng)
	}
}
