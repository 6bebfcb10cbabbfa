package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/tokenizer"
)

// Options configure a [Validator]. Chain, Hub, Source, Scorer, Loader and
// ModelDir are required.
type Options struct {
	// Chain reads the metagraph, commitments and weights.
	Chain chain.Reader
	// Setter sets weights; nil never sets them (--dont-set-weights, --offline).
	Setter chain.WeightSetter
	// Hotkey is the validator's own hotkey (zero when offline without a wallet).
	Hotkey chain.Hotkey
	// Netuid is the subnet.
	Netuid chain.NetUID
	// Hub serves model repos.
	Hub hf.Hub
	// Source gives the text samples.
	Source data.Source
	// Scorer computes losses (isolated per model).
	Scorer Scorer
	// Loader holds competitions.json and the hall of fame.
	Loader *Loader
	// ModelDir holds downloaded models and vali-state/.
	ModelDir string
	// MaxMemory is the engine's resident-weight budget in bytes of the
	// compute dtype (0 or [NoBudget]: none).
	MaxMemory int64
	// Device and DType are the engine's --device and --dtype, passed to the
	// evaluation workers ("": auto).
	Device, DType string
	// ParamBytes is the size of one parameter in the compute dtype (0: 4,
	// float32), for the budget check of models that may not be sliced.
	ParamBytes int64
	// Threads is the engine's thread count (0: all cores).
	Threads int
	// WeightInterval is the least time between weight sets (default 25 min;
	// negative: every step).
	WeightInterval time.Duration
	// ChainInterval is the chain update period (default 960 s; negative:
	// every step).
	ChainInterval time.Duration
	// HoFOnly is the v1.0.17 wind-down mode: no evaluation, hall-of-fame
	// weights only with a cap of 1.0.
	HoFOnly bool
	// IgnoreHash skips the salted-hash comparison (testing only).
	IgnoreHash bool
	// StoreSizeGB is the disk policy (spec §6.15; default −120).
	StoreSizeGB float64
	// NoClean disables model cleanup.
	NoClean bool
	// DownloadMargin is the free-disk margin over model_size (0: 5 GB).
	DownloadMargin int64
	// BenchmarkFile is benchmark.json ("" : none).
	BenchmarkFile string
	// SaveStepJSON, when set, receives each step's JSON (spec §6.13).
	SaveStepJSON string
	// Seed seeds the validator's randomness (0: random).
	Seed uint64
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Logger receives progress (default slog.Default()).
	Logger *slog.Logger
	// OnProgress, when set, is told about long phases (phase, done, total).
	OnProgress func(phase string, done, total int)
	// FreeDisk returns the free bytes of the model folder (default: statfs).
	FreeDisk func(dir string) (int64, error)
	// Tokenizer resolves a competition's tokenizer id (default: a local
	// folder, else the tokenizer files of that hub repo at main).
	Tokenizer func(ctx context.Context, id string) (*tokenizer.Tokenizer, error)
}

// Validator runs the evaluation loop of spec §6 over the interfaces in
// [Options]. It is not safe for concurrent use: call Step from one goroutine.
type Validator struct {
	opts   Options
	log    *slog.Logger
	rng    *rand.Rand
	state  *ValidatorState
	cache  *Cache
	models map[chain.UID]*uidModel
	// hotkeys by uid in the last metagraph; block of that metagraph.
	hotkeys   []string
	mg        *chain.Metagraph
	lastChain time.Time
	started   time.Time
	weights   []float64
	step      int
	timing    *phaseTiming
	toks      map[string]*tokenizer.Tokenizer
	rejected  map[chain.UID]string
}

type uidModel struct {
	UID       chain.UID
	Hotkey    string
	Meta      *ModelMetadata
	Comp      string
	Dir       string
	DirHash   string
	Info      *modeldir.Info
	Label     string
	Block     chain.BlockNumber
	Benchmark bool
}

type phaseTiming struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func (p *phaseTiming) add(name string, d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.d[name] += d
	p.mu.Unlock()
}

// StateDir is the folder of the persisted state inside the model folder.
func StateDir(modelDir string) string { return filepath.Join(modelDir, "vali-state") }

// New loads the persisted state (starting clean when it is from another
// major.minor version or unreadable) and returns a validator.
func New(opts Options) (*Validator, error) {
	if opts.Chain == nil || opts.Hub == nil || opts.Scorer == nil || opts.Loader == nil || opts.ModelDir == "" {
		return nil, fmt.Errorf("new validator: chain, hub, scorer, loader and model dir are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WeightInterval == 0 {
		opts.WeightInterval = WeightSetMinInterval
	}
	if opts.ChainInterval == 0 {
		opts.ChainInterval = ChainUpdateInterval
	}
	if opts.StoreSizeGB == 0 {
		opts.StoreSizeGB = -DefaultMinFreeGB
	}
	if opts.FreeDisk == nil {
		opts.FreeDisk = freeDisk
	}
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if err := os.MkdirAll(StateDir(opts.ModelDir), 0o755); err != nil {
		return nil, fmt.Errorf("new validator: %w", err)
	}
	v := &Validator{
		opts: opts, log: opts.Logger, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		models: map[chain.UID]*uidModel{}, toks: map[string]*tokenizer.Tokenizer{}, rejected: map[chain.UID]string{},
	}
	v.started = opts.Now()
	st, err := LoadValidatorState(filepath.Join(StateDir(opts.ModelDir), ValidatorStateFile))
	if err != nil {
		v.log.Warn("starting with a clean validator state", "err", err)
		st = NewValidatorState()
	}
	v.state = st
	if cfg, err := st.Config(); err == nil && cfg != nil {
		opts.Loader.Set(cfg, st.HallOfFame)
	} else if len(st.HallOfFame) > 0 {
		opts.Loader.Set(nil, st.HallOfFame)
	}
	cache, err := LoadCache(filepath.Join(StateDir(opts.ModelDir), "evalstate"))
	if err != nil {
		v.log.Warn("starting with an empty eval cache", "err", err)
		cache = NewCache()
	}
	v.cache = cache
	return v, nil
}

// State returns the validator state (for inspection; do not modify during a step).
func (v *Validator) State() *ValidatorState { return v.state }

// Cache returns the eval cache.
func (v *Validator) Cache() *Cache { return v.cache }

func (v *Validator) now() time.Time { return v.opts.Now() }

func (v *Validator) freeDisk() (int64, error) { return v.opts.FreeDisk(v.opts.ModelDir) }

func (v *Validator) progress(phase string, done, total int) {
	if v.opts.OnProgress != nil {
		v.opts.OnProgress(phase, done, total)
	}
}

func (v *Validator) saveState() error {
	return v.state.Save(filepath.Join(StateDir(v.opts.ModelDir), ValidatorStateFile))
}

func (v *Validator) saveCache() error {
	return v.cache.Save(filepath.Join(StateDir(v.opts.ModelDir), "evalstate"))
}

// ---- chain update (§6.2–6.4) ----

func (v *Validator) chainDue() bool {
	return v.mg == nil || v.opts.ChainInterval < 0 || v.now().Sub(v.lastChain) >= v.opts.ChainInterval
}

// updateChain refreshes the metagraph and commitments and visits UIDs.
func (v *Validator) updateChain(ctx context.Context, cfg *Config) error {
	t0 := v.now()
	var mg *chain.Metagraph
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if mg, err = v.opts.Chain.Metagraph(ctx, v.opts.Netuid); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sync metagraph: %w", err)
	}
	n := 0
	for _, nr := range mg.Neurons {
		n = max(n, int(nr.UID)+1)
	}
	hotkeys := make([]string, n)
	for _, nr := range mg.Neurons {
		hotkeys[nr.UID] = nr.Hotkey.String()
	}
	last := map[chain.UID]time.Time{}
	for u, ts := range v.state.UIDLastRetriedTS {
		last[u] = time.Unix(0, int64(ts*1e9))
	}
	if v.hotkeys != nil {
		ResetRetryOnHotkeyChange(v.hotkeys, hotkeys, last)
		for u := range v.models {
			if int(u) >= len(hotkeys) || hotkeys[u] != v.models[u].Hotkey && !v.models[u].Benchmark {
				delete(v.models, u)
			}
		}
	}
	v.mg, v.hotkeys = mg, hotkeys

	comms, err := v.opts.Chain.Commitments(ctx, v.opts.Netuid)
	byHK := map[string]*chain.Commitment{}
	if err != nil {
		v.log.Warn("read commitments failed; reusing the previous metadata", "err", err)
	}
	for i := range comms {
		byHK[comms[i].Hotkey.String()] = &comms[i]
	}
	wts := map[chain.UID]chain.Weights{}
	for _, u := range TopValidators(mg.Neurons, 10) {
		if w, err := v.opts.Chain.Weights(ctx, v.opts.Netuid, u); err == nil {
			wts[u] = w
		}
	}
	top := TopMiners(mg, wts)
	topSet := map[chain.UID]bool{}
	for _, u := range top {
		topSet[u] = true
	}
	qs := make([]CommitmentQuery, len(hotkeys))
	for u, hk := range hotkeys {
		qs[u] = CommitmentQuery{UID: chain.UID(u), Hotkey: hk, Commitment: byHK[hk], Err: err}
	}
	discarded := map[string]bool{}
	for _, k := range v.state.DiscardedCommitments {
		discarded[k] = true
	}
	dd := DedupCommitments(qs, v.state.HKMetadata, discarded, cfg.Defaults.DiscardWinrate, topSet)
	for _, k := range dd.Undiscard {
		delete(discarded, k)
	}
	v.state.DiscardedCommitments = sortedKeys(discarded)
	for u, why := range dd.Dropped {
		v.log.Debug("commitment dropped", "uid", u, "reason", why)
	}

	active := ActiveUIDs(v.state.CState)
	revLast := -1
	if v.state.ForceEvalUntilUIDLast != nil {
		revLast = *v.state.ForceEvalUntilUIDLast
	}
	start := 0
	if len(hotkeys) > 0 {
		start = v.rng.IntN(len(hotkeys))
	}
	phases, until := PlanVisits(len(hotkeys), top, active, start, v.now(), revLast)
	v.state.ForceEvalUntilUIDLast = &until
	deadline := PhaseDeadline(v.now())
	visited := map[int]bool{}
	for _, ph := range phases {
		for _, u := range ph.UIDs {
			if visited[u] || u >= len(hotkeys) {
				continue
			}
			if v.now().After(deadline) {
				v.log.Warn("download budget spent; the remaining UIDs wait for the next chain update", "phase", ph.Name)
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			hk := hotkeys[u]
			meta := dd.Metadata[hk]
			act := DecideVisit(u, len(hotkeys), meta, v.state.HKMetadata[hk], last[chain.UID(u)], v.now(), ph.RetryInterval)
			switch act {
			case VisitRemove:
				visited[u] = true
				if _, ok := v.state.HKMetadata[hk]; ok {
					v.state.HKMetadata[hk] = nil
				}
				if !v.isBenchmark(chain.UID(u)) {
					AddOrRemoveUID(v.state.CState, chain.UID(u), "", 0)
					delete(v.models, chain.UID(u))
				}
			case VisitSync:
				visited[u] = true
				last[chain.UID(u)] = v.now()
				v.visit(ctx, chain.UID(u), hk, meta, cfg, ph.Priority)
			}
		}
	}
	v.state.UIDLastRetriedTS = map[chain.UID]float64{}
	for u, t := range last {
		v.state.UIDLastRetriedTS[u] = float64(t.UnixNano()) / 1e9
	}
	v.lastChain = v.now()
	v.timing.add("chain", v.now().Sub(t0))
	return v.saveState()
}

func (v *Validator) visit(ctx context.Context, uid chain.UID, hk string, meta *ModelMetadata, cfg *Config, prio float64) {
	out := v.syncModel(ctx, hk, meta, cfg)
	if !out.Result.Retry() {
		v.state.HKMetadata[hk] = meta
	}
	if out.Result != SyncSuccess {
		v.log.Warn("model rejected", "uid", uid, "model", meta.ID.Label(), "result", out.Result.String(), "reason", out.Reason)
		v.rejected[uid] = out.Result.String() + ": " + out.Reason
		if !out.Result.Retry() {
			AddOrRemoveUID(v.state.CState, uid, "", 0)
			delete(v.models, uid)
		}
		return
	}
	delete(v.rejected, uid)
	v.log.Info("model synced", "uid", uid, "model", meta.ID.Label(), "params", out.Info.Params, "downloaded", out.Downloaded)
	v.models[uid] = &uidModel{
		UID: uid, Hotkey: hk, Meta: meta, Comp: meta.ID.Competition, Dir: out.Dir, DirHash: out.DirHash,
		Info: out.Info, Label: meta.ID.Label(), Block: meta.Block,
	}
	AddOrRemoveUID(v.state.CState, uid, meta.ID.Competition, Jitter(prio, v.rng))
}

func (v *Validator) isBenchmark(uid chain.UID) bool {
	m := v.models[uid]
	return m != nil && m.Benchmark
}

// resolve makes sure an active UID has its model on disk (after a restart
// the snapshot is re-verified, not downloaded again).
func (v *Validator) resolve(ctx context.Context, uid chain.UID, cfg *Config) *uidModel {
	if m := v.models[uid]; m != nil {
		return m
	}
	if int(uid) >= len(v.hotkeys) {
		return nil
	}
	hk := v.hotkeys[uid]
	meta := v.state.HKMetadata[hk]
	if meta == nil {
		return nil
	}
	out := v.syncModel(ctx, hk, meta, cfg)
	if out.Result != SyncSuccess {
		v.rejected[uid] = out.Result.String() + ": " + out.Reason
		if !out.Result.Retry() {
			AddOrRemoveUID(v.state.CState, uid, "", 0)
		}
		return nil
	}
	m := &uidModel{UID: uid, Hotkey: hk, Meta: meta, Comp: meta.ID.Competition, Dir: out.Dir, DirHash: out.DirHash,
		Info: out.Info, Label: meta.ID.Label(), Block: meta.Block}
	v.models[uid] = m
	return m
}

// ---- benchmarks (§6.6.1) ----

func (v *Validator) injectBenchmarks(cfg *Config) {
	if v.opts.BenchmarkFile == "" {
		return
	}
	b, err := os.ReadFile(v.opts.BenchmarkFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			v.log.Warn("read benchmarks", "err", err)
		}
		return
	}
	bs, err := ParseBenchmarks(b)
	if err != nil {
		v.log.Warn("parse benchmarks", "err", err)
		return
	}
	for _, bm := range bs {
		comp, ok := cfg.Competition(bm.Competition)
		if !ok {
			continue
		}
		if _, ok := v.state.CState[comp.Name]; !ok {
			continue
		}
		m := v.models[bm.UID]
		if m == nil || !m.Benchmark || m.Dir != bm.Path {
			info, class, reason := checkModel(bm.Path, comp)
			if reason != "" {
				v.log.Warn("benchmark model rejected", "uid", bm.UID, "path", bm.Path, "reason", reason)
				continue
			}
			_ = class
			m = &uidModel{UID: bm.UID, Hotkey: bm.Hotkey, Comp: comp.Name, Dir: bm.Path, Info: info,
				Label: bm.DisplayLabel(), Block: bm.Block, Benchmark: true}
			v.models[bm.UID] = m
		}
		AddOrRemoveUID(v.state.CState, bm.UID, comp.Name, Jitter(PrioInject, v.rng))
	}
}

// ---- samples (§6.7, §6.8) ----

func (v *Validator) fetchSamples(ctx context.Context, n, rowsPerPage int) ([]Sample, error) {
	if v.opts.Source == nil {
		return nil, fmt.Errorf("fetch samples: no text source")
	}
	if rowsPerPage < 1 {
		rowsPerPage = 1
	}
	pages := (n + rowsPerPage - 1) / rowsPerPage
	fetched, err := data.Fetch(ctx, v.opts.Source, v.rng, pages, rowsPerPage)
	var out []Sample
	for _, f := range fetched {
		for i, t := range f.Texts {
			out = append(out, Sample{Page: PageRef{Config: f.Page.Config, Offset: int(f.Page.Offset), Split: f.Page.Split}, Ofs: i, Text: t})
		}
	}
	if len(out) == 0 && err != nil {
		return nil, fmt.Errorf("fetch samples: %w", err)
	}
	if err != nil {
		v.log.Warn("fetch samples: some pages failed", "err", err)
	}
	return ShuffleTruncate(out, n, v.rng), nil
}

// competitionTokenizer resolves a competition tokenizer id.
func (v *Validator) tokenizerFor(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
	if t, ok := v.toks[id]; ok {
		return t, nil
	}
	var t *tokenizer.Tokenizer
	var err error
	if v.opts.Tokenizer != nil {
		t, err = v.opts.Tokenizer(ctx, id)
	} else {
		t, err = v.defaultTokenizer(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	v.toks[id] = t
	return t, nil
}

func (v *Validator) defaultTokenizer(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
	// Into the model folder itself: a Hugging Face cache, possibly shared
	// with other tools that have this tokenizer already.
	return competition.LoadTokenizer(ctx, v.opts.Hub, id, v.opts.ModelDir)
}

// NewSampleTokenizer is [competition.FromTokenizer].
func NewSampleTokenizer(tok *tokenizer.Tokenizer) SampleTokenizer {
	return competition.FromTokenizer(tok)
}

type tokenized struct {
	rows  [][]int
	maxID int
	err   error
	desc  string
}

// ---- the step (§6.6) ----

// UIDReport is one evaluated UID of a step: the reference's uid_data[uid]
// entry (spec §6.13) plus our additions (hotkey, n_parameters,
// forward_samples, cached_samples, status).
//
// Statistics follow the reference (naninf_count/mean/std): n_samples counts
// the finite losses, n_inf the ±Inf ones (a NaN is in neither); means and
// population standard deviations use finite values only and are +Inf when
// there are none; a UID without results (failed or skipped) has 0 for all of
// them, null losses and avg_sample_len, an empty geometry and a null
// win_matrix_row. Losses are per sample even when group_samples > 1 (the
// reference logs the grouped sums there); win_total and win_matrix_row count
// the scored samples, i.e. groups when grouping.
type UIDReport struct {
	UID chain.UID `json:"uid"`
	// Geometry is the model's shape ({} when it was not evaluated).
	Geometry    Geometry `json:"geometry"`
	Competition string   `json:"competition"`
	Label       string   `json:"label"`
	Hotkey      string   `json:"hotkey,omitempty"`
	// Block is the commitment block (2^31 by default for a benchmark).
	Block       uint64 `json:"block"`
	NParameters int64  `json:"n_parameters,omitempty"`
	// Losses are the per-sample summed losses (null: no results).
	Losses   []JSONFloat `json:"losses"`
	NSamples int         `json:"n_samples"`
	NInf     int         `json:"n_inf"`
	// AvgSampleLen is the mean token count (EOS included) of the model's
	// usable samples, 0 when none; null when the model has no results or
	// every loss came from the cache and its tokenizer did not run this step.
	AvgSampleLen *float64 `json:"avg_sample_len"`
	// LossPTAvg and LossPTStd are over loss/token count; NaN ("nan") when
	// the token counts are unknown (see AvgSampleLen).
	LossPTAvg  JSONFloat `json:"loss_pt_avg"`
	LossPTStd  JSONFloat `json:"loss_pt_std"`
	LossSumAvg JSONFloat `json:"loss_sum_avg"`
	LossSumStd JSONFloat `json:"loss_sum_std"`
	// AdvFactor is 100·(1−f) of the time advantage (0 when not scored).
	AdvFactor  float64 `json:"adv_factor"`
	WinRate    float64 `json:"win_rate"`
	WinAbsRate float64 `json:"win_abs_rate"`
	// WinTotal is the number of samples (groups) the model won: WinRate·n.
	WinTotal int `json:"win_total"`
	// WinMatrixRow is the model's row of the competition's win matrix.
	WinMatrixRow WinMatrixRow `json:"win_matrix_row"`
	Weight       float64      `json:"weight"`
	Forward      int          `json:"forward_samples"`
	Cached       int          `json:"cached_samples"`
	Status       string       `json:"status"`
}

// StepReport is what one step did: the live table, --json and
// --save-step-json. Its JSON holds the reference's step JSON (spec §6.13:
// timestamp, block, uids, competitions, uid_data, competition_info, pages,
// step_time) plus our additions; see [UIDReports] and the notes at the top of
// stepjson.go for the encoding, and [StepReport.UnmarshalJSON] for the older
// forms that still load.
type StepReport struct {
	Step      int     `json:"step"`
	Timestamp float64 `json:"timestamp"`
	Block     uint64  `json:"block"`
	// UIDOrder lists the evaluated UIDs in evaluation order (JSON "uids").
	UIDOrder []chain.UID `json:"uids"`
	// Competitions are the competition names in evaluation order; in JSON
	// the object {name: params} with CompetitionParams (the merged params).
	Competitions      []string                              `json:"competitions"`
	CompetitionParams map[string]map[string]json.RawMessage `json:"-"`
	// UIDs are the uid_data entries in evaluation order.
	UIDs UIDReports `json:"uid_data"`
	// CompetitionInfo has, per competition with a tokenizer, the token
	// count of each sample of this step.
	CompetitionInfo map[string]CompetitionLog `json:"competition_info"`
	// Pages are the dataset pages of this step's samples ([PageName]),
	// each once, in sample order. (The reference lists the fetched pages
	// without the eval cache and none with it.)
	Pages        []string              `json:"pages"`
	Rejected     map[chain.UID]string  `json:"rejected,omitempty"`
	Weights      map[chain.UID]float64 `json:"weights"`
	WeightsSet   bool                  `json:"weights_set"`
	WeightsError string                `json:"weights_error,omitempty"`
	Forward      int                   `json:"forward_samples"`
	Cached       int                   `json:"cached_samples"`
	CacheHitRate float64               `json:"cache_hit_rate"`
	Timing       map[string]float64    `json:"phase_seconds"`
	StepTime     float64               `json:"step_time"`
	Evaluated    int                   `json:"evaluated"`
}

// Step runs one evaluation step (spec §6.1 loop body, §6.6): config and
// chain updates when due, cleanup, benchmarks, samples, per-competition
// evaluation and scoring, the weight vector, state saves and weight setting.
func (v *Validator) Step(ctx context.Context) (*StepReport, error) {
	start := v.now()
	v.timing = &phaseTiming{d: map[string]time.Duration{}}
	v.step++
	rep := &StepReport{Step: v.step, Timestamp: float64(start.UnixNano()) / 1e9, Weights: map[chain.UID]float64{},
		UIDOrder: []chain.UID{}, CompetitionInfo: map[string]CompetitionLog{}, Pages: []string{}}
	if _, err := v.opts.Loader.RefreshIfDue(ctx); err != nil {
		v.log.Warn("refresh competitions", "err", err)
	}
	cfg, hof := v.opts.Loader.Current()
	if cfg == nil && !v.opts.HoFOnly {
		return nil, fmt.Errorf("validator step: no competitions config loaded")
	}
	if cfg == nil {
		cfg = &Config{Defaults: BuiltinDefaults()}
	}
	v.state.Competitions = cfg.Raw
	v.state.Defaults = cfg.Defaults
	if hof != nil {
		v.state.HallOfFame = hof
	}
	for _, c := range cfg.Competitions {
		if v.state.CState[c.Name] == nil {
			v.state.CState[c.Name] = &CompState{Pending: map[chain.UID]float64{}, Weights: map[chain.UID]float64{}}
		}
	}
	for name := range v.state.CState {
		if _, ok := cfg.Competition(name); !ok {
			delete(v.state.CState, name)
		}
	}
	if v.chainDue() {
		if err := v.updateChain(ctx, cfg); err != nil {
			if v.mg == nil {
				return nil, err
			}
			v.log.Warn("chain update failed; using the previous metagraph", "err", err)
		}
	}
	rep.Block = uint64(v.mg.Block)
	if !v.opts.NoClean {
		v.cleanModels()
	}
	maxFrac := RewardsMaxFraction
	evaluated := 0
	if !v.opts.HoFOnly && len(cfg.Competitions) > 0 {
		v.injectBenchmarks(cfg)
		var err error
		evaluated, err = v.evaluate(ctx, cfg, rep)
		if err != nil {
			return nil, err
		}
	} else if v.opts.HoFOnly {
		maxFrac = RewardsMaxFractionV1017
	}
	// Weights (§6.11.4).
	t0 := v.now()
	rw, total := HoFWeights(v.state.HallOfFame, v.hotkeys, uint64(v.mg.Block), maxFrac)
	var comps []CompetitionWeights
	for _, c := range cfg.Competitions {
		if cs := v.state.CState[c.Name]; cs != nil && !v.opts.HoFOnly {
			comps = append(comps, CompetitionWeights{Reward: c.Reward, Weights: cs.Weights})
		}
	}
	n := len(v.hotkeys)
	next := CombineWeights(comps, rw, total, n)
	v.weights = EMA(v.weights, next, WeightAlpha)
	for u, w := range v.weights {
		if w > 0 {
			rep.Weights[chain.UID(u)] = w
		}
	}
	for i := range rep.UIDs {
		if int(rep.UIDs[i].UID) < len(v.weights) {
			rep.UIDs[i].Weight = v.weights[rep.UIDs[i].UID]
		}
	}
	v.timing.add("score", v.now().Sub(t0))
	if err := v.saveState(); err != nil {
		return nil, err
	}
	if evaluated > 0 || v.opts.HoFOnly {
		set, err := v.maybeSetWeights(ctx)
		rep.WeightsSet = set
		if err != nil {
			rep.WeightsError = err.Error()
			v.log.Warn("set weights failed", "err", err)
		}
	}
	rep.Evaluated = evaluated
	rep.Competitions = []string{}
	for _, c := range cfg.Competitions {
		rep.Competitions = append(rep.Competitions, c.Name)
		if len(c.Params) > 0 {
			if rep.CompetitionParams == nil {
				rep.CompetitionParams = map[string]map[string]json.RawMessage{}
			}
			rep.CompetitionParams[c.Name] = c.Params
		}
	}
	for _, u := range rep.UIDs {
		rep.UIDOrder = append(rep.UIDOrder, u.UID)
	}
	if len(v.rejected) > 0 {
		rep.Rejected = map[chain.UID]string{}
		for u, r := range v.rejected {
			rep.Rejected[u] = r
		}
	}
	if rep.Forward+rep.Cached > 0 {
		rep.CacheHitRate = float64(rep.Cached) / float64(rep.Forward+rep.Cached)
	}
	rep.Timing = map[string]float64{}
	for k, d := range v.timing.d {
		rep.Timing[k] = d.Seconds()
	}
	rep.StepTime = v.now().Sub(start).Seconds()
	if v.opts.SaveStepJSON != "" {
		if err := writeJSONFile(v.opts.SaveStepJSON, rep); err != nil {
			v.log.Warn("save step json", "err", err)
		}
	}
	return rep, nil
}

// evaluate runs §6.6 steps 2–4: model indices, samples, per-competition
// losses and scoring. It returns the number of models with results.
func (v *Validator) evaluate(ctx context.Context, cfg *Config, rep *StepReport) (int, error) {
	d := cfg.Defaults
	// Model indices and copy detection (§6.6.2, §6.8).
	index := map[chain.UID]int{}
	for _, u := range ActiveUIDs(v.state.CState) {
		m := v.resolve(ctx, u, cfg)
		if m == nil {
			continue
		}
		h := m.DirHash
		if h == "" {
			if h = v.cache.ModelDirHashes[m.Dir]; h == "" {
				t0 := v.now()
				var err error
				h, err = modelhash.Dir(ctx, m.Dir, modelhash.Options{})
				v.timing.add("hash", v.now().Sub(t0))
				if err != nil {
					v.rejected[u] = "hash: " + err.Error()
					continue
				}
			}
			m.DirHash = h
		}
		v.cache.ModelDirHashes[m.Dir] = h
		idx := v.cache.ModelIndex(h)
		if !m.Benchmark {
			first, isCopy := v.cache.ObserveFirstSeen(idx, m.Block, m.Hotkey)
			if isCopy {
				reason := fmt.Sprintf("copy: the same content was first served by %s at block %d", first.Hotkey, first.Block)
				v.log.Warn("model discarded", "uid", u, "model", m.Label, "reason", reason)
				v.rejected[u] = reason
				discard := map[string]bool{}
				for _, k := range v.state.DiscardedCommitments {
					discard[k] = true
				}
				discard[DiscardKey(m.Hotkey, m.Meta.ID)] = true
				v.state.DiscardedCommitments = sortedKeys(discard)
				AddOrRemoveUID(v.state.CState, u, "", 0)
				delete(v.models, u)
				continue
			}
		}
		index[u] = idx
	}
	// Samples (§6.6.3).
	t0 := v.now()
	var texts []string
	var picked []int
	if d.UseEvalCache {
		if n := v.cache.ExtendCount(v.now(), d); n > 0 {
			ss, err := v.fetchSamples(ctx, n, d.RowsPerPage)
			if err != nil {
				if len(v.cache.Samples) == 0 {
					return 0, err
				}
				v.log.Warn("extend sample DB", "err", err)
			} else {
				v.cache.Extend(ss, v.now(), d.DBMaxSamples)
			}
		}
		if err := v.saveCache(); err != nil {
			return 0, err
		}
		rows := make([]int, 0, len(index))
		for _, u := range sortedUIDs(index) {
			rows = append(rows, index[u])
		}
		picked = v.cache.PickSamples(rows, d.EvalSamples, v.rng)
		var pages []PageRef
		for _, j := range picked {
			texts = append(texts, v.cache.Samples[j].Text)
			pages = append(pages, v.cache.Samples[j].Page)
		}
		rep.Pages = pageNames(pages)
	} else {
		ss, err := v.fetchSamples(ctx, d.EvalSamples, d.RowsPerPage)
		if err != nil {
			return 0, err
		}
		var pages []PageRef
		for _, s := range ss {
			texts = append(texts, s.Text)
			pages = append(pages, s.Page)
		}
		rep.Pages = pageNames(pages)
	}
	v.timing.add("samples", v.now().Sub(t0))

	evaluated := 0
	for _, comp := range cfg.Competitions {
		comp := comp
		cs := v.state.CState[comp.Name]
		deadline := CompetitionDeadline(v.now(), len(cfg.Competitions))
		sel := SelectUIDs(cs, comp.PoolSize, comp.PendSize, func(u chain.UID) bool {
			_, ok := index[u]
			return ok || !d.UseEvalCache && v.models[u] != nil
		})
		cs.Pending = sel.Pending
		if len(sel.Picked) == 0 {
			cs.Weights = map[chain.UID]float64{}
			continue
		}
		toks := map[string]*tokenized{}
		if comp.Tokenizer != "" {
			// The competition tokenizer's sample lengths are logged whether
			// or not a model needs them (spec §6.13 competition_info); the
			// models using that tokenizer share this tokenization.
			t0 := v.now()
			tk := v.tokenize(ctx, "comp:"+comp.Tokenizer, comp.Tokenizer, &comp, false, texts, toks)
			v.timing.add("tokenize", v.now().Sub(t0))
			if tk.err != nil {
				v.log.Warn("competition tokenizer failed", "competition", comp.Name, "err", tk.err)
			} else {
				lens := make([]int, len(tk.rows))
				for i, r := range tk.rows {
					lens[i] = len(r)
				}
				rep.CompetitionInfo[comp.Name] = CompetitionLog{SampleLen: lens}
			}
		}
		losses := map[chain.UID][]float64{}
		blocks := map[chain.UID]chain.BlockNumber{}
		bench := map[chain.UID]bool{}
		urs := map[chain.UID]*UIDReport{}
		for i, u := range sel.Picked {
			m := v.models[u]
			ur := &UIDReport{UID: u, Competition: comp.Name, Label: m.Label, Hotkey: m.Hotkey, Block: uint64(m.Block)}
			if m.Info != nil {
				ur.NParameters = m.Info.Params
			}
			urs[u] = ur
			blocks[u], bench[u] = m.Block, m.Benchmark
			if v.now().After(deadline) {
				ur.Status = "skipped: competition time budget spent"
				continue
			}
			v.progress("evaluate "+comp.Name, i, len(sel.Picked))
			l, err := v.evalModel(ctx, m, &comp, index, picked, texts, toks, ur)
			if ctx.Err() != nil {
				return evaluated, ctx.Err()
			}
			if err != nil {
				ur.Status = "failed: " + err.Error()
				v.rejected[u] = err.Error()
				v.log.Warn("model evaluation failed", "uid", u, "model", m.Label, "err", err)
				continue
			}
			delete(v.rejected, u)
			v.log.Info("model evaluated", "uid", u, "model", m.Label, "forward", ur.Forward, "cached", ur.Cached, "loss_sum_avg", float64(ur.LossSumAvg))
			ur.Status = "ok"
			ur.Geometry = geometryOf(m.Info)
			losses[u] = l
			evaluated++
		}
		v.progress("evaluate "+comp.Name, len(sel.Picked), len(sel.Picked))
		t1 := v.now()
		out, err := ScoreStep(cs, CompetitionStep{Competition: &comp, Picked: sel.Picked, Losses: losses, Blocks: blocks, Benchmarks: bench}, v.mg.Block, d.DiscardWinrate, v.rng)
		if err != nil {
			return evaluated, fmt.Errorf("score competition %q: %w", comp.Name, err)
		}
		if out.Result != nil {
			discard := map[string]bool{}
			for _, k := range v.state.DiscardedCommitments {
				discard[k] = true
			}
			for _, u := range out.Pool.Discard {
				if m := v.models[u]; m != nil && m.Meta != nil {
					discard[DiscardKey(m.Hotkey, m.Meta.ID)] = true
					v.rejected[u] = "discarded: win rate and absolute win rate below discard_winrate"
				}
			}
			v.state.DiscardedCommitments = sortedKeys(discard)
			for _, u := range out.Pool.Dropped {
				if m := v.models[u]; m != nil && !m.Benchmark {
					delete(v.models, u)
				}
			}
			for _, u := range sel.Picked {
				ur := urs[u]
				ur.WinRate, ur.WinAbsRate = out.Result.WinRate[u], out.Result.WinAbsRate[u]
				ur.WinTotal = out.Result.Wins[u]
				if f, ok := out.Result.Factors[u]; ok {
					ur.AdvFactor = 100 * (1 - f)
				}
				ur.WinMatrixRow = WinMatrixRowOf(out.Result.WinResult, u)
			}
		}
		v.timing.add("score", v.now().Sub(t1))
		for _, u := range sel.Picked {
			ur := urs[u]
			rep.Forward += ur.Forward
			rep.Cached += ur.Cached
			rep.UIDs = append(rep.UIDs, *ur)
		}
	}
	if err := v.saveCache(); err != nil {
		return evaluated, err
	}
	return evaluated, nil
}

// evalModel computes a model's loss vector over the picked samples, using
// and updating the cache (spec §6.7 "Loss", §6.8 "per model").
func (v *Validator) evalModel(ctx context.Context, m *uidModel, comp *Competition, index map[chain.UID]int, picked []int, texts []string, toks map[string]*tokenized, ur *UIDReport) ([]float64, error) {
	row, cached := index[m.UID]
	if cached {
		// Everything known (and no spot check due): no tokenization, no
		// forward pass.
		if plan := v.cache.Plan(row, picked); len(plan.Compute)+len(plan.Check) == 0 {
			full, _ := v.cache.Merge(row, picked, plan, nil)
			ur.Cached = len(full)
			fillStats(ur, full, v.knownRows(ctx, m, comp, toks))
			ur.Losses = JSONFloats(full)
			return full, nil
		}
	}
	// Tokenizer choice (§6.7).
	t0 := v.now()
	own := false
	if _, err := os.Stat(filepath.Join(m.Dir, "tokenizer.json")); comp.UsesOwnTokenizer(err == nil) {
		own = true
	}
	var tk *tokenized
	var ownErr error
	if own {
		tk = v.tokenize(ctx, "model:"+tokenizerKey(ctx, m.Dir), m.Dir, comp, true, texts, toks)
		if tk.err != nil {
			ownErr = tk.err
			tk = nil
		}
	}
	if tk == nil {
		if comp.Tokenizer == "" {
			v.timing.add("tokenize", v.now().Sub(t0))
			if ownErr != nil {
				return nil, fmt.Errorf("model tokenizer: %w", ownErr)
			}
			return nil, fmt.Errorf("no tokenizer.json and the competition has no tokenizer: %w", ErrModelIssue)
		}
		tk = v.tokenize(ctx, "comp:"+comp.Tokenizer, comp.Tokenizer, comp, false, texts, toks)
		if tk.err != nil {
			v.timing.add("tokenize", v.now().Sub(t0))
			return nil, fmt.Errorf("competition tokenizer: %w", tk.err)
		}
	}
	v.timing.add("tokenize", v.now().Sub(t0))
	rows := m.Info.EmbeddingRows
	if rows <= 0 {
		rows = int64(m.Info.VocabSize)
	}
	if err := CheckVocab(tk.maxID, int(rows)); err != nil {
		if ownErr != nil {
			return nil, fmt.Errorf("model tokenizer: %v; competition tokenizer fallback: %w: %w", ownErr, err, ErrModelIssue)
		}
		return nil, fmt.Errorf("%w: %w", err, ErrModelIssue)
	}
	// Plan against the cache.
	var plan RowPlan
	if cached {
		plan = v.cache.Plan(row, picked)
	} else {
		for i := range texts {
			plan.Compute = append(plan.Compute, i)
		}
	}
	positions := append(append([]int(nil), plan.Compute...), plan.Check...)
	computed := map[int]float64{}
	if len(positions) > 0 {
		// Sliced evaluation only for the exact Sliced* class listed in
		// model_types (spec §4.2); any other model must fit the budget.
		maxMem := v.opts.MaxMemory
		if maxMem <= 0 {
			maxMem = NoBudget
		}
		if maxMem > 0 && !comp.AllowsSliced("Sliced"+ClassName(m.Info.ModelType)) {
			pb := v.opts.ParamBytes
			if pb <= 0 {
				pb = 4
			}
			if need := pb * m.Info.Params; need > maxMem {
				return nil, fmt.Errorf("model needs %d bytes of weights (%d per parameter), over the %d byte memory budget, and competition %q does not list Sliced%s: %w",
					need, pb, maxMem, comp.Name, ClassName(m.Info.ModelType), ErrModelIssue)
			}
			maxMem = NoBudget
		}
		job := &EvalJob{Dir: m.Dir, MaxMemory: maxMem, Threads: v.opts.Threads, Device: v.opts.Device, DType: v.opts.DType,
			Samples: make([][]int32, len(positions))}
		for k, p := range positions {
			if r := tk.rows[p]; r != nil {
				s := make([]int32, len(r))
				for j, id := range r {
					s[j] = int32(id)
				}
				job.Samples[k] = s
			}
		}
		t1 := v.now()
		ls, err := v.opts.Scorer.Score(ctx, job, func(done, total int) { v.progress(fmt.Sprintf("uid %d forward", m.UID), done, total) })
		v.timing.add("forward", v.now().Sub(t1))
		if err != nil {
			return nil, err
		}
		if len(ls) != len(positions) {
			return nil, fmt.Errorf("scorer returned %d losses for %d samples: %w", len(ls), len(positions), ErrModelIssue)
		}
		if err := CheckLosses(job, ls); err != nil {
			return nil, err
		}
		for k, p := range positions {
			computed[p] = ls[k]
		}
	}
	ur.Forward = len(positions)
	ur.Cached = len(texts) - len(plan.Compute)
	var full []float64
	if cached {
		var reset bool
		full, reset = v.cache.Merge(row, picked, plan, computed)
		if reset {
			v.log.Warn("cached losses disagree with a recomputation; the model's cache row was reset", "uid", m.UID, "model", m.Label)
		}
		if err := v.saveCache(); err != nil {
			return nil, err
		}
	} else {
		full = make([]float64, len(texts))
		for i := range full {
			full[i] = computed[i]
		}
	}
	fillStats(ur, full, tk.rows)
	ur.Losses = JSONFloats(full)
	return full, nil
}

func (v *Validator) tokenize(ctx context.Context, key, src string, comp *Competition, own bool, texts []string, toks map[string]*tokenized) *tokenized {
	if t, ok := toks[key]; ok {
		return t
	}
	t := &tokenized{}
	toks[key] = t
	var tok *tokenizer.Tokenizer
	var err error
	if own {
		tok, err = tokenizer.Load(src)
	} else {
		tok, err = v.tokenizerFor(ctx, src)
	}
	if err != nil {
		t.err = fmt.Errorf("load tokenizer: %v: %w", err, ErrModelIssue)
		return t
	}
	rows, maxID, st, err := comp.Tokenize(texts, tok, own)
	if err != nil {
		t.err = fmt.Errorf("%v: %w", err, ErrModelIssue)
		return t
	}
	t.rows, t.maxID = rows, maxID
	v.log.Debug("samples tokenized", "tokenizer", key, "capped", st.Capped, "invalid", st.Invalid, "too_long", st.TooLong)
	return t
}

// tokenizerKey identifies a model folder's tokenizer by the content of its
// files, so models shipping the same tokenizer share one tokenization.
func tokenizerKey(ctx context.Context, dir string) string {
	key := ""
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		h, err := modelhash.File(ctx, filepath.Join(dir, f))
		if err != nil {
			h = "-"
		}
		key += h
	}
	if key == "---" {
		return dir
	}
	return key
}

// knownRows returns the token rows of the samples with the tokenizer m
// would use (spec §6.7) when that tokenization already ran in this
// competition's step, else nil. It never tokenizes: it serves the models
// whose losses all came from the cache.
func (v *Validator) knownRows(ctx context.Context, m *uidModel, comp *Competition, toks map[string]*tokenized) [][]int {
	if _, err := os.Stat(filepath.Join(m.Dir, "tokenizer.json")); comp.UsesOwnTokenizer(err == nil) {
		t, ok := toks["model:"+tokenizerKey(ctx, m.Dir)]
		if !ok {
			return nil
		}
		if t.err == nil {
			return t.rows
		}
		// The model's tokenizer failed: it falls back to the competition's.
	}
	if comp.Tokenizer == "" {
		return nil
	}
	if t, ok := toks["comp:"+comp.Tokenizer]; ok && t.err == nil {
		return t.rows
	}
	return nil
}

// geometryOf is a model's step JSON geometry. The embedding rows fall back
// to vocab_size when the weights did not tell (the reference falls back to
// the largest token id).
func geometryOf(info *modeldir.Info) Geometry {
	if info == nil {
		return Geometry{}
	}
	embed := info.EmbeddingRows
	if embed <= 0 {
		embed = int64(info.VocabSize)
	}
	return Geometry{NParameters: info.Params, NLayers: info.Layers, EmbedSize: embed,
		IntermediateSize: info.Intermediate, HiddenSize: info.Hidden}
}

// pageNames names the distinct pages of the samples, in sample order.
func pageNames(pages []PageRef) []string {
	out := []string{}
	seen := map[PageRef]bool{}
	for _, p := range pages {
		if !seen[p] {
			seen[p] = true
			out = append(out, PageName(p))
		}
	}
	return out
}

// fillStats fills a model's loss statistics (spec §6.13) from its full loss
// vector and the token rows of its samples (nil when unknown: every loss
// came from the cache and its tokenizer did not run this step).
func fillStats(ur *UIDReport, full []float64, rows [][]int) {
	var mean, std float64
	ur.NSamples, mean, std = finiteStats(full)
	ur.LossSumAvg, ur.LossSumStd = JSONFloat(mean), JSONFloat(std)
	ur.NInf = 0
	for _, l := range full {
		if math.IsInf(l, 0) {
			ur.NInf++
		}
	}
	if rows == nil {
		ur.LossPTAvg, ur.LossPTStd = JSONFloat(math.NaN()), JSONFloat(math.NaN())
		ur.AvgSampleLen = nil
		return
	}
	pt := make([]float64, len(full))
	total, used := 0, 0
	for i, l := range full {
		if i >= len(rows) || len(rows[i]) == 0 {
			pt[i] = math.Inf(1)
			continue
		}
		pt[i] = l / float64(len(rows[i]))
		total += len(rows[i])
		used++
	}
	_, mean, std = finiteStats(pt)
	ur.LossPTAvg, ur.LossPTStd = JSONFloat(mean), JSONFloat(std)
	avg := 0.0
	if used > 0 {
		avg = float64(total) / float64(used)
	}
	ur.AvgSampleLen = &avg
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Run calls Step until ctx ends or steps steps were run (steps ≤ 0: forever).
// A failed step is logged and retried after 5 s; each report goes to onStep.
func (v *Validator) Run(ctx context.Context, steps int, idle time.Duration, onStep func(*StepReport)) error {
	for i := 0; steps <= 0 || i < steps; i++ {
		rep, err := v.Step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			v.log.Error("validator step failed", "err", err)
			if steps > 0 {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
			}
			continue
		}
		if onStep != nil {
			onStep(rep)
		}
		if rep.Evaluated == 0 && idle > 0 && (steps <= 0 || i+1 < steps) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(idle):
			}
		}
	}
	return nil
}
