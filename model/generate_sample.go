package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// MaxGenerateTokens bounds [GenerateOptions.MaxTokens].
const MaxGenerateTokens = 4096

// SampleOptions choose how [Sampler] picks the next token.
type SampleOptions struct {
	// Temperature divides the logits; 0 means greedy (argmax).
	Temperature float64 `json:"temperature"`
	// TopK keeps the K most likely tokens; 0 keeps all.
	TopK int `json:"top_k"`
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches P (nucleus sampling); 0 or 1 keeps all.
	TopP float64 `json:"top_p"`
	// Seed seeds the sampler's random stream: the same seed, options and
	// logits give the same tokens.
	Seed uint64 `json:"seed"`
}

// Validate reports options outside their ranges.
func (o SampleOptions) Validate() error {
	switch {
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) || o.Temperature < 0 || o.Temperature > 100:
		return fmt.Errorf("temperature %v must be between 0 and 100", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("top-k %d must not be negative", o.TopK)
	case math.IsNaN(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("top-p %v must be between 0 and 1", o.TopP)
	}
	return nil
}

// Sampler picks tokens from logits. It is deterministic for a seed and not
// safe for concurrent use.
type Sampler struct {
	opts SampleOptions
	rng  *rand.Rand
	idx  []int32
	prob []float64
}

// NewSampler validates opts and returns a sampler seeded with opts.Seed.
func NewSampler(opts SampleOptions) (*Sampler, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new sampler: %w", err)
	}
	return &Sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9E3779B97F4A7C15))}, nil
}

// Sample returns the id of the chosen token. Logits that are NaN count as
// -Inf; when every logit is -Inf or NaN the first token is returned.
func (s *Sampler) Sample(logits []float32) int32 {
	if len(logits) == 0 {
		return 0
	}
	if s.opts.Temperature == 0 {
		return argmax(logits)
	}
	s.idx = s.idx[:0]
	for i, l := range logits {
		if !math.IsNaN(float64(l)) && !math.IsInf(float64(l), -1) {
			s.idx = append(s.idx, int32(i))
		}
	}
	if len(s.idx) == 0 {
		return 0
	}
	// Most likely first; ties by id, so the order is total and deterministic.
	sort.Slice(s.idx, func(a, b int) bool {
		la, lb := logits[s.idx[a]], logits[s.idx[b]]
		if la != lb {
			return la > lb
		}
		return s.idx[a] < s.idx[b]
	})
	cand := s.idx
	if k := s.opts.TopK; k > 0 && k < len(cand) {
		cand = cand[:k]
	}
	top := float64(logits[cand[0]])
	if math.IsInf(top, 1) {
		return cand[0]
	}
	s.prob = s.prob[:0]
	var z float64
	for _, id := range cand {
		p := math.Exp((float64(logits[id]) - top) / s.opts.Temperature)
		s.prob = append(s.prob, p)
		z += p
	}
	if p := s.opts.TopP; p > 0 && p < 1 {
		var cum float64
		n := len(cand)
		for i, q := range s.prob {
			cum += q / z
			if cum >= p {
				n = i + 1
				break
			}
		}
		cand, s.prob = cand[:n], s.prob[:n]
		z = 0
		for _, q := range s.prob {
			z += q
		}
	}
	u := s.rng.Float64() * z
	for i, q := range s.prob {
		u -= q
		if u < 0 {
			return cand[i]
		}
	}
	return cand[len(cand)-1]
}

// argmax returns the first index of the largest logit (NaN ignored).
func argmax(logits []float32) int32 {
	best := int32(0)
	bv := float32(math.Inf(-1))
	for i, l := range logits {
		if l > bv {
			best, bv = int32(i), l
		}
	}
	return best
}
