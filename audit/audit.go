package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf"
)

// Options configure [Run].
type Options struct {
	// Hub serves the models (and hub tokenizers).
	Hub hf.Hub
	// Texts returns the text source of a dataset named in the samples.
	Texts func(ctx context.Context, dataset string) (data.Source, error)
	// Scorer computes losses, as the validator's.
	Scorer eval.Scorer
	// CacheDir receives the downloaded models (a Hugging Face cache layout).
	CacheDir string
	// MaxMemory, Threads, Device and DType go to the scorer's jobs.
	MaxMemory     int64
	Threads       int
	Device, DType string
	// Tolerance is the relative difference at which a loss disagrees
	// (default: the validator's eval cache tolerance).
	Tolerance float64
	// Chain, when set, is read for the validator's commitment on Netuid.
	Chain  chain.Reader
	Netuid chain.NetUID
	// Previous returns an earlier step's manifest of the same publication,
	// so a commitment of a later step can be followed back (nil: only a
	// commitment of this very step is checked).
	Previous func(ctx context.Context, step uint64) (*evalproof.Manifest, error)
	Logger   *slog.Logger
}

// Run audits a published step. Problems with the data (roots, texts,
// models) go into the report; the error is for a step that cannot be
// audited at all.
func Run(ctx context.Context, s *evalproof.Step, o Options) (*Report, error) {
	if o.Tolerance <= 0 {
		o.Tolerance = eval.CacheRelTolerance
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Hub == nil || o.Scorer == nil || o.Texts == nil || o.CacheDir == "" {
		return nil, errors.New("audit: hub, scorer, text source and cache folder are required")
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	r := &Report{Step: s.Manifest.Step, Block: s.Manifest.Block, Validator: s.Manifest.Validator, Root: s.Manifest.Root, Tolerance: o.Tolerance}
	if err := s.Verify(); err != nil {
		r.RootError = err.Error()
	}
	if o.Chain != nil {
		r.Chain = checkChain(ctx, s, o)
	}
	for i := range s.Competitions {
		cr, err := auditCompetition(ctx, s, i, o)
		if err != nil {
			return nil, err
		}
		r.Competitions = append(r.Competitions, *cr)
	}
	r.finish()
	return r, nil
}

// auditCompetition checks the texts of competition i and re-evaluates its
// models.
func auditCompetition(ctx context.Context, s *evalproof.Step, i int, o Options) (*CompetitionReport, error) {
	c := &s.Competitions[i]
	cr := &CompetitionReport{Name: c.Name, Samples: len(c.Samples)}
	comp, err := parseParams(c)
	if err != nil {
		cr.Error = err.Error()
		return cr, nil
	}
	texts, bad, err := fetchTexts(ctx, c.Samples, o)
	if err != nil {
		return nil, fmt.Errorf("audit competition %q: %w", c.Name, err)
	}
	cr.TextMismatches = bad
	skip := map[int]bool{}
	for _, b := range bad {
		skip[b.Index] = true
	}
	for mi := range c.Models {
		m := &c.Models[mi]
		mr := ModelReport{UID: m.UID, Hotkey: m.Hotkey, Repo: m.Repo, Commit: m.Commit}
		if m.Losses == nil {
			mr.Verdict, mr.Reason = VerdictNoLosses, "the validator published no losses ("+m.Status+")"
		} else {
			own, err := modelLosses(ctx, c.Name, comp, m, texts, o)
			if err != nil {
				mr.Verdict, mr.Reason = VerdictNotAudited, err.Error()
			} else {
				compare(&mr, m, own, skip, o.Tolerance)
				prove(&mr, s, i)
			}
		}
		o.Logger.Info("model audited", "competition", c.Name, "uid", m.UID, "verdict", mr.Verdict, "max_abs_diff", mr.MaxAbsDiff)
		cr.Models = append(cr.Models, mr)
	}
	return cr, nil
}

// parseParams rebuilds the competition from its published parameters.
func parseParams(c *evalproof.Competition) (*competition.Competition, error) {
	if len(c.Params) == 0 {
		return nil, fmt.Errorf("competition %q: no parameters published; its models cannot be re-evaluated", c.Name)
	}
	name, err := jsonString(c.Name)
	if err != nil {
		return nil, err
	}
	cfg, err := competition.Parse([]byte("{" + name + ":" + string(c.Params) + "}"))
	if err != nil {
		return nil, fmt.Errorf("competition %q: published parameters: %w", c.Name, err)
	}
	comp, ok := cfg.Competition(c.Name)
	if !ok {
		return nil, fmt.Errorf("competition %q: published parameters are unusable: %v", c.Name, cfg.Warnings)
	}
	return comp, nil
}
