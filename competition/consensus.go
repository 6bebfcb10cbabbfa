package competition

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/coldint/coldint/internal/jsonobj"
)

// Sample seed modes of eval_seed.
const (
	// SeedRandom: every validator draws its own random pages (the default).
	SeedRandom = "random"
	// SeedBlock: the pages come from the hash of the last sync block, so
	// every validator evaluates the same samples.
	SeedBlock = "block"
)

// DefaultSyncCadence is sync_cadence when absent: a sync block every 150
// blocks, as SN9 does.
const DefaultSyncCadence = 150

// Task is one weighted evaluation task of a competition: pages of rows of
// one dataset (optionally one config and split of it) whose per-sample
// losses are scored on their own and combined by weight.
type Task struct {
	Name    string `json:"name"`
	Dataset string `json:"dataset"`
	// Config and Split restrict the pages to one config or split ("": any).
	Config string `json:"config,omitempty"`
	Split  string `json:"split,omitempty"`
	// Weight is the task's share before normalisation ([Competition.TaskWeights]).
	Weight float64 `json:"weight"`
	// Pages is the number of pages of rows_per_page rows per round.
	Pages int `json:"pages"`
}

// taskKeys are the keys a task reads.
var taskKeys = []string{"name", "dataset", "config", "split", "weight", "pages"}

// Seed returns eval_seed: [SeedRandom] or [SeedBlock].
func (c *Competition) Seed() string {
	if c.EvalSeed == "" {
		return SeedRandom
	}
	return c.EvalSeed
}

// Cadence returns sync_cadence in blocks (default [DefaultSyncCadence]).
func (c *Competition) Cadence() uint64 {
	if c.SyncCadence == 0 {
		return DefaultSyncCadence
	}
	return uint64(c.SyncCadence)
}

// SyncBlock returns the last sync block at or below block: the newest
// multiple of sync_cadence.
func (c *Competition) SyncBlock(block uint64) uint64 {
	return block - block%c.Cadence()
}

// Eligible reports whether a model committed at block commit may be
// evaluated in the round of syncBlock: committed at least eval_delay
// blocks before it.
func (c *Competition) Eligible(commit, syncBlock uint64) bool {
	return commit+uint64(c.EvalDelay) <= syncBlock
}

// TaskWeights returns the tasks' weights normalised to sum 1 (nil without tasks).
func (c *Competition) TaskWeights() []float64 {
	var sum float64
	for _, t := range c.Tasks {
		sum += t.Weight
	}
	if len(c.Tasks) == 0 || sum <= 0 {
		return nil
	}
	out := make([]float64, len(c.Tasks))
	for i, t := range c.Tasks {
		out[i] = t.Weight / sum
	}
	return out
}

// decodeConsensus reads eval_seed, sync_cadence, eval_delay and tasks. An
// unusable eval_seed, sync_cadence or eval_delay keeps its default; an
// unusable tasks list leaves the competition out (d marks tasks required),
// since scoring it without its tasks would score something else. It
// returns warnings about unknown task keys.
func decodeConsensus(c *Competition, d *Fields) []string {
	if s, ok := d.String("eval_seed"); ok {
		if s == SeedRandom || s == SeedBlock {
			c.EvalSeed = s
		} else {
			d.Fail("eval_seed", "want %q or %q, got %q", SeedRandom, SeedBlock, s)
		}
	}
	if v, ok := d.Integer("sync_cadence", 1, maxInt); ok {
		c.SyncCadence = int(v)
	}
	if v, ok := d.Integer("eval_delay", 0, maxInt); ok {
		c.EvalDelay = int(v)
	}
	raw, ok := d.raw("tasks")
	if !ok {
		return nil
	}
	tasks, warns, err := decodeTasks(raw)
	if err != nil {
		d.Fail("tasks", "%v", err)
		return warns
	}
	c.Tasks = tasks
	return warns
}

// decodeTasks reads a list of tasks: each an object with a unique non-empty
// name, a dataset, a positive weight and optional config, split and pages
// (default 1).
func decodeTasks(raw json.RawMessage) ([]Task, []string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		return nil, nil, fmt.Errorf("want a non-empty list of tasks, got %s", jsonobj.Quote(raw))
	}
	var out []Task
	var warns []string
	for i, item := range items {
		m, err := RawObject(item)
		if err != nil {
			return nil, warns, fmt.Errorf("task %d is not an object", i)
		}
		t, err := decodeTask(m)
		if err != nil {
			return nil, warns, fmt.Errorf("task %d: %w", i, err)
		}
		if slices.ContainsFunc(out, func(o Task) bool { return o.Name == t.Name }) {
			return nil, warns, fmt.Errorf("task %d: name %q is used twice", i, t.Name)
		}
		for k := range m {
			if !slices.Contains(taskKeys, k) {
				warns = append(warns, fmt.Sprintf("task %q: key %q is not used, ignored", t.Name, k))
			}
		}
		out = append(out, t)
	}
	slices.Sort(warns)
	return out, warns, nil
}

func decodeTask(m map[string]json.RawMessage) (Task, error) {
	d := &Fields{M: m, NullIsProblem: true}
	t := Task{Pages: 1}
	t.Name, _ = d.String("name")
	t.Dataset, _ = d.String("dataset")
	t.Config, _ = d.String("config")
	t.Split, _ = d.String("split")
	if w, ok := d.Number("weight", 0, math.MaxFloat64); ok {
		if t.Weight = w; w == 0 {
			d.Fail("weight", "must be positive")
		}
	}
	if v, ok := d.Integer("pages", 1, 100000); ok {
		t.Pages = int(v)
	}
	if len(d.Problems) > 0 {
		return t, errors.New(d.Problems[0])
	}
	for _, k := range []string{"name", "dataset", "weight"} {
		if _, ok := m[k]; !ok {
			return t, fmt.Errorf("key %s is required", strconv.Quote(k))
		}
	}
	if t.Name == "" || t.Dataset == "" {
		return t, errors.New("name and dataset must not be empty")
	}
	return t, nil
}
