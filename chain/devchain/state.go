package devchain

import (
	"fmt"
	"log/slog"
	"slices"
	"unicode/utf8"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
)

// SubnetParams are the per-subnet rules the devchain enforces. They mirror
// the subtensor hyperparameters that matter to coldint.
type SubnetParams struct {
	// MaxUIDs is the number of uid slots; a registration on a full subnet
	// replaces the neuron registered longest ago.
	MaxUIDs uint16 `json:"max_uids"`
	// CommitRateLimit is the number of blocks between two commitments of one
	// hotkey (the Commitments pallet's RateLimit, 100 on spec 218).
	CommitRateLimit uint64 `json:"commit_rate_limit"`
	// WeightsRateLimit is the number of blocks between two weight settings
	// of one uid (WeightsSetRateLimit, default 100).
	WeightsRateLimit uint64 `json:"weights_rate_limit"`
	// WeightsVersionKey is the lowest version key set_weights accepts (0: any).
	WeightsVersionKey uint64 `json:"weights_version_key"`
	// MinAllowedWeights is the least number of weights in a row (self weights excepted).
	MinAllowedWeights uint16 `json:"min_allowed_weights"`
	// MaxValidators is how many neurons (by stake, stake > 0) hold a validator permit.
	MaxValidators uint16 `json:"max_validators"`
	// Tempo is the epoch length in blocks (commit-reveal epochs).
	Tempo uint16 `json:"tempo"`
	// CommitReveal makes set_weights fail; weights go through commit/reveal.
	CommitReveal bool `json:"commit_reveal"`
	// RevealPeriodEpochs is the epoch distance between commit and reveal.
	RevealPeriodEpochs uint64 `json:"reveal_period_epochs"`
	// CommitRevealVersion is the commit-reveal version the chain reports:
	// 4 (subtensor's current one) also takes timelocked commits, which the
	// chain reveals by itself; below 4 only hash commits and reveals exist.
	// Hash commits are taken under either. Subnets created before the field
	// existed read 0.
	CommitRevealVersion uint16 `json:"commit_reveal_version,omitempty"`
	// Kappa is the u16 proportion of stake whose weights set the consensus
	// (0: subtensor's default 32767, one half).
	Kappa uint16 `json:"kappa,omitempty"`
	// BondsMovingAverage is the per-million share of old bonds kept each
	// epoch (0: subtensor's default 900000).
	BondsMovingAverage uint64 `json:"bonds_moving_average,omitempty"`
	// ActivityCutoff is the number of blocks after its last weights in which a
	// validator counts as active (0: 13.889 tempos, 5000 at tempo 360).
	ActivityCutoff uint64 `json:"activity_cutoff,omitempty"`
}

// DefaultSubnetParams returns subtensor-like defaults: 256 uids, commitment
// rate limit 100 blocks, weights rate limit 100 blocks, tempo 360.
func DefaultSubnetParams() SubnetParams {
	return SubnetParams{
		MaxUIDs:             256,
		CommitRateLimit:     100,
		WeightsRateLimit:    100,
		MaxValidators:       64,
		Tempo:               360,
		RevealPeriodEpochs:  1,
		CommitRevealVersion: timelock.CommitRevealVersion,
	}
}

func (p SubnetParams) validate() error {
	if p.MaxUIDs == 0 {
		return fmt.Errorf("subnet params: max uids must be > 0: %w", errBadRequest)
	}
	return nil
}

// neuron is the stored state of one uid.
type neuron struct {
	Hotkey       chain.Hotkey      `json:"hotkey"`
	Coldkey      chain.Coldkey     `json:"coldkey"`
	RegisteredAt chain.BlockNumber `json:"registered_at"`
	LastUpdate   chain.BlockNumber `json:"last_update"`
	Stake        uint64            `json:"stake"`
	Weights      chain.Weights     `json:"weights,omitempty"`
	Epoch        epochResult       `json:"epoch,omitzero"` // the last Yuma consensus results
}

type weightCommit struct {
	Hash  [32]byte          `json:"hash"`
	Block chain.BlockNumber `json:"block"`
}

// subnet is the stored state of one netuid.
type subnet struct {
	Netuid      chain.NetUID                       `json:"netuid"`
	Params      SubnetParams                       `json:"params"`
	Neurons     []*neuron                          `json:"neurons"`
	Commitments map[chain.Hotkey]chain.Commitment  `json:"commitments"`
	LastCommit  map[chain.Hotkey]chain.BlockNumber `json:"last_commit"`
	WCommits    map[chain.Hotkey][]weightCommit    `json:"weight_commits"`
	Bonds       [][]uint16                         `json:"bonds,omitempty"` // [validator][uid], column max-upscaled
	LastEpoch   chain.BlockNumber                  `json:"last_epoch,omitempty"`
	TLCommits   []tlCommit                         `json:"timelocked_commits,omitempty"`
}

func (s *subnet) uidOf(h chain.Hotkey) (chain.UID, bool) {
	for i, n := range s.Neurons {
		if n.Hotkey == h {
			return chain.UID(i), true
		}
	}
	return 0, false
}

// state is the whole chain state, rebuilt from the log on open.
type state struct {
	Head    chain.BlockNumber
	Subnets map[chain.NetUID]*subnet
	// beacon decrypts timelocked commits; derived from the genesis record.
	beacon *timelock.TestBeacon
	// log receives reveal notes (nil: none, as while the log is replayed).
	log *slog.Logger
}

func newState() *state { return &state{Subnets: map[chain.NetUID]*subnet{}} }

func (st *state) subnet(netuid chain.NetUID) (*subnet, error) {
	s, ok := st.Subnets[netuid]
	if !ok {
		return nil, fmt.Errorf("netuid %d: %w", netuid, chain.ErrUnknownNetuid)
	}
	return s, nil
}

func (st *state) registered(netuid chain.NetUID, h chain.Hotkey) (*subnet, chain.UID, error) {
	s, err := st.subnet(netuid)
	if err != nil {
		return nil, 0, err
	}
	uid, ok := s.uidOf(h)
	if !ok {
		return nil, 0, fmt.Errorf("hotkey %s on netuid %d: %w", h, netuid, chain.ErrNotRegistered)
	}
	return s, uid, nil
}

// op is one state transition. Ops are checked by check (against the state
// and the block they would be included in) and then applied by apply; the
// log stores applied ops so that replay is apply alone.
type op struct {
	Kind      string            `json:"kind"`
	Netuid    chain.NetUID      `json:"netuid,omitempty"`
	Hotkey    chain.Hotkey      `json:"hotkey,omitzero"`
	Coldkey   chain.Coldkey     `json:"coldkey,omitzero"`
	Data      string            `json:"data,omitempty"`
	UIDs      []chain.UID       `json:"uids,omitempty"`
	Values    []uint16          `json:"values,omitempty"`
	Salt      []uint16          `json:"salt,omitempty"`
	Version   uint64            `json:"version,omitempty"`
	Hash      [32]byte          `json:"hash,omitzero"`
	N         uint64            `json:"n,omitempty"`
	Params    *SubnetParams     `json:"params,omitempty"`
	Commit    []byte            `json:"commit,omitempty"`     // timelocked ciphertext
	Round     uint64            `json:"round,omitempty"`      // its reveal round
	CRVersion uint16            `json:"cr_version,omitempty"` // commit-reveal version sent with it
	Block     chain.BlockNumber `json:"-"`                    // inclusion block, set by the chain
}

// maxAdvance bounds one Advance (a year of 12 s blocks is 2.6 million).
const maxAdvance = 100_000_000

const (
	opCreateSubnet  = "create_subnet"
	opSetParams     = "set_params"
	opRegister      = "register"
	opCommit        = "commit"
	opSetWeights    = "set_weights"
	opCommitWeights = "commit_weights"
	opRevealWeights = "reveal_weights"
	opSetStake      = "set_stake"
	opAdvance       = "advance"
)

// check validates o for inclusion in block b without changing st.
func (st *state) check(o *op, b chain.BlockNumber) error {
	switch o.Kind {
	case opCreateSubnet:
		if _, ok := st.Subnets[o.Netuid]; ok {
			return fmt.Errorf("create subnet %d: already exists: %w", o.Netuid, errBadRequest)
		}
		if o.Params == nil {
			return fmt.Errorf("create subnet %d: no params: %w", o.Netuid, errBadRequest)
		}
		return o.Params.validate()
	case opSetParams:
		if _, err := st.subnet(o.Netuid); err != nil {
			return err
		}
		if o.Params == nil {
			return fmt.Errorf("set params: no params: %w", errBadRequest)
		}
		return o.Params.validate()
	case opRegister:
		s, err := st.subnet(o.Netuid)
		if err != nil {
			return err
		}
		if _, ok := s.uidOf(o.Hotkey); ok {
			return fmt.Errorf("register %s on netuid %d: %w", o.Hotkey, o.Netuid, chain.ErrAlreadyRegistered)
		}
		return nil
	case opSetStake:
		_, _, err := st.registered(o.Netuid, o.Hotkey)
		return err
	case opCommit:
		s, _, err := st.registered(o.Netuid, o.Hotkey)
		if err != nil {
			return err
		}
		if len(o.Data) > chain.MaxCommitmentLen {
			return fmt.Errorf("commit %d bytes (max %d): %w", len(o.Data), chain.MaxCommitmentLen, chain.ErrTooLarge)
		}
		// Subtensor stores any bytes; the devchain keeps its log and wire
		// format in JSON, so it refuses what JSON cannot carry exactly.
		// Readers treat such data as malformed anyway.
		if !utf8.ValidString(o.Data) {
			return fmt.Errorf("commit: data is not valid UTF-8: %w", chain.ErrMalformedCommitment)
		}
		if last, ok := s.LastCommit[o.Hotkey]; ok && uint64(b-last) < s.Params.CommitRateLimit {
			return fmt.Errorf("commit on netuid %d: last commitment at block %d, rate limit %d blocks, now %d: %w",
				o.Netuid, last, s.Params.CommitRateLimit, b, chain.ErrRateLimited)
		}
		return nil
	case opSetWeights:
		s, uid, err := st.registered(o.Netuid, o.Hotkey)
		if err != nil {
			return err
		}
		if s.Params.CommitReveal {
			return fmt.Errorf("set weights on netuid %d: %w", o.Netuid, chain.ErrCommitRevealEnabled)
		}
		return st.checkWeights(s, uid, o, b, true)
	case opCommitWeights:
		s, uid, err := st.registered(o.Netuid, o.Hotkey)
		if err != nil {
			return err
		}
		if !s.Params.CommitReveal {
			return fmt.Errorf("commit weights on netuid %d: commit-reveal disabled: %w", o.Netuid, chain.ErrCommitReveal)
		}
		if len(s.WCommits[o.Hotkey]) >= 10 {
			return fmt.Errorf("commit weights: 10 unrevealed commits: %w", chain.ErrCommitReveal)
		}
		return checkRate(s, uid, b)
	case opRevealWeights:
		s, uid, err := st.registered(o.Netuid, o.Hotkey)
		if err != nil {
			return err
		}
		if !s.Params.CommitReveal {
			return fmt.Errorf("reveal weights on netuid %d: commit-reveal disabled: %w", o.Netuid, chain.ErrCommitReveal)
		}
		if _, err := s.findCommit(o, b); err != nil {
			return err
		}
		return st.checkWeights(s, uid, o, b, false)
	case opCommitTimelocked:
		return st.checkTimelocked(o, b)
	case opAdvance:
		if o.N == 0 || o.N > maxAdvance {
			return fmt.Errorf("advance %d blocks: must be 1 to %d: %w", o.N, maxAdvance, errBadRequest)
		}
		return nil
	}
	return fmt.Errorf("unknown op %q: %w", o.Kind, errBadRequest)
}

func checkRate(s *subnet, uid chain.UID, b chain.BlockNumber) error {
	last := s.Neurons[uid].LastUpdate
	if last != 0 && uint64(b-last) < s.Params.WeightsRateLimit {
		return fmt.Errorf("set weights on netuid %d: last update at block %d, rate limit %d blocks, now %d: %w",
			s.Netuid, last, s.Params.WeightsRateLimit, b, chain.ErrRateLimited)
	}
	return nil
}

// checkWeights applies subtensor's set_weights checks (spec chain.md B.8),
// except stake and permit, which the devchain does not model.
func (st *state) checkWeights(s *subnet, uid chain.UID, o *op, b chain.BlockNumber, rate bool) error {
	n := len(s.Neurons)
	if len(o.UIDs) != len(o.Values) {
		return fmt.Errorf("set weights: %d uids but %d values: %w", len(o.UIDs), len(o.Values), chain.ErrInvalidWeights)
	}
	if len(o.UIDs) > n {
		return fmt.Errorf("set weights: %d uids but the subnet has %d neurons: %w", len(o.UIDs), n, chain.ErrInvalidWeights)
	}
	if vk := s.Params.WeightsVersionKey; vk != 0 && o.Version < vk {
		return fmt.Errorf("set weights: version key %d below %d: %w", o.Version, vk, chain.ErrBadVersionKey)
	}
	if rate {
		if err := checkRate(s, uid, b); err != nil {
			return err
		}
	}
	seen := map[chain.UID]bool{}
	for _, u := range o.UIDs {
		if seen[u] {
			return fmt.Errorf("set weights: duplicate uid %d: %w", u, chain.ErrInvalidWeights)
		}
		seen[u] = true
		if int(u) >= n {
			return fmt.Errorf("set weights: uid %d does not exist (%d neurons): %w", u, n, chain.ErrInvalidWeights)
		}
	}
	self := len(o.UIDs) == 1 && o.UIDs[0] == uid
	if need := min(int(s.Params.MinAllowedWeights), n); !self && len(o.UIDs) < need {
		return fmt.Errorf("set weights: %d weights, at least %d needed: %w", len(o.UIDs), need, chain.ErrInvalidWeights)
	}
	return nil
}

// epoch is subtensor's get_epoch_index.
func epoch(netuid chain.NetUID, tempo uint16, b chain.BlockNumber) uint64 {
	return (uint64(b) + uint64(netuid) + 1) / (uint64(tempo) + 1)
}

func (s *subnet) findCommit(o *op, b chain.BlockNumber) (int, error) {
	h := chain.CommitHash(o.Hotkey, o.Netuid, o.UIDs, o.Values, o.Salt, o.Version)
	for i, c := range s.WCommits[o.Hotkey] {
		if c.Hash != h {
			continue
		}
		want := epoch(s.Netuid, s.Params.Tempo, c.Block) + s.Params.RevealPeriodEpochs
		switch now := epoch(s.Netuid, s.Params.Tempo, b); {
		case now < want:
			return 0, fmt.Errorf("reveal weights: too early (epoch %d, reveal in %d): %w", now, want, chain.ErrCommitReveal)
		case now > want:
			return 0, fmt.Errorf("reveal weights: commit expired (epoch %d, reveal was in %d): %w", now, want, chain.ErrCommitReveal)
		}
		return i, nil
	}
	return 0, fmt.Errorf("reveal weights: no commit matches: %w", chain.ErrCommitReveal)
}

// apply performs o, which check accepted, in block o.Block.
func (st *state) apply(o *op) error {
	b := o.Block
	if b < st.Head {
		return fmt.Errorf("apply %s: block %d before head %d", o.Kind, b, st.Head)
	}
	// Epochs run at the start of their block, before its transactions.
	st.runEpochs(st.Head, b)
	switch o.Kind {
	case opCreateSubnet:
		st.Subnets[o.Netuid] = &subnet{
			Netuid:      o.Netuid,
			Params:      *o.Params,
			Commitments: map[chain.Hotkey]chain.Commitment{},
			LastCommit:  map[chain.Hotkey]chain.BlockNumber{},
			WCommits:    map[chain.Hotkey][]weightCommit{},
		}
	case opSetParams:
		st.Subnets[o.Netuid].Params = *o.Params
	case opRegister:
		s := st.Subnets[o.Netuid]
		nn := &neuron{Hotkey: o.Hotkey, Coldkey: o.Coldkey, RegisteredAt: b, LastUpdate: b}
		if len(s.Neurons) < int(s.Params.MaxUIDs) {
			s.Neurons = append(s.Neurons, nn)
			break
		}
		// Full: replace the neuron registered longest ago (lowest uid on ties).
		victim := 0
		for i, n := range s.Neurons {
			if n.RegisteredAt < s.Neurons[victim].RegisteredAt {
				victim = i
			}
		}
		old := s.Neurons[victim].Hotkey
		delete(s.Commitments, old)
		delete(s.LastCommit, old)
		delete(s.WCommits, old)
		s.Neurons[victim] = nn
		if victim < len(s.Bonds) {
			clear(s.Bonds[victim])
		}
	case opSetStake:
		s := st.Subnets[o.Netuid]
		uid, _ := s.uidOf(o.Hotkey)
		s.Neurons[uid].Stake = o.N
	case opCommit:
		s := st.Subnets[o.Netuid]
		s.Commitments[o.Hotkey] = chain.Commitment{Hotkey: o.Hotkey, Block: b, Data: o.Data}
		s.LastCommit[o.Hotkey] = b
	case opSetWeights, opRevealWeights:
		s := st.Subnets[o.Netuid]
		uid, _ := s.uidOf(o.Hotkey)
		if o.Kind == opRevealWeights {
			i, err := s.findCommit(o, b)
			if err != nil {
				return err
			}
			s.WCommits[o.Hotkey] = slices.Delete(s.WCommits[o.Hotkey], i, i+1)
		}
		s.setRow(uid, o.UIDs, o.Values, b)
	case opCommitWeights:
		s := st.Subnets[o.Netuid]
		uid, _ := s.uidOf(o.Hotkey)
		s.WCommits[o.Hotkey] = append(s.WCommits[o.Hotkey], weightCommit{Hash: o.Hash, Block: b})
		s.Neurons[uid].LastUpdate = b
	case opCommitTimelocked:
		st.applyTimelocked(o, b)
	case opAdvance:
		// b is the last of the n new blocks.
	default:
		return fmt.Errorf("apply: unknown op %q", o.Kind)
	}
	st.Head = b
	return nil
}

// setRow stores uid's weight row, max-upscaled, as set in block b.
func (s *subnet) setRow(uid chain.UID, uids []chain.UID, values []uint16, b chain.BlockNumber) {
	up := MaxUpscale(values)
	row := make(chain.Weights, len(uids))
	for i, u := range uids {
		row[i] = chain.Weight{UID: u, Value: up[i]}
	}
	s.Neurons[uid].Weights = row
	s.Neurons[uid].LastUpdate = b
}

// MaxUpscale is subtensor's vec_u16_max_upscale_to_u16, the normalisation
// the chain applies to set_weights values before storing them, in the
// runtime's I32F32 fixed-point arithmetic: the largest value becomes 65535.
func MaxUpscale(values []uint16) []uint16 {
	out := make([]uint16, len(values))
	var maxV uint16
	for _, v := range values {
		maxV = max(maxV, v)
	}
	if maxV == 0 {
		copy(out, values)
		return out
	}
	const frac = 32
	const u16max = int64(65535)
	round := func(raw int64) uint16 { // half away from zero, saturating
		r := (raw + 1<<(frac-1)) >> frac
		return uint16(min(max(r, 0), 65535))
	}
	m := int64(maxV)
	for i, v := range values {
		e := int64(v)
		if maxV > 32768 {
			q := (u16max << frac) / m // u16max / max in I32F32, truncated
			out[i] = round(e * q)
		} else {
			out[i] = round((e * u16max << frac) / m)
		}
	}
	return out
}

// metagraph builds the metagraph of s at block b.
func (s *subnet) metagraph(b chain.BlockNumber) *chain.Metagraph {
	mg := &chain.Metagraph{Netuid: s.Netuid, Block: b, Neurons: make([]chain.Neuron, len(s.Neurons))}
	permit := s.permits()
	for i, n := range s.Neurons {
		mg.Neurons[i] = chain.Neuron{
			UID:             chain.UID(i),
			Netuid:          s.Netuid,
			Hotkey:          n.Hotkey,
			Coldkey:         n.Coldkey,
			Active:          true,
			Stake:           n.Stake,
			LastUpdate:      n.LastUpdate,
			ValidatorPermit: permit[i],
			Incentive:       n.Epoch.Incentive,
			Consensus:       n.Epoch.Consensus,
			Dividends:       n.Epoch.Dividends,
			ValidatorTrust:  n.Epoch.ValidatorTrust,
			Emission:        n.Epoch.Emission,
			Axon:            chain.AxonInfo{IP: "0.0.0.0"},
		}
	}
	return mg
}
