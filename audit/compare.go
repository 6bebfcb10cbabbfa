package audit

import (
	"math"

	"github.com/coldint/coldint/evalproof"
)

// disagree reports whether a published loss and a recomputed one differ:
// by the relative tolerance or more when both are finite (absolute when the
// published one is 0), or when only one is finite or the infinities differ.
func disagree(pub, own, tol float64) bool {
	pf, of := finite(pub), finite(own)
	switch {
	case !pf && !of:
		return !(math.IsNaN(pub) && math.IsNaN(own)) && pub != own
	case pf != of:
		return true
	case pub == 0:
		return math.Abs(own) >= tol
	}
	return math.Abs(own-pub)/math.Abs(pub) >= tol
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// compare fills the model's differences and disputes; samples in skip (whose
// text did not check) are left out.
func compare(mr *ModelReport, m *evalproof.Model, own []float64, skip map[int]bool, tol float64) {
	var sum float64
	var nFinite int
	for i, l := range m.Losses {
		if skip[i] || i >= len(own) {
			continue
		}
		pub := float64(l)
		mr.Compared++
		if finite(pub) && finite(own[i]) {
			d := math.Abs(own[i] - pub)
			sum += d
			nFinite++
			mr.MaxAbsDiff = math.Max(mr.MaxAbsDiff, d)
			if pub != 0 {
				mr.MaxRelDiff = math.Max(mr.MaxRelDiff, d/math.Abs(pub))
			}
		}
		if disagree(pub, own[i], tol) {
			mr.Disputes = append(mr.Disputes, Dispute{Index: i, Published: pub, Recomputed: own[i]})
		}
	}
	if nFinite > 0 {
		mr.MeanAbsDiff = sum / float64(nFinite)
	}
	mr.Verdict = VerdictAgree
	if len(mr.Disputes) > 0 {
		mr.Verdict = VerdictDisagree
	}
}

// prove attaches each dispute's sample and its inclusion proof, checked
// against the manifest.
func prove(mr *ModelReport, s *evalproof.Step, ci int) {
	for k := range mr.Disputes {
		d := &mr.Disputes[k]
		d.Sample = s.Competitions[ci].Samples[d.Index]
		p, err := s.Prove(ci, d.Index)
		if err != nil {
			d.ProofError = err.Error()
			continue
		}
		d.Proof = p
		if err := p.Verify(&s.Manifest); err != nil {
			d.ProofError = err.Error()
		} else {
			d.ProofOK = true
		}
	}
}
