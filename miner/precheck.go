package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train/precheck"
)

// PrecheckOptions configure a pre-check of one model.
type PrecheckOptions struct {
	// Model is the model folder to check.
	Model string
	// Config holds the competitions; Competition names the one to check in.
	Config      *competition.Config
	Competition string
	// BestDir is the current best's folder, given; when empty the best is
	// found and downloaded through Best. Best.Chain also gives the current
	// block (the one our commitment would land in).
	BestDir string
	Best    BestSource
	// CacheDir receives the downloaded best (under best/) and competition
	// tokenizers; "": a temporary folder for the best, removed afterwards,
	// and the user cache for tokenizers.
	CacheDir string
	// Source gives the fresh samples: Samples texts chosen from Seed (0:
	// random).
	Source  data.Source
	Samples int
	Seed    uint64
	// Device, DType and Threads start the engine that computes the losses.
	Device  model.Device
	DType   model.DType
	Threads int
}

// PrecheckResult is what a pre-check found.
type PrecheckResult struct {
	Model       string               `json:"model"`
	Competition string               `json:"competition"`
	Check       *surgeon.CheckReport `json:"check"`
	Best        string               `json:"best,omitempty"`
	Samples     int                  `json:"samples"`
	LossAvg     float64              `json:"loss_avg"`
	BestLossAvg float64              `json:"best_loss_avg,omitempty"`
	WinRate     float64              `json:"expected_win_rate"`
	WinAbsRate  float64              `json:"abs_win_rate"`
	BestAdvFact float64              `json:"best_advantage_factor,omitempty"`
}

// LoadCompetitions reads the competitions.json at loc (a URL or a file).
func LoadCompetitions(ctx context.Context, loc string) (*competition.Config, error) {
	l := eval.NewLoader(loc, "")
	if err := l.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("load competitions %q: %w", loc, err)
	}
	cfg, _ := l.Current()
	if cfg == nil {
		return nil, fmt.Errorf("load competitions %q: no config", loc)
	}
	return cfg, nil
}

// Precheck checks the model against the competition's rules and, on fresh
// samples, against the current best: the expected win rate is the share of
// samples the model would win under the validators' rule, the best keeping
// the time advantage of its older commitment. A competition without a best
// model yet gives a valid model a win rate of 1.
func Precheck(ctx context.Context, o PrecheckOptions) (*PrecheckResult, error) {
	comp, ok := o.Config.Competition(o.Competition)
	if !ok {
		return nil, fmt.Errorf("mine precheck: competition %q is not in the competitions (have %v)", o.Competition, o.Config.Names())
	}
	rep, _, err := precheck.Admission(ctx, o.Model, o.Config, o.Competition)
	if err != nil {
		return nil, fmt.Errorf("mine precheck: %w", err)
	}
	res := &PrecheckResult{Model: o.Model, Competition: o.Competition, Check: rep}
	slog.Info("constraints met", "competition", o.Competition, "class", rep.ClassName, "repo_bytes", rep.RepoBytes)
	bestDir, bestBlock, cleanup, err := o.currentBest(ctx)
	defer cleanup()
	if errors.Is(err, chain.ErrNotFound) {
		slog.Warn("no current best model in this competition: a valid model wins every sample")
		res.WinRate, res.WinAbsRate = 1, 1
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := o.Best.Chain(ctx)
	if err != nil {
		return nil, err
	}
	current, err := r.BlockNumber(ctx)
	if err != nil {
		return nil, err
	}
	res.Best = bestDir
	texts, err := o.samples(ctx, o.Config.Defaults.RowsPerPage)
	if err != nil {
		return nil, err
	}
	res.Samples = len(texts)
	mine, theirs, err := o.losses(ctx, comp, bestDir, texts)
	if err != nil {
		return nil, err
	}
	res.LossAvg, res.BestLossAvg = finiteMean(mine), finiteMean(theirs)
	wp := eval.WinParams{CurrentBlock: current, AdvantageInitial: comp.AdvantageInitial, AdvantageDecay: comp.AdvantageDecay}
	wr, err := eval.ComputeWins([]eval.ModelLosses{{UID: 0, Block: bestBlock, Losses: theirs}, {UID: 1, Block: current, Losses: mine}}, wp)
	if err != nil {
		return nil, err
	}
	res.WinRate, res.WinAbsRate, res.BestAdvFact = wr.WinRate[1], wr.WinAbsRate[1], wr.Factors[0]
	return res, nil
}

// currentBest returns the best model's folder and commitment block (0 for
// a given folder), and a cleanup that removes a temporary download.
func (o *PrecheckOptions) currentBest(ctx context.Context) (string, chain.BlockNumber, func(), error) {
	if o.BestDir != "" {
		return o.BestDir, 0, func() {}, nil
	}
	cache, cleanup := o.CacheDir, func() {}
	if cache == "" {
		tmp, err := os.MkdirTemp("", "coldint-precheck-*")
		if err != nil {
			return "", 0, cleanup, err
		}
		cache, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	b, dir, err := o.Best.Current(ctx, filepath.Join(cache, "best"))
	if err != nil {
		return "", 0, cleanup, err
	}
	return dir, b.Block, cleanup, nil
}

// samples draws the fresh texts, whole pages of rowsPerPage rows.
func (o *PrecheckOptions) samples(ctx context.Context, rowsPerPage int) ([]string, error) {
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if rowsPerPage <= 0 {
		rowsPerPage = 25
	}
	n := o.Samples
	pages, err := data.Fetch(ctx, o.Source, data.NewRand(seed), (n+rowsPerPage-1)/rowsPerPage, rowsPerPage)
	if err != nil && len(pages) == 0 {
		return nil, err
	}
	texts := data.Texts(pages)
	if len(texts) > n {
		texts = texts[:n]
	}
	return texts, nil
}

// losses evaluates the model and the best on the texts, each tokenized as
// the validator would for it.
func (o *PrecheckOptions) losses(ctx context.Context, comp *competition.Competition, bestDir string, texts []string) (mine, theirs []float64, err error) {
	eng, err := model.NewEngineWith(model.EngineOptions{Threads: o.Threads, Device: o.Device})
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close()
	if mine, err = o.modelLosses(ctx, eng, comp, o.Model, texts); err != nil {
		return nil, nil, fmt.Errorf("evaluate %q: %w", o.Model, err)
	}
	if theirs, err = o.modelLosses(ctx, eng, comp, bestDir, texts); err != nil {
		return nil, nil, fmt.Errorf("evaluate the best model %q: %w", bestDir, err)
	}
	return mine, theirs, nil
}

// modelLosses tokenizes texts as the validator would for the model in dir
// and returns its summed losses (docs/scoring.md#per-sample-loss).
func (o *PrecheckOptions) modelLosses(ctx context.Context, eng *model.Engine, comp *competition.Competition, dir string, texts []string) ([]float64, error) {
	rows, choice, err := precheck.Samples(ctx, comp, dir, texts, o.competitionTokenizer)
	if err != nil {
		return nil, err
	}
	slog.Info("samples tokenized", "model", dir, "own_tokenizer", choice.Own, "competition_tokenizer", choice.Competition)
	samples := make([]model.Sample, len(rows))
	for i, r := range rows {
		if r == nil {
			continue
		}
		s := model.Sample{Valid: true, Ids: make([]int32, len(r))}
		for j, id := range r {
			s.Ids[j] = int32(id)
		}
		samples[i] = s
	}
	m, err := eng.Load(ctx, dir, model.LoadOptions{DType: o.DType})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Losses(ctx, samples, nil)
}

// competitionTokenizer loads a competition tokenizer as a validator does:
// a local folder, or the hub repo it names, fetched into the cache folder.
func (o *PrecheckOptions) competitionTokenizer(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
	h, err := o.Best.Hub()
	if err != nil {
		return nil, err
	}
	cache := o.CacheDir
	if cache == "" {
		if cache, err = os.UserCacheDir(); err != nil {
			return nil, err
		}
		cache = filepath.Join(cache, "coldint", "tokenizers")
	}
	return competition.LoadTokenizer(ctx, h, id, cache)
}

// finiteMean is the mean of the finite values (+Inf when there are none).
func finiteMean(v []float64) float64 {
	var s float64
	n := 0
	for _, x := range v {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.Inf(1)
	}
	return s / float64(n)
}
