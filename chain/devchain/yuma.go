package devchain

import (
	"cmp"
	"math"
	"slices"

	"github.com/coldint/coldint/chain"
)

// Yuma consensus, as subtensor's epoch computes it (the sparse
// epoch_mechanism, original Yuma: Yuma3 and liquid alpha off, bonds penalty
// 1). It runs for a subnet in every block where
// (block + netuid + 1) mod (tempo + 1) == tempo, before the block's own
// transactions, from the stakes, validator permits, weights and bonds then in
// the state. The chain computes in I32F32 fixed point; this file computes in
// float64, so a published u16 value may differ from the runtime's by one
// step. The subnet owner's exemptions and the commit-reveal column mask are
// not modelled (the devchain has no subnet owner neuron).

const (
	defaultKappa              = 32_767  // u16 proportion of stake that must support a weight (0.5)
	defaultBondsMovingAverage = 900_000 // per million: bonds keep 90 % of their old value each epoch
	activityCutoffMilli       = 13_889  // the activity cutoff is 13.889 tempos (5000 blocks at tempo 360)
	emissionPerBlock          = 1_000_000_000
	// maxEpochsPerApply bounds the epochs run for one long Advance: only the
	// last ones run (bonds then carry 0.9^256 of their older values, nothing).
	maxEpochsPerApply = 256
)

// epochResult is what one epoch publishes per uid.
type epochResult struct {
	Incentive      uint16 `json:"incentive,omitempty"`
	Consensus      uint16 `json:"consensus,omitempty"`
	Dividends      uint16 `json:"dividends,omitempty"`
	ValidatorTrust uint16 `json:"validator_trust,omitempty"`
	Emission       uint64 `json:"emission,omitempty"`
}

// isEpochBlock reports whether subtensor runs netuid's epoch in block b.
func isEpochBlock(netuid chain.NetUID, tempo uint16, b chain.BlockNumber) bool {
	if tempo == 0 {
		return false
	}
	return (uint64(b)+uint64(netuid)+1)%(uint64(tempo)+1) == uint64(tempo)
}

// runEpochs runs the epochs of every subnet whose epoch blocks lie in
// (from, to], in block order.
func (st *state) runEpochs(from, to chain.BlockNumber) {
	if to <= from {
		return
	}
	for _, s := range st.Subnets {
		t := uint64(s.Params.Tempo)
		if t == 0 {
			continue
		}
		// The first epoch block after from.
		period := t + 1
		r := (uint64(from) + 1 + uint64(s.Netuid) + 1) % period
		first := uint64(from) + 1 + (t+period-r)%period
		if first > uint64(to) {
			continue
		}
		n := (uint64(to)-first)/period + 1
		if n > maxEpochsPerApply {
			first += (n - maxEpochsPerApply) * period
		}
		for b := first; b <= uint64(to); b += period {
			st.revealTimelocked(s, chain.BlockNumber(b))
			s.epoch(chain.BlockNumber(b))
		}
	}
}

// epoch runs Yuma consensus for s at block b and stores the results and bonds.
func (s *subnet) epoch(b chain.BlockNumber) {
	n := len(s.Neurons)
	if n == 0 {
		return
	}
	p := s.Params
	kappa := float64(cmp.Or(p.Kappa, defaultKappa)) / 65535
	bma := float64(cmp.Or(p.BondsMovingAverage, defaultBondsMovingAverage)) / 1e6
	cutoff := max(uint64(activityCutoffMilli)*uint64(p.Tempo)/1000, 1)
	if p.ActivityCutoff > 0 {
		cutoff = p.ActivityCutoff
	}

	stake := make([]float64, n)
	for i, nn := range s.Neurons {
		stake[i] = float64(nn.Stake)
	}
	normalize(stake)
	permit := s.permits()
	active := make([]float64, n)
	for i, nn := range s.Neurons {
		if permit[i] && uint64(nn.LastUpdate)+cutoff >= uint64(b) {
			active[i] = stake[i]
		}
	}
	normalize(active)

	w := s.epochWeights(permit)
	consensus := weightedMedianCols(active, w, n, kappa)
	clipped := make([][]float64, n)
	vtrust := make([]float64, n)
	for i, row := range w {
		clipped[i] = make([]float64, n)
		for j, x := range row {
			clipped[i][j] = min(x, consensus[j])
			vtrust[i] += clipped[i][j]
		}
	}
	incentive := make([]float64, n)
	for i := range clipped {
		for j, x := range clipped[i] {
			incentive[j] += x * active[i]
		}
	}
	normalize(incentive)
	dividends := s.updateBonds(b, clipped, active, incentive, 1-bma)

	s.publish(b, stake, active, consensus, incentive, dividends, vtrust)
}

// permits are subtensor's is_topk_nonzero over the stakes: the MaxValidators
// largest non-zero stakes (ties: the higher uid wins, as its stable ascending
// sort drops the lower uids first).
func (s *subnet) permits() []bool {
	n := len(s.Neurons)
	out := make([]bool, n)
	for i, nn := range s.Neurons {
		out[i] = nn.Stake > 0
	}
	k := int(s.Params.MaxValidators)
	if n < k {
		return out
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, c int) int { return cmp.Compare(s.Neurons[a].Stake, s.Neurons[c].Stake) })
	for _, i := range order[:n-k] {
		out[i] = false
	}
	return out
}

// epochWeights is the dense, row-normalised weight matrix: rows of validators
// without a permit, self weights and weights set before their target
// registered are dropped.
func (s *subnet) epochWeights(permit []bool) [][]float64 {
	n := len(s.Neurons)
	w := make([][]float64, n)
	for i, nn := range s.Neurons {
		w[i] = make([]float64, n)
		if !permit[i] {
			continue
		}
		for _, x := range nn.Weights {
			j := int(x.UID)
			if j >= n || j == i || nn.LastUpdate <= s.Neurons[j].RegisteredAt {
				continue
			}
			w[i][j] = float64(x.Value)
		}
		normalize(w[i])
	}
	return w
}

// weightedMedianCols is subtensor's weighted_median_col_sparse: per column,
// the lowest weight v such that the stake of the validators (with stake)
// weighting the column at most v exceeds 1 - kappa of the stake.
func weightedMedianCols(stake []float64, w [][]float64, n int, kappa float64) []float64 {
	var rows []int
	total := 0.0
	for i, s := range stake {
		if s > 0 {
			rows = append(rows, i)
			total += s
		}
	}
	out := make([]float64, n)
	if len(rows) == 0 {
		return out
	}
	minority := total - kappa
	type vs struct{ v, s float64 }
	col := make([]vs, len(rows))
	for j := range n {
		for k, i := range rows {
			col[k] = vs{w[i][j], stake[i]}
		}
		slices.SortFunc(col, func(a, b vs) int { return cmp.Compare(a.v, b.v) })
		if minority < 0 { // kappa above the whole stake: the runtime's search ends at the lowest weight
			out[j] = col[0].v
			continue
		}
		below := 0.0 // stake strictly below the current value
		for k := 0; k < len(col); {
			v, at := col[k].v, 0.0
			for ; k < len(col) && col[k].v == v; k++ {
				at += col[k].s
			}
			if below <= minority && minority < below+at {
				out[j] = v
				break
			}
			below += at
			out[j] = v // the largest value when rounding leaves no crossing
		}
	}
	return out
}

// updateBonds computes the EMA bonds (original Yuma) from the clipped
// weights, stores them (column max-upscaled to u16 as the runtime stores
// them) and returns the normalised dividends.
func (s *subnet) updateBonds(b chain.BlockNumber, clipped [][]float64, active, incentive []float64, alpha float64) []float64 {
	n := len(s.Neurons)
	lastTempo := uint64(0)
	if uint64(b) > uint64(s.Params.Tempo) {
		lastTempo = uint64(b) - uint64(s.Params.Tempo)
	}
	if s.LastEpoch > 0 {
		lastTempo = uint64(s.LastEpoch) + 1
	}
	old := make([][]float64, n)
	delta := make([][]float64, n)
	for i := range n {
		old[i] = make([]float64, n)
		delta[i] = make([]float64, n)
		for j := range n {
			delta[i][j] = clipped[i][j] * active[i]
			if i < len(s.Bonds) && j < len(s.Bonds[i]) && lastTempo > uint64(s.Neurons[j].RegisteredAt) {
				old[i][j] = float64(s.Bonds[i][j])
			}
		}
	}
	colNormalize(old)
	colNormalize(delta)
	ema := make([][]float64, n)
	for i := range n {
		ema[i] = make([]float64, n)
		for j := range n {
			ema[i][j] = alpha*delta[i][j] + (1-alpha)*old[i][j]
		}
	}
	colNormalize(ema)
	div := make([]float64, n)
	for i := range n {
		for j := range n {
			div[i] += ema[i][j] * incentive[j]
		}
	}
	normalize(div)
	s.Bonds = make([][]uint16, n)
	for i := range n {
		s.Bonds[i] = make([]uint16, n)
	}
	for j := range n {
		top := 0.0
		for i := range n {
			top = max(top, ema[i][j])
		}
		for i := range n {
			if top > 0 {
				s.Bonds[i][j] = toU16(ema[i][j] / top)
			}
		}
	}
	return div
}

// publish stores one epoch's results, with the emission of the epoch's
// (tempo + 1) blocks split by incentive + dividends (by stake when nobody
// earned either).
func (s *subnet) publish(b chain.BlockNumber, stake, active, consensus, incentive, dividends, vtrust []float64) {
	n := len(s.Neurons)
	combined := make([]float64, n)
	sum := 0.0
	for i := range n {
		combined[i] = incentive[i] + dividends[i]
		sum += combined[i]
	}
	if sum == 0 {
		src := active
		if isZero(active) {
			src = stake
		}
		copy(combined, src)
	}
	normalize(combined)
	rao := float64(emissionPerBlock) * float64(uint64(s.Params.Tempo)+1)
	for i, nn := range s.Neurons {
		nn.Epoch = epochResult{
			Incentive:      toU16(incentive[i]),
			Consensus:      toU16(consensus[i]),
			Dividends:      toU16(dividends[i]),
			ValidatorTrust: toU16(vtrust[i]),
			Emission:       uint64(combined[i] * rao),
		}
	}
	s.LastEpoch = b
}

// toU16 is fixed_proportion_to_u16: x × 65535, truncated and saturated.
func toU16(x float64) uint16 {
	v := math.Floor(x * 65535)
	return uint16(min(max(v, 0), 65535))
}

func normalize(x []float64) {
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	if sum == 0 {
		return
	}
	for i := range x {
		x[i] /= sum
	}
}

func colNormalize(m [][]float64) {
	if len(m) == 0 {
		return
	}
	for j := range m[0] {
		sum := 0.0
		for i := range m {
			sum += m[i][j]
		}
		if sum == 0 {
			continue
		}
		for i := range m {
			m[i][j] /= sum
		}
	}
}

func isZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}
