package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
)

// PhaseDeadline is the shared download deadline of the three visiting phases
// of a chain update that started at start (docs/validator.md#visiting-uids: one budget of
// [TTLDownloadModels]).
func PhaseDeadline(start time.Time) time.Time { return start.Add(TTLDownloadModels) }

// CompetitionDeadline is the soft deadline of one competition's evaluation in
// a step started at start with n competitions: start + 7200 s / n (docs/validator.md#a-step).
func CompetitionDeadline(start time.Time, n int) time.Time {
	if n < 1 {
		n = 1
	}
	return start.Add(TTLRunStep / time.Duration(n))
}

// WeightSetDue reports whether weights may be set now (docs/validator.md#setting-weights): at least
// interval since the last success (initialised to the start-up time, so a
// restart does not set early) and a weight sum of at least [WeightSetMinSum].
func WeightSetDue(lastSuccess, now time.Time, interval time.Duration, w []float64) bool {
	return now.Sub(lastSuccess) >= interval && ShouldSetWeights(w)
}

// GB is the disk-policy gigabyte (docs/validator.md#disk-policy).
const GB = 1_000_000_000

// Disk policy constants (docs/validator.md#constants-and-defaults, docs/validator.md#disk-policy).
const (
	LimitMinFreeGB          = 30
	DefaultMinFreeGB        = 120
	DownloadMinFreeMarginGB = 5
)

// BytesToDelete is the cleanup target of the disk policy (docs/validator.md#disk-policy).
// storeSizeGB > 0 is a size limit: when inUse ≥ limit, delete inUse − limit.
// storeSizeGB ≤ 0 keeps |storeSizeGB| GB free (values in (−30, 0] are
// clamped to −30): when free ≤ that, delete the difference. Computed in bytes
// rather than rounded GB.
func BytesToDelete(inUse, free int64, storeSizeGB float64) int64 {
	if storeSizeGB > 0 {
		limit := int64(storeSizeGB * GB)
		if inUse >= limit {
			return inUse - limit
		}
		return 0
	}
	keep := -storeSizeGB
	if keep < LimitMinFreeGB {
		keep = LimitMinFreeGB
	}
	want := int64(keep * GB)
	if free <= want {
		return want - free
	}
	return 0
}

// CanDownload reports whether a model of up to modelSize bytes may be
// downloaded with free bytes available: free ≥ modelSize + 5 GB (docs/validator.md#syncing-a-model).
func CanDownload(free, modelSize int64) bool {
	return free >= modelSize+DownloadMinFreeMarginGB*GB
}

// BenchmarkBlock is the default commit block of an injected model: far in the
// future, so its advantage factor is 1 and it never wins on age.
const BenchmarkBlock = 1 << 31

// Benchmark is one entry of benchmark.json (docs/validator.md#a-step): a local model
// injected under a real UID with priority [PrioInject], loaded from Path,
// with no hash or size check. Use only offline or without setting weights.
type Benchmark struct {
	UID         chain.UID         `json:"uid"`
	Competition string            `json:"competition"`
	Block       chain.BlockNumber `json:"block"`
	Path        string            `json:"path"`
	Label       string            `json:"label"`
	Hotkey      string            `json:"hotkey,omitempty"`
}

// DisplayLabel is the label an injected model is shown with: "dummy/<label>".
func (b Benchmark) DisplayLabel() string { return "dummy/" + b.Label }

// ParseBenchmarks parses benchmark.json: an object mapping a decimal UID to
// {competition, block?, path, label?, hotkey?}. block defaults to
// [BenchmarkBlock]; competition and path are required. Entries are returned
// by UID.
func ParseBenchmarks(data []byte) ([]Benchmark, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("parse benchmarks: not a JSON object: %w", ErrInvalidConfig)
	}
	var out []Benchmark
	for k, v := range raw {
		uid, err := strconv.ParseUint(k, 10, 16)
		if err != nil || strconv.FormatUint(uid, 10) != k {
			return nil, fmt.Errorf("parse benchmarks: key %q is not a uid: %w", k, ErrInvalidConfig)
		}
		m, err := competition.RawObject(v)
		if err != nil {
			return nil, fmt.Errorf("parse benchmarks: uid %d: not an object: %w", uid, ErrInvalidConfig)
		}
		d := &competition.Fields{M: m}
		b := Benchmark{UID: chain.UID(uid), Block: BenchmarkBlock}
		b.Competition, _ = d.String("competition")
		b.Path, _ = d.String("path")
		b.Label, _ = d.String("label")
		b.Hotkey, _ = d.String("hotkey")
		if blk, ok := d.Integer("block", 0, math.MaxUint32); ok {
			b.Block = chain.BlockNumber(blk)
		}
		if d.Err() == nil && (b.Competition == "" || b.Path == "") {
			d.Fail("competition/path", "required")
		}
		if d.Err() != nil {
			return nil, fmt.Errorf("parse benchmarks: uid %d: %w", uid, d.Err())
		}
		if b.Label == "" {
			b.Label = "uid" + k
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}
