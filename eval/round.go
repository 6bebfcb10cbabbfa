package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
)

// sampleSet is what one competition evaluates on this step.
type sampleSet struct {
	texts []string
	// picked are the eval-cache columns of texts and index the models'
	// cache rows; both nil when the eval cache is not used.
	picked []int
	index  map[chain.UID]int
	refs   []SampleRef
	pages  []PageRef
	// bounds split texts into tasks: task i is texts[bounds[i]:bounds[i+1]]
	// (nil: one task); weights are the normalised task weights.
	bounds  []int
	weights []float64
	// round marks the samples of a sync round (eval_seed block): syncBlock
	// and hash are its block, name the competition, losses the loss
	// vectors computed in this round by model content hash.
	round     bool
	syncBlock uint64
	hash      [32]byte
	key       string
	name      string
	losses    map[string][]float64
}

// ownSamples reports whether comp draws samples of its own (tasks or
// eval_seed block) instead of the pass's shared ones.
func ownSamples(comp *Competition) bool {
	return len(comp.Tasks) > 0 || comp.Seed() == competition.SeedBlock
}

// eligible reports whether the model may be evaluated on set: in a sync
// round only models committed eval_delay blocks before the sync block
// (benchmarks always).
func (s *sampleSet) eligible(comp *Competition, m *uidModel) bool {
	if !s.round || m == nil || m.Benchmark {
		return true
	}
	return comp.Eligible(uint64(m.Block), s.syncBlock)
}

// scoreRand is the randomness of scoring (grouping): in a sync round a
// fresh generator seeded by the round, so every step of the round on every
// validator groups alike; otherwise nil (the validator's own).
func (s *sampleSet) scoreRand() *rand.Rand {
	if !s.round {
		return nil
	}
	return seedRand(s.hash, s.name, "score")
}

// compSamples returns comp's own samples: those of the current sync round
// (kept from an earlier step of the same round) or, with eval_seed random,
// freshly drawn pages of its tasks.
func (v *Validator) compSamples(ctx context.Context, comp *Competition, d Defaults) (*sampleSet, error) {
	t0 := v.now()
	defer func() { v.timing.add("samples", v.now().Sub(t0)) }()
	key := fmt.Sprint(comp.Seed(), comp.Tasks, d.RowsPerPage, d.EvalSamples)
	if comp.Seed() != competition.SeedBlock {
		return v.drawTasks(ctx, comp, d, func(string) *rand.Rand { return v.rng })
	}
	sync, hash, err := v.syncSeed(ctx, comp)
	if err != nil {
		return nil, err
	}
	if s := v.rounds[comp.Name]; s != nil && s.syncBlock == sync && s.hash == hash && s.key == key {
		return s, nil
	}
	// Each task draws from its own generator, so adding or removing a task
	// leaves the pages of the others as they were.
	set, err := v.drawTasks(ctx, comp, d, func(task string) *rand.Rand { return seedRand(hash, comp.Name, "pages", task) })
	if err != nil {
		return nil, err
	}
	set.round, set.syncBlock, set.hash, set.key = true, sync, hash, key
	set.name, set.losses = comp.Name, map[string][]float64{}
	v.rounds[comp.Name] = set
	v.log.Info("sync round samples", "competition", comp.Name, "sync_block", sync, "samples", len(set.texts))
	return set, nil
}

// syncSeed reads the last sync block of comp (the newest multiple of
// sync_cadence at or below the finalised head) and its hash.
func (v *Validator) syncSeed(ctx context.Context, comp *Competition) (uint64, [32]byte, error) {
	r, ok := v.opts.Chain.(chain.BlockHashReader)
	if !ok {
		return 0, [32]byte{}, fmt.Errorf("competition %q: eval_seed block needs a chain that reads block hashes, %T does not", comp.Name, v.opts.Chain)
	}
	var fin chain.BlockNumber
	var hash [32]byte
	var err error
	v.unlocked(func() { fin, err = r.FinalizedBlock(ctx) })
	if err != nil {
		return 0, hash, fmt.Errorf("competition %q: read finalized block: %w", comp.Name, err)
	}
	sync := comp.SyncBlock(uint64(fin))
	v.unlocked(func() { hash, err = r.BlockHash(ctx, sync) })
	if err != nil {
		return 0, hash, fmt.Errorf("competition %q: read hash of sync block %d: %w", comp.Name, sync, err)
	}
	return sync, hash, nil
}

// seedRand is a generator seeded from a block hash and labels: the same on
// every validator.
func seedRand(hash [32]byte, labels ...string) *rand.Rand {
	h := sha256.New()
	h.Write(hash[:])
	for _, l := range labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// drawTasks fetches the pages of comp's tasks (one task on the validator's
// own source when it has none), task after task, each with rngFor(its name).
func (v *Validator) drawTasks(ctx context.Context, comp *Competition, d Defaults, rngFor func(task string) *rand.Rand) (*sampleSet, error) {
	tasks := comp.Tasks
	if len(tasks) == 0 {
		rpp := max(d.RowsPerPage, 1)
		tasks = []competition.Task{{Dataset: v.sourceName(), Pages: (d.EvalSamples + rpp - 1) / rpp, Weight: 1}}
	}
	set := &sampleSet{weights: comp.TaskWeights()}
	if len(comp.Tasks) > 0 {
		set.bounds = []int{0}
	}
	for _, t := range tasks {
		if err := v.drawTask(ctx, comp, t, d, rngFor(t.Name), set); err != nil {
			return nil, err
		}
		if set.bounds != nil {
			set.bounds = append(set.bounds, len(set.texts))
		}
	}
	if len(comp.Tasks) == 0 && len(set.texts) > d.EvalSamples {
		set.texts, set.refs, set.pages = set.texts[:d.EvalSamples], set.refs[:d.EvalSamples], set.pages[:d.EvalSamples]
	}
	return set, nil
}

// drawTask fetches one task's pages. A page the source fails on is
// replaced by the next page rng draws, so validators that see the same
// failures draw the same pages.
func (v *Validator) drawTask(ctx context.Context, comp *Competition, t competition.Task, d Defaults, rng *rand.Rand, set *sampleSet) error {
	src, err := v.taskSource(t)
	if err != nil {
		return fmt.Errorf("competition %q: %w", comp.Name, err)
	}
	var fetched []data.Fetched
	v.unlocked(func() { fetched, err = data.Fetch(ctx, src, rng, t.Pages, max(d.RowsPerPage, 1)) })
	if len(fetched) == 0 && err != nil {
		return fmt.Errorf("competition %q task %q: %w", comp.Name, t.Name, err)
	}
	if err != nil {
		v.log.Warn("task samples: some pages failed", "competition", comp.Name, "task", t.Name, "err", err)
	}
	for _, f := range fetched {
		p := PageRef{Config: f.Page.Config, Offset: int(f.Page.Offset), Split: f.Page.Split}
		for i, text := range f.Texts {
			set.texts = append(set.texts, text)
			set.pages = append(set.pages, p)
			set.refs = append(set.refs, SampleRef{Task: t.Name, Dataset: t.Dataset, Config: p.Config, Split: p.Split,
				Row: f.Page.Offset + int64(i), SHA256: TextHash(text)})
		}
	}
	return nil
}

// taskSource is the text source of a task: the one named for it in
// Options.TaskSources, else the datasets-server of the validator's source
// asked for the task's dataset; limited to the task's config and split.
func (v *Validator) taskSource(t competition.Task) (data.Source, error) {
	if t.Name == "" {
		if v.opts.Source == nil {
			return nil, fmt.Errorf("no text source")
		}
		return v.opts.Source, nil
	}
	src := v.opts.TaskSources[t.Name]
	if src == nil {
		s, ok := v.opts.Source.(*data.Server)
		if !ok {
			return nil, fmt.Errorf("task %q: no source for dataset %q: give it one (validate --data %s=PATH) or use the datasets-server", t.Name, t.Dataset, t.Name)
		}
		c := *s
		c.Dataset = t.Dataset
		src = &c
	}
	return data.Only(src, t.Config, t.Split), nil
}

// sourceName names the validator's own text source in sample refs: the
// dataset of a datasets-server, else "local".
func (v *Validator) sourceName() string {
	if s, ok := v.opts.Source.(*data.Server); ok {
		return s.Dataset
	}
	return "local"
}

// samplesFor returns the samples comp evaluates on: its own (tasks or
// eval_seed block) or the pass's shared ones.
func (v *Validator) samplesFor(ctx context.Context, comp *Competition, in *evalInput, rep *StepReport) (*sampleSet, error) {
	if !ownSamples(comp) {
		set := &sampleSet{texts: in.texts, refs: in.refs}
		if in.d.UseEvalCache {
			// Without the eval cache no loss comes from it: every sample is computed.
			set.index, set.picked = in.index, in.picked
		}
		if len(set.refs) > 0 {
			rep.Samples[comp.Name] = set.refs
		}
		return set, nil
	}
	set, err := v.compSamples(ctx, comp, in.d)
	if err != nil {
		return nil, err
	}
	rep.Samples[comp.Name] = set.refs
	if set.round {
		rep.Rounds[comp.Name] = SyncRound{Block: set.syncBlock, Hash: hex.EncodeToString(set.hash[:])}
	}
	have := map[string]bool{}
	for _, p := range rep.Pages {
		have[p] = true
	}
	for _, p := range pageNames(set.pages) {
		if !have[p] {
			rep.Pages = append(rep.Pages, p)
		}
	}
	return set, nil
}

// roundCached reports a model whose losses were computed earlier in the
// same sync round.
func (v *Validator) roundCached(ur *UIDReport, m *uidModel, l []float64) *UIDReport {
	ur.Cached = len(l)
	fillStats(ur, l, nil)
	ur.Losses = JSONFloats(l)
	ur.Status = "ok"
	ur.Geometry = geometryOf(m.Info)
	delete(v.rejected, m.UID)
	return ur
}

// sampleRef identifies a sample of the shared sample DB.
func (v *Validator) sampleRef(s Sample) SampleRef {
	return SampleRef{Dataset: v.sourceName(), Config: s.Page.Config, Split: s.Page.Split,
		Row: int64(s.Page.Offset + s.Ofs), SHA256: TextHash(s.Text)}
}
