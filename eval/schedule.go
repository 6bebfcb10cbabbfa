package eval

import (
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/coldint/coldint/chain"
)

// Visit priorities (docs/validator.md#visiting-uids). A random [0,1) jitter is added to each when a
// UID enters pending.
const (
	PrioPool     = 100.0
	PrioTopModel = 80.0
	PrioInject   = 60.0
	PrioNewModel = 40.0
	PrioRevisit  = 20.0
)

// SyncResult is the outcome code of syncing one model (docs/validator.md#syncing-a-model).
type SyncResult int

// Sync result codes, with the reference's values.
const (
	SyncSuccess         SyncResult = 0
	SyncError           SyncResult = -1
	SyncDownloadFailed  SyncResult = -2
	SyncHashFailed      SyncResult = -3
	SyncModelNotAllowed SyncResult = -4
)

// String names a sync result.
func (r SyncResult) String() string {
	switch r {
	case SyncSuccess:
		return "success"
	case SyncError:
		return "error"
	case SyncDownloadFailed:
		return "download failed"
	case SyncHashFailed:
		return "hash failed"
	case SyncModelNotAllowed:
		return "model not allowed"
	}
	return "unknown"
}

// Retry reports whether the result leaves the metadata unrecorded so that the
// UID is retried on the next chain update (ERROR and DOWNLOAD_FAILED). Other
// results are recorded and only retried when the commitment changes or a
// retry interval is due.
func (r SyncResult) Retry() bool { return r == SyncError || r == SyncDownloadFailed }

// CompState is a competition's scheduling state (docs/validator.md#state cstate).
type CompState struct {
	// Pool are the UIDs kept between steps.
	Pool []chain.UID `json:"uids_pool"`
	// Pending maps UIDs waiting for evaluation to their priority.
	Pending map[chain.UID]float64 `json:"uids_pending"`
	// Weights are the competition's last weights (before HoF and EMA).
	Weights map[chain.UID]float64 `json:"uids_weight"`
}

// Has reports whether uid is pooled or pending.
func (c *CompState) Has(uid chain.UID) bool {
	if slices.Contains(c.Pool, uid) {
		return true
	}
	_, ok := c.Pending[uid]
	return ok
}

// Remove takes uid out of the pool, pending and weights.
func (c *CompState) Remove(uid chain.UID) {
	c.Pool = slices.DeleteFunc(c.Pool, func(u chain.UID) bool { return u == uid })
	delete(c.Pending, uid)
	delete(c.Weights, uid)
}

// ActiveUIDs returns ∪ over competitions of (pool ∪ pending), sorted.
func ActiveUIDs(cs map[string]*CompState) []chain.UID {
	set := map[chain.UID]bool{}
	for _, c := range cs {
		for _, u := range c.Pool {
			set[u] = true
		}
		for u := range c.Pending {
			set[u] = true
		}
	}
	return sortedUIDs(set)
}

// AddOrRemoveUID applies a visit outcome (docs/validator.md#visiting-uids visit steps 2 and 6):
// with competition "" (no metadata) uid is removed from every competition;
// otherwise it is added to that competition's pending with prio (unless it is
// already pooled or pending there) and removed from all the others. A
// competition missing from cs is created.
func AddOrRemoveUID(cs map[string]*CompState, uid chain.UID, competition string, prio float64) {
	for name, c := range cs {
		if name != competition {
			c.Remove(uid)
		}
	}
	if competition == "" {
		return
	}
	c := cs[competition]
	if c == nil {
		c = &CompState{}
		cs[competition] = c
	}
	if c.Pending == nil {
		c.Pending = map[chain.UID]float64{}
	}
	if !c.Has(uid) {
		c.Pending[uid] = prio
	}
}

// Jitter returns prio plus a random [0,1) jitter, as UIDs get when they enter
// pending.
func Jitter(prio float64, rng *rand.Rand) float64 { return prio + rng.Float64() }

// Selection is the outcome of [SelectUIDs].
type Selection struct {
	// Picked are the UIDs evaluated this step, highest priority first.
	Picked []chain.UID
	// Pending is the competition's pending map after the pick.
	Pending map[chain.UID]float64
}

// SelectUIDs picks a competition's UIDs for a step (docs/validator.md#selecting-models "Selection"):
// candidates are pending (with their priorities) and the pool (priority
// [PrioPool]), sorted by descending (priority, uid); known (nil: all) filters
// out UIDs without a model index in cache mode; the first poolSize+pendSize
// are picked and leave pending. Unpicked pending UIDs with a priority below
// [PrioNewModel] (revisits) are dropped; the rest stay pending.
func SelectUIDs(c *CompState, poolSize, pendSize int, known func(chain.UID) bool) Selection {
	type cand struct {
		uid  chain.UID
		prio float64
	}
	prio := map[chain.UID]float64{}
	for u, p := range c.Pending {
		prio[u] = p
	}
	for _, u := range c.Pool {
		prio[u] = PrioPool
	}
	var cands []cand
	for u, p := range prio {
		cands = append(cands, cand{u, p})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].prio != cands[j].prio {
			return cands[i].prio > cands[j].prio
		}
		return cands[i].uid > cands[j].uid
	})
	sel := Selection{Pending: map[chain.UID]float64{}}
	picked := map[chain.UID]bool{}
	for _, c := range cands {
		if len(sel.Picked) >= poolSize+pendSize {
			break
		}
		if known != nil && !known(c.uid) {
			continue
		}
		sel.Picked = append(sel.Picked, c.uid)
		picked[c.uid] = true
	}
	for u, p := range c.Pending {
		if !picked[u] && p >= PrioNewModel {
			sel.Pending[u] = p
		}
	}
	return sel
}

// RevisitWindow returns the UIDs to revisit at time now and the new value of
// the stored "last" pointer (docs/validator.md#visiting-uids phase 3, force_eval_until_uid_last).
// With frac = (unix_now mod 172800)/172800 and until = ⌊frac·256⌋, the range
// runs from last (initially (until−10) mod 256; pass last < 0 for "unset") up
// to until, exclusive, wrapping modulo 256, and only its last 10 UIDs are
// kept. All validators thus re-examine every UID about once per 48 h, at the
// same wall-clock time.
//
// Quirk fix: when last == until (two chain updates within the same ~675 s
// slot) the reference takes the wrap-around branch and revisits the 10 UIDs
// before until again; here the range is empty.
func RevisitWindow(now time.Time, last int) (uids []int, until int) {
	period := int64(GenModelRetryInterval / time.Second)
	sec := now.Unix() % period
	if sec < 0 {
		sec += period
	}
	until = int(float64(sec) / float64(period) * NUIDs)
	if last < 0 || last >= NUIDs {
		last = ((until-ModelRetryMaxNPerLoop)%NUIDs + NUIDs) % NUIDs
	}
	for u := last; u != until; u = (u + 1) % NUIDs {
		uids = append(uids, u)
	}
	if len(uids) > ModelRetryMaxNPerLoop {
		uids = uids[len(uids)-ModelRetryMaxNPerLoop:]
	}
	return uids, until
}

// Phase is one of the three visiting phases of a chain update (docs/validator.md#visiting-uids).
type Phase struct {
	Name string
	// UIDs to visit, in order.
	UIDs []int
	// Priority is the base priority UIDs get in pending.
	Priority float64
	// RetryInterval is how long an unchanged commitment waits before it is
	// re-synced; 0 means unchanged commitments are never re-synced.
	RetryInterval time.Duration
}

// PlanVisits returns the three phases of a chain update in order: top
// (top miners not active, retry 24 h), new (all UIDs rolled to start at
// start, minus those top UIDs, changed commitments only) and revisit (the
// [RevisitWindow], retry 24 h). The new value of the revisit pointer is
// returned for the caller to store. All phases share one download deadline,
// [PhaseDeadline].
//
// Quirk fix (docs/validator.md#visiting-uids, docs/validator.md#fixed-quirks): the reference overwrites the recorded metadata of
// every active (pooled or pending) UID with the fresh commitment before
// visiting and leaves active UIDs out of the new phase, so a pooled miner's
// new commitment is only picked up by a revisit. Here the caller does not
// overwrite, and the new phase includes active UIDs: since it only syncs
// changed commitments (retry interval 0), an unchanged active UID is skipped
// and a changed one is synced as an update.
func PlanVisits(nUIDs int, top, active []chain.UID, start int, now time.Time, revisitLast int) ([]Phase, int) {
	act := map[int]bool{}
	for _, u := range active {
		act[int(u)] = true
	}
	var topUIDs []int
	topSet := map[int]bool{}
	for _, u := range top {
		if !act[int(u)] && !topSet[int(u)] {
			topUIDs = append(topUIDs, int(u))
			topSet[int(u)] = true
		}
	}
	sort.Ints(topUIDs)
	var newUIDs []int
	if nUIDs > 0 {
		start = ((start % nUIDs) + nUIDs) % nUIDs
		for i := 0; i < nUIDs; i++ {
			u := (start + i) % nUIDs
			if !topSet[u] {
				newUIDs = append(newUIDs, u)
			}
		}
	}
	rev, until := RevisitWindow(now, revisitLast)
	return []Phase{
		{Name: "top", UIDs: topUIDs, Priority: PrioTopModel, RetryInterval: TopModelRetryInterval},
		{Name: "new", UIDs: newUIDs, Priority: PrioNewModel, RetryInterval: 0},
		{Name: "revisit", UIDs: rev, Priority: PrioRevisit, RetryInterval: GenModelRetryInterval / 2},
	}, until
}

// VisitAction is what a visit does with one UID.
type VisitAction int

// Visit actions.
const (
	// VisitSkip leaves the UID alone.
	VisitSkip VisitAction = iota
	// VisitRemove records "no metadata" and removes the UID from every competition.
	VisitRemove
	// VisitSync records the retry time and syncs the model (docs/validator.md#syncing-a-model).
	VisitSync
)

// DecideVisit is the pure part of visiting one UID (docs/validator.md#visiting-uids "A visit"):
// skip a UID beyond the metagraph; no metadata → remove; an unchanged
// commitment is skipped when retryInterval is 0 or the last try (lastRetry,
// zero if never) is less than retryInterval ago; otherwise sync.
func DecideVisit(uid, nHotkeys int, meta, known *ModelMetadata, lastRetry, now time.Time, retryInterval time.Duration) VisitAction {
	if uid >= nHotkeys {
		return VisitSkip
	}
	if meta == nil {
		return VisitRemove
	}
	if !meta.Changed(known) {
		if retryInterval == 0 {
			return VisitSkip
		}
		if !lastRetry.IsZero() && now.Sub(lastRetry) < retryInterval {
			return VisitSkip
		}
	}
	return VisitSync
}
