package train

import "math"

// Schedule is the learning rate over optimizer steps: linear warmup from 0 to
// LR over Warmup steps, then cosine decay to LR·MinRatio at step Total.
type Schedule struct {
	LR       float64
	Warmup   int
	Total    int
	MinRatio float64
}

// At returns the learning rate of optimizer step s (1-based).
func (s Schedule) At(step int) float64 {
	if s.Warmup > 0 && step <= s.Warmup {
		return s.LR * float64(step) / float64(s.Warmup)
	}
	span := s.Total - s.Warmup
	if span <= 0 {
		return s.LR
	}
	p := float64(step-s.Warmup) / float64(span)
	p = min(max(p, 0), 1)
	lo := s.LR * s.MinRatio
	return lo + (s.LR-lo)*0.5*(1+math.Cos(math.Pi*p))
}
