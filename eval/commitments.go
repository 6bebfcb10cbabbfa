package eval

import (
	"fmt"
	"sort"
	"time"

	"github.com/coldint/coldint/chain"
)

// ModelMetadata is a parsed commitment: the model id and the block in which it
// was last set (docs/chain.md#commitments, state key hk_metadata).
type ModelMetadata struct {
	ID    chain.ModelID     `json:"id"`
	Block chain.BlockNumber `json:"block"`
}

// ParseCommitment parses a chain commitment into model metadata; malformed
// data wraps chain.ErrMalformedCommitment.
func ParseCommitment(c chain.Commitment) (*ModelMetadata, error) {
	id, err := chain.ParseModelID(c.Data)
	if err != nil {
		return nil, err
	}
	return &ModelMetadata{ID: id, Block: c.Block}, nil
}

// Changed reports whether m differs from known: a nil known, another id or
// another block (a re-commit of the same id moves the block) (docs/chain.md#commitments).
func (m *ModelMetadata) Changed(known *ModelMetadata) bool {
	if m == nil || known == nil {
		return m != known
	}
	return m.ID != known.ID || m.Block != known.Block
}

// DiscardKey is the discarded_commitments key of a hotkey's model:
// "<hotkey>/<ns>/<name>|<full commit>" (docs/hashing.md#commitment-format).
func DiscardKey(hotkey string, id chain.ModelID) string { return hotkey + "/" + id.FullLabel() }

// CommitmentQuery is the chain read of one UID's commitment.
type CommitmentQuery struct {
	UID chain.UID
	// Hotkey is the UID's hotkey SS58 address in the current metagraph.
	Hotkey string
	// Commitment is the stored commitment, nil when the hotkey has none.
	Commitment *chain.Commitment
	// Err is set when the query itself failed: the previous metadata of the
	// hotkey is reused.
	Err error
}

// DedupResult is the outcome of [DedupCommitments].
type DedupResult struct {
	// Metadata maps hotkey → its current commitment, for the kept ones.
	Metadata map[string]*ModelMetadata
	// Blocks maps uid → commitment block, for the kept ones.
	Blocks map[chain.UID]chain.BlockNumber
	// Dropped gives the reason each UID with a commitment was dropped.
	Dropped map[chain.UID]string
	// Undiscard are discard keys to remove from discarded_commitments because
	// their UID is now a top miner.
	Undiscard []string
}

// DedupCommitments parses and deduplicates a chain update's commitments
// (docs/validator.md#commitments-and-dedup): an unparseable commitment drops the UID; among commitments with
// the same full label "ns/name|commit" only those with the lowest block are
// kept (equal blocks: all of them); a kept commitment whose discard key is in
// discarded is dropped when discardWinrate > 0, unless the UID is a top miner,
// in which case the key is returned in Undiscard and the commitment kept. A
// failed query reuses prev[hotkey].
//
// Quirk fixes: the reference decides dedup in one pass in hotkey order, so
// with three equal labels at blocks 10, 5, 5 then 3 it keeps the second one
// (only the last-seen holder is deleted); here the result is the lowest-block
// group whatever the order. The reference also checks the discard set only for
// a label's first holder, and a discarded original lets a later copy through;
// here dedup runs over all parseable commitments first and the discard check
// applies to every survivor.
func DedupCommitments(qs []CommitmentQuery, prev map[string]*ModelMetadata, discarded map[string]bool, discardWinrate float64, top map[chain.UID]bool) DedupResult {
	res := DedupResult{
		Metadata: map[string]*ModelMetadata{},
		Blocks:   map[chain.UID]chain.BlockNumber{},
		Dropped:  map[chain.UID]string{},
	}
	type parsed struct {
		q    CommitmentQuery
		meta *ModelMetadata
	}
	var ok []parsed
	minBlock := map[string]chain.BlockNumber{}
	for _, q := range qs {
		if q.Err != nil {
			if m := prev[q.Hotkey]; m != nil {
				res.Metadata[q.Hotkey] = m
				res.Blocks[q.UID] = m.Block
			}
			continue
		}
		if q.Commitment == nil {
			continue
		}
		m, err := ParseCommitment(*q.Commitment)
		if err != nil {
			res.Dropped[q.UID] = fmt.Sprintf("unparseable commitment: %v", err)
			continue
		}
		ok = append(ok, parsed{q, m})
		lbl := m.ID.FullLabel()
		if b, seen := minBlock[lbl]; !seen || m.Block < b {
			minBlock[lbl] = m.Block
		}
	}
	for _, p := range ok {
		lbl := p.meta.ID.FullLabel()
		if p.meta.Block > minBlock[lbl] {
			res.Dropped[p.q.UID] = fmt.Sprintf("commitment %s at block %d duplicates an older one at block %d", lbl, p.meta.Block, minBlock[lbl])
			continue
		}
		key := DiscardKey(p.q.Hotkey, p.meta.ID)
		if discardWinrate > 0 && discarded[key] {
			if top[p.q.UID] {
				res.Undiscard = append(res.Undiscard, key)
			} else {
				res.Dropped[p.q.UID] = fmt.Sprintf("commitment %s discarded as non-competitive", lbl)
				continue
			}
		}
		res.Metadata[p.q.Hotkey] = p.meta
		res.Blocks[p.q.UID] = p.meta.Block
	}
	sort.Strings(res.Undiscard)
	return res
}

// ResetRetryOnHotkeyChange forgets uid_last_retried_ts of every UID whose
// hotkey changed between two metagraphs (docs/validator.md#commitments-and-dedup), so a new miner in an
// old slot is visited at once.
//
// Quirk fix: the reference only compares UIDs below the old metagraph's
// length; a UID beyond it (the metagraph grew, or the network was switched)
// has an unknown previous hotkey and is reset too.
func ResetRetryOnHotkeyChange(oldHotkeys, newHotkeys []string, lastRetried map[chain.UID]time.Time) {
	for uid := range lastRetried {
		u := int(uid)
		if u >= len(newHotkeys) {
			continue
		}
		if u >= len(oldHotkeys) || oldHotkeys[u] != newHotkeys[u] {
			delete(lastRetried, uid)
		}
	}
}

// TopValidators returns up to n UIDs with a validator permit, by stake
// descending (ties: lower UID first) (docs/validator.md#metagraph-and-top-miners).
func TopValidators(neurons []chain.Neuron, n int) []chain.UID {
	var vs []chain.Neuron
	for _, nr := range neurons {
		if nr.ValidatorPermit {
			vs = append(vs, nr)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Stake != vs[j].Stake {
			return vs[i].Stake > vs[j].Stake
		}
		return vs[i].UID < vs[j].UID
	})
	if len(vs) > n {
		vs = vs[:n]
	}
	out := make([]chain.UID, len(vs))
	for i, v := range vs {
		out[i] = v.UID
	}
	return out
}

// TopMiners returns the "top" miners of a metagraph (docs/validator.md#metagraph-and-top-miners): among the 10
// highest-stake validators with a permit, skipping any whose last weight
// update is more than [MaxValidatorAgeBlocks] old, every UID given more than
// [TopMinerFraction] of that validator's positive weight sum. weights maps a
// validator UID to its weight row. The result is sorted.
func TopMiners(mg *chain.Metagraph, weights map[chain.UID]chain.Weights) []chain.UID {
	set := map[chain.UID]bool{}
	for _, v := range TopValidators(mg.Neurons, 10) {
		nr, _ := mg.ByUID(v)
		if mg.Block > nr.LastUpdate && mg.Block-nr.LastUpdate > MaxValidatorAgeBlocks {
			continue
		}
		var sum float64
		for _, w := range weights[v] {
			sum += float64(w.Value)
		}
		if sum <= 0 {
			continue
		}
		for _, w := range weights[v] {
			if float64(w.Value) > TopMinerFraction*sum {
				set[w.UID] = true
			}
		}
	}
	return sortedUIDs(set)
}
