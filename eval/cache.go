package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/coldint/coldint/internal/jsonobj"

	"github.com/coldint/coldint/chain"
)

// PageRef locates a dataset page: [config, offset, split] in JSON.
type PageRef struct {
	Config string
	Offset int
	Split  string
}

// MarshalJSON encodes p as [config, offset, split].
func (p PageRef) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{p.Config, p.Offset, p.Split})
}

// UnmarshalJSON decodes [config, offset, split].
func (p *PageRef) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) != 3 {
		return fmt.Errorf("parse page ref %s: want [config, offset, split]", jsonobj.Quote(b))
	}
	if err := json.Unmarshal(a[0], &p.Config); err != nil {
		return fmt.Errorf("parse page ref config: %w", err)
	}
	if err := json.Unmarshal(a[1], &p.Offset); err != nil {
		return fmt.Errorf("parse page ref offset: %w", err)
	}
	if err := json.Unmarshal(a[2], &p.Split); err != nil {
		return fmt.Errorf("parse page ref split: %w", err)
	}
	return nil
}

// Sample is one evaluation document of the sample DB.
type Sample struct {
	Page PageRef `json:"page"`
	Ofs  int     `json:"ofs"`
	Text string  `json:"sample"`
}

// FirstSeen records who first served a model content (copy detection).
type FirstSeen struct {
	Block  chain.BlockNumber `json:"block"`
	Hotkey string            `json:"hotkey"`
}

// Cache is the eval cache / sample DB (docs/validator.md#the-eval-cache): a loss matrix over model
// content (unsalted directory hash) × sample, NaN meaning unknown. It is a
// plain data structure; callers serialise access.
type Cache struct {
	// Samples are the DB's documents, oldest first; column j of Losses is Samples[j].
	Samples []Sample
	// Models are the unsalted directory hashes; row i of Losses is Models[i].
	Models []string
	// Losses is len(Models) × len(Samples).
	Losses [][]float64
	// ModelDirHashes caches model directory → hash.
	ModelDirHashes map[string]string
	// LastExtend is when samples were last added.
	LastExtend time.Time
	// FirstSeen maps a model index to its first server. (The reference turns
	// these int keys into strings through JSON, docs/validator.md#fixed-quirks; here they are ints in
	// memory and decimal strings on disk, consistently.)
	FirstSeen map[int]FirstSeen
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{ModelDirHashes: map[string]string{}, FirstSeen: map[int]FirstSeen{}}
}

func nanRow(n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		r[i] = math.NaN()
	}
	return r
}

// ModelIndex returns the row of a model content hash, appending a row of
// unknowns when the hash is new.
func (c *Cache) ModelIndex(hash string) int {
	for i, h := range c.Models {
		if h == hash {
			return i
		}
	}
	c.Models = append(c.Models, hash)
	c.Losses = append(c.Losses, nanRow(len(c.Samples)))
	return len(c.Models) - 1
}

// ExtendCount returns how many samples update_sampleset should add now: the
// DB is empty → db_min_samples; db_extend_interval passed since the last
// extend → db_extend_samples; otherwise 0.
func (c *Cache) ExtendCount(now time.Time, d Defaults) int {
	if len(c.Samples) == 0 {
		return d.DBMinSamples
	}
	if now.Sub(c.LastExtend).Seconds() >= d.DBExtendInterval {
		return d.DBExtendSamples
	}
	return 0
}

// PageTries is the most dataset pages update_sampleset fetches to gather n
// new samples: max(3, 2·n/rowsPerPage) (docs/validator.md#the-eval-cache).
func PageTries(n, rowsPerPage int) int {
	if rowsPerPage < 1 {
		rowsPerPage = 1
	}
	return max(3, 2*n/rowsPerPage)
}

// ShuffleTruncate shuffles freshly fetched rows and keeps at most n of them,
// as update_sampleset does before [Cache.Extend].
func ShuffleTruncate(rows []Sample, n int, rng *rand.Rand) []Sample {
	out := append([]Sample(nil), rows...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if len(out) > n {
		out = out[:max(n, 0)]
	}
	return out
}

// Extend appends samples (already shuffled and truncated by the caller),
// grows every row with unknowns and records now as the extend time. When the
// DB then holds more than maxSamples, the oldest samples and their columns
// are dropped.
func (c *Cache) Extend(samples []Sample, now time.Time, maxSamples int) {
	c.Samples = append(c.Samples, samples...)
	for i := range c.Losses {
		c.Losses[i] = append(c.Losses[i], nanRow(len(samples))...)
	}
	c.LastExtend = now
	if maxSamples > 0 && len(c.Samples) > maxSamples {
		drop := len(c.Samples) - maxSamples
		c.Samples = append([]Sample(nil), c.Samples[drop:]...)
		for i := range c.Losses {
			c.Losses[i] = append([]float64(nil), c.Losses[i][drop:]...)
		}
	}
}

// PickSamples chooses the columns to evaluate for the given model rows
// (docs/validator.md#the-eval-cache pick_samples): the sample indices are randomly permuted, sorted
// ascending by how many of the rows are unknown (NaN) there, and the last n
// are returned (the most unknown samples).
//
// Quirk fix (docs/validator.md#fixed-quirks "argsort ties are unstable"): a stable sort over the random
// permutation, so ties are random but reproducible from rng.
func (c *Cache) PickSamples(rows []int, n int, rng *rand.Rand) []int {
	perm := rng.Perm(len(c.Samples))
	nan := make([]int, len(c.Samples))
	for _, r := range rows {
		if r < 0 || r >= len(c.Losses) {
			continue
		}
		for j, v := range c.Losses[r] {
			if math.IsNaN(v) {
				nan[j]++
			}
		}
	}
	sort.SliceStable(perm, func(a, b int) bool { return nan[perm[a]] < nan[perm[b]] })
	if n < len(perm) {
		perm = perm[len(perm)-n:]
	}
	return perm
}

// RowPlan says which of a model's picked samples the engine must compute.
type RowPlan struct {
	// Compute are positions (into picked) whose loss is unknown, plus the +Inf
	// ones when more than half the picked row is +Inf.
	Compute []int
	// Check are cached positions recomputed to verify the cache.
	Check []int
}

// Plan decides what to compute for model row on the picked columns
// (docs/validator.md#the-eval-cache "per model"): the unknown entries; also the +Inf entries if more than
// half the picked row is +Inf; and, when more values are cached than are to
// be computed, min(⌊0.02·n_cached⌋, 10) cached entries (the first in picked
// order) as a spot check.
func (c *Cache) Plan(row int, picked []int) RowPlan {
	var p RowPlan
	vals := c.rowValues(row, picked)
	nInf := 0
	for _, v := range vals {
		if math.IsInf(v, 1) {
			nInf++
		}
	}
	redoInf := 2*nInf > len(vals)
	var cached []int
	for i, v := range vals {
		if math.IsNaN(v) || (redoInf && math.IsInf(v, 1)) {
			p.Compute = append(p.Compute, i)
		} else {
			cached = append(cached, i)
		}
	}
	if len(cached) > len(p.Compute) {
		k := min(int(math.Floor(SampleCheckFraction*float64(len(cached)))), SampleCheckMaxN)
		p.Check = cached[:k]
	}
	return p
}

func (c *Cache) rowValues(row int, picked []int) []float64 {
	out := make([]float64, len(picked))
	for i, col := range picked {
		out[i] = math.NaN()
		if row >= 0 && row < len(c.Losses) && col >= 0 && col < len(c.Losses[row]) {
			out[i] = c.Losses[row][col]
		}
	}
	return out
}

// Mismatch reports whether a recomputed loss disagrees with its cached value
// by a relative 0.1 % or more; a non-finite value on either side or a cached
// 0 never mismatches.
func Mismatch(cached, fresh float64) bool {
	if math.IsNaN(cached) || math.IsInf(cached, 0) || math.IsNaN(fresh) || math.IsInf(fresh, 0) || cached == 0 {
		return false
	}
	return math.Abs(fresh-cached)/math.Abs(cached) >= CacheRelTolerance
}

// Merge folds a model's computed losses (computed maps picked position →
// loss, covering plan.Compute and plan.Check) into the full loss vector over
// picked and writes the known values back to the cache. If any check
// mismatches ([Mismatch]) the model's whole row is reset to unknown first,
// and in this step its cached positions count as NaN; reset reports that.
func (c *Cache) Merge(row int, picked []int, plan RowPlan, computed map[int]float64) (full []float64, reset bool) {
	cachedVals := c.rowValues(row, picked)
	for _, i := range plan.Check {
		if v, ok := computed[i]; ok && Mismatch(cachedVals[i], v) {
			reset = true
			break
		}
	}
	if reset && row >= 0 && row < len(c.Losses) {
		c.Losses[row] = nanRow(len(c.Samples))
	}
	full = make([]float64, len(picked))
	for i := range picked {
		switch v, ok := computed[i]; {
		case ok:
			full[i] = v
		case reset:
			full[i] = math.NaN()
		default:
			full[i] = cachedVals[i]
		}
	}
	if row >= 0 && row < len(c.Losses) {
		for i, col := range picked {
			if v, ok := computed[i]; ok && !math.IsNaN(v) && col >= 0 && col < len(c.Losses[row]) {
				c.Losses[row][col] = v
			}
		}
	}
	return full, reset
}

// ObserveFirstSeen records that hotkey serves model row idx under a
// commitment at block, and reports whether it is a copy: another hotkey first
// served the same content (docs/validator.md#the-eval-cache copy detection). The lowest block wins.
//
// Quirk fix: on equal blocks the reference lets the later caller win, so two
// equal-block servers flip each step depending on visit order; here the
// lexicographically smaller hotkey wins, independent of order.
func (c *Cache) ObserveFirstSeen(idx int, block chain.BlockNumber, hotkey string) (first FirstSeen, isCopy bool) {
	if c.FirstSeen == nil {
		c.FirstSeen = map[int]FirstSeen{}
	}
	fs, ok := c.FirstSeen[idx]
	if !ok || block < fs.Block || (block == fs.Block && hotkey < fs.Hotkey) {
		fs = FirstSeen{Block: block, Hotkey: hotkey}
		c.FirstSeen[idx] = fs
	}
	return fs, fs.Hotkey != hotkey
}
