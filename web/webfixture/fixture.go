// Package webfixture writes a small validator state folder in the layout
// that the web app reads (validator/vali-state, model snapshots, steps/),
// for tests and for trying `coldint serve` without running a validator. The
// numbers in it are made up; the model folders are real.
package webfixture

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/internal/atomicfile"
)

// Model is one miner's model in the fixture.
type Model struct {
	UID    chain.UID
	Hotkey string
	Repo   hf.RepoID
	Commit string
	// Dir is a model folder copied into the validator's snapshot layout;
	// empty means "committed but not downloaded".
	Dir string
	// BadHash commits a hash that does not match the folder.
	BadHash bool
	// Loss is the per-token loss of the first step; it improves a little at
	// each further step.
	Loss float64
}

// Options describe the fixture.
type Options struct {
	Competition string // default "c00"
	Models      []Model
	Steps       int // default 3
	Seed        uint64
	// CachedLastStep makes the last step report a per-token loss of 0, as
	// the validator does when every sample came from its eval cache.
	CachedLastStep bool
}

// CompetitionsJSON is a competitions.json with one competition name.
func CompetitionsJSON(name string) []byte {
	b, _ := json.Marshal(map[string]any{
		"default": map[string]any{"rows_per_page": 10, "db_min_samples": 40, "db_max_samples": 400,
			"db_extend_samples": 10, "db_extend_interval": 1e9, "eval_samples": 40, "discard_winrate": 0.02},
		name: map[string]any{"reward": 1.0, "dataset": "local-public-domain", "model_types": []string{"LlamaForCausalLM"},
			"model_size": 40_000_000, "parameters": 8_000_000, "free_tokenizer": true,
			"max_sequence_len": 512, "cap_sample_len": 400, "pool_size": 4, "pend_size": 10},
	})
	return b
}

// Write creates the fixture under root (root/validator and root/steps).
func Write(ctx context.Context, root string, opts Options) error {
	if opts.Competition == "" {
		opts.Competition = "c00"
	}
	if opts.Steps <= 0 {
		opts.Steps = 3
	}
	modelDir := filepath.Join(root, "validator")
	st := eval.NewValidatorState()
	st.Competitions = CompetitionsJSON(opts.Competition)
	cs := &eval.CompState{Pending: map[chain.UID]float64{}, Weights: map[chain.UID]float64{}}
	st.CState[opts.Competition] = cs
	for i, m := range opts.Models {
		hash := "bm90LWEtcmVhbC1oYXNoLWJ1dC1iYXNlNjQtb2Y9"
		if m.Dir != "" {
			dst := eval.SnapshotDir(modelDir, m.Repo, m.Commit)
			if err := modeldir.CopyFiles(m.Dir, dst); err != nil {
				return fmt.Errorf("write fixture: %w", err)
			}
			h, err := modelhash.Dir(ctx, dst, modelhash.Options{})
			if err != nil {
				return fmt.Errorf("write fixture: %w", err)
			}
			if !m.BadHash {
				hash = modelhash.Salt(h, m.Hotkey)
			}
		}
		id := chain.ModelID{Namespace: m.Repo.Namespace, Name: m.Repo.Name, Commit: m.Commit, Hash: hash, Competition: opts.Competition}
		st.HKMetadata[m.Hotkey] = &eval.ModelMetadata{ID: id, Block: chain.BlockNumber(10 + i)}
		cs.Pool = append(cs.Pool, m.UID)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 1))
	for s := 1; s <= opts.Steps; s++ {
		rep := eval.StepReport{Step: s, Timestamp: 1.7e9 + float64(60*s), Block: uint64(100 + 10*s),
			Competitions: []string{opts.Competition}, Weights: map[chain.UID]float64{}, Evaluated: len(opts.Models),
			Rejected: map[chain.UID]string{99: "copy: the same content was first served by 5Other at block 3"}}
		best, bestLoss := -1, math.Inf(1)
		for i, m := range opts.Models {
			l := m.Loss * (1 - 0.02*float64(s-1))
			if l < bestLoss {
				best, bestLoss = i, l
			}
		}
		for i, m := range opts.Models {
			l := m.Loss * (1 - 0.02*float64(s-1))
			losses := make([]eval.JSONFloat, 40)
			for k := range losses {
				losses[k] = eval.JSONFloat(l * 60 * (0.7 + 0.6*rng.Float64()))
			}
			w, win := 0.0, 0.2+0.1*float64(i%3)
			if i == best {
				w, win = 1, 0.9
			}
			pt := l
			if opts.CachedLastStep && s == opts.Steps {
				pt = 0
			}
			id := st.HKMetadata[m.Hotkey].ID
			rep.UIDs = append(rep.UIDs, eval.UIDReport{UID: m.UID, Competition: opts.Competition, Label: id.Label(), Hotkey: m.Hotkey,
				Block: uint64(st.HKMetadata[m.Hotkey].Block), NSamples: len(losses), LossSumAvg: eval.JSONFloat(l * 60),
				LossPTAvg: eval.JSONFloat(pt), WinRate: win, Weight: w, Status: "ok", Losses: losses})
			rep.Weights[m.UID] = w
			if s == opts.Steps {
				cs.Weights[m.UID] = w
			}
		}
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("write fixture: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(root, "steps"), 0o755); err != nil {
			return fmt.Errorf("write fixture: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(root, "steps", fmt.Sprintf("step-%03d.json", s)), b, 0o644); err != nil {
			return fmt.Errorf("write fixture: %w", err)
		}
	}
	return st.Save(filepath.Join(eval.StateDir(modelDir), eval.ValidatorStateFile))
}
