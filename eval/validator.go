package eval

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
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
	// TaskSources give the texts of evaluation tasks by task name; a task
	// not named here reads its dataset from the datasets-server of Source
	// (which must then be a *data.Server).
	TaskSources map[string]data.Source
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
	// StoreSizeGB is the disk policy (docs/validator.md#disk-policy; default −120).
	StoreSizeGB float64
	// NoClean disables model cleanup.
	NoClean bool
	// DownloadMargin is the free-disk margin over model_size (0: 5 GB).
	DownloadMargin int64
	// BenchmarkFile is benchmark.json ("" : none).
	BenchmarkFile string
	// SaveStepJSON, when set, receives each step's JSON (docs/validator.md#step-json).
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
	// HashCommitReveal uses the hash commit-reveal variant even where the
	// subnet offers the timelocked one.
	HashCommitReveal bool
	// Beacon is the drand beacon timelocked commits are encrypted to (nil:
	// quicknet, which the chain follows).
	Beacon *timelock.ChainInfo
	// WeightsTick is how often [Validator.Run]'s weights stage looks at
	// reveals and the weight interval (default 30 s).
	WeightsTick time.Duration
	// SyncTick is how often Run's sync stage looks whether the config,
	// chain or cleanup is due (default 1 s).
	SyncTick time.Duration
	// CleanupInterval is Run's model cleanup period (default 60 s).
	CleanupInterval time.Duration
	// Tokenizer resolves a competition's tokenizer id (default: a local
	// folder, else the tokenizer files of that hub repo at main).
	Tokenizer func(ctx context.Context, id string) (*tokenizer.Tokenizer, error)
}

// Validator runs the evaluation loop of docs/validator.md#overview over the interfaces in
// [Options]. It is not safe for concurrent use: call Step from one goroutine.
type Validator struct {
	// mu guards everything below. Stages hold it while they read or change
	// state and release it around long I/O (chain calls, downloads, forward
	// passes), so the sync, evaluation and weights stages interleave.
	mu sync.Mutex
	// dl serialises model syncs (downloads and hash checks).
	dl sync.Mutex
	// ready carries the UIDs the sync stage made ready to the evaluation stage.
	ready        chan chain.UID
	variant      weightVariant
	cfg          *Config
	lastReported float64
	opts         Options
	log          *slog.Logger
	rng          *rand.Rand
	state        *ValidatorState
	cache        *Cache
	models       map[chain.UID]*uidModel
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
	// rounds are the samples of each competition's current sync round.
	rounds map[string]*sampleSet
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

func (p *phaseTiming) take() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.d
	p.d = map[string]time.Duration{}
	return d
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
	if opts.WeightsTick <= 0 {
		opts.WeightsTick = 30 * time.Second
	}
	if opts.SyncTick <= 0 {
		opts.SyncTick = time.Second
	}
	if opts.CleanupInterval <= 0 {
		opts.CleanupInterval = 60 * time.Second
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
		models: map[chain.UID]*uidModel{}, ready: make(chan chain.UID, 256), timing: &phaseTiming{d: map[string]time.Duration{}}, toks: map[string]*tokenizer.Tokenizer{}, rejected: map[chain.UID]string{},
		rounds: map[string]*sampleSet{},
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

// Inspect calls f with the validator state while no stage changes it (for
// inspection while [Validator.Run] runs; f must not keep or modify it).
func (v *Validator) Inspect(f func(*ValidatorState)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v.state)
}

// Cache returns the eval cache.
func (v *Validator) Cache() *Cache { return v.cache }

// unlocked runs f without v.mu; the caller holds it.
func (v *Validator) unlocked(f func()) {
	v.mu.Unlock()
	defer v.mu.Lock()
	f()
}

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
