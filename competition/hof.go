package competition

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/coldint/coldint/chain"
)

// HoFEntry is one hall-of-fame award.
type HoFEntry struct {
	Block  uint64  `json:"block"`
	Reward float64 `json:"reward"`
	Desc   string  `json:"desc,omitempty"`
	URL    string  `json:"url,omitempty"`
}

// HallOfFame maps a hotkey's SS58 address to its awards.
type HallOfFame map[string][]HoFEntry

// ParseHallOfFame parses hall_of_fame.json: an object mapping hotkey SS58 →
// list of {block:int, reward:float, desc:str, url:str}. Any malformed entry
// (a negative or fractional block, a negative or non-finite reward, a value
// that is not a list) rejects the whole file with an error wrapping
// [ErrInvalidConfig]; the caller keeps its previous copy. The reference does
// not validate the file and would fail later in the weight update instead.
func ParseHallOfFame(data []byte) (HallOfFame, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("parse hall of fame: not a JSON object: %w", ErrInvalidConfig)
	}
	out := make(HallOfFame, len(raw))
	for hk, v := range raw {
		var entries []map[string]json.RawMessage
		if err := json.Unmarshal(v, &entries); err != nil {
			return nil, fmt.Errorf("parse hall of fame: hotkey %q: want a list of entries: %w", hk, ErrInvalidConfig)
		}
		for i, e := range entries {
			d := &Fields{M: e}
			block, okB := d.Integer("block", 0, math.MaxInt64/2)
			reward, okR := d.Number("reward", 0, math.MaxFloat64)
			if d.Err() == nil && (!okB || !okR) {
				d.Fail("block/reward", "required")
			}
			if d.Err() != nil {
				return nil, fmt.Errorf("parse hall of fame: hotkey %q entry %d: %w", hk, i, d.Err())
			}
			entry := HoFEntry{Block: uint64(block), Reward: reward}
			entry.Desc, _ = d.String("desc")
			entry.URL, _ = d.String("url")
			out[hk] = append(out[hk], entry)
		}
	}
	return out, nil
}

// HoFEntryWeight is the current weight of one award:
// (reward/200) · 0.995^((currentBlock − entryBlock)/361).
//
// Quirk fix: an entry dated after currentBlock would get a growing factor
// 0.995^(negative) in the reference; here its age is clamped to 0.
func HoFEntryWeight(e HoFEntry, currentBlock uint64) float64 {
	age := float64(currentBlock) - float64(e.Block)
	if age < 0 {
		age = 0
	}
	return e.Reward / RewardsIVFactor * math.Pow(RewardsDecayFactor, age/BlocksPerEpoch)
}

// HoFWeights returns the hall-of-fame reward weight of every UID whose hotkey
// (hotkeys[uid], the current metagraph) is in hof, and their total T. When T
// exceeds maxFraction every weight is scaled by maxFraction/T and T becomes
// maxFraction. A hotkey that is not in the metagraph earns nothing.
func HoFWeights(hof HallOfFame, hotkeys []string, currentBlock uint64, maxFraction float64) (map[chain.UID]float64, float64) {
	rw := map[chain.UID]float64{}
	for uid, hk := range hotkeys {
		entries, ok := hof[hk]
		if !ok || uid >= NUIDs {
			continue
		}
		var w float64
		for _, e := range entries {
			w += HoFEntryWeight(e, currentBlock)
		}
		rw[chain.UID(uid)] = w
	}
	uids := make([]chain.UID, 0, len(rw))
	for u := range rw {
		uids = append(uids, u)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	var total float64
	for _, u := range uids {
		total += rw[u]
	}
	if total > maxFraction {
		for _, u := range uids {
			rw[u] *= maxFraction / total
		}
		total = maxFraction
	}
	return rw, total
}
