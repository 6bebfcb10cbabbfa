package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/internal/atomicfile"
)

// ValidatorStateFile is the validator state's file name inside <model_dir>/vali-state.
const ValidatorStateFile = "validator_state.json"

// ValidatorState is the persisted validator state (docs/validator.md#state). The running
// EMA weight vector is deliberately not part of it (docs/scoring.md#combining-competitions).
type ValidatorState struct {
	Version int `json:"version"`
	// Competitions is the last good competitions.json as fetched; it is parsed
	// again (with the same validation) on load.
	Competitions json.RawMessage `json:"competitions,omitempty"`
	Defaults     Defaults        `json:"defaults"`
	HallOfFame   HallOfFame      `json:"hall_of_fame"`
	// HKMetadata maps hotkey → the last recorded commitment (nil: none).
	HKMetadata map[string]*ModelMetadata `json:"hk_metadata"`
	// DiscardedCommitments holds [DiscardKey] values, sorted.
	DiscardedCommitments []string `json:"discarded_commitments"`
	// UIDLastRetriedTS maps uid → unix seconds of the last sync attempt.
	UIDLastRetriedTS map[chain.UID]float64 `json:"uid_last_retried_ts"`
	// CState is the per-competition pool, pending and weights.
	CState map[string]*CompState `json:"cstate"`
	// ForceEvalUntilUIDLast is the revisit pointer ([RevisitWindow]); nil when unset.
	ForceEvalUntilUIDLast *int `json:"force_eval_until_uid_last"`
	// LastWeightsSet is the unix time of the last successful weight set.
	LastWeightsSet float64 `json:"last_weights_set"`
	// LastWeightsBlock is the block of the last weight set or commit (the
	// chain's rate limit counts from there).
	LastWeightsBlock chain.BlockNumber `json:"last_weights_block,omitempty"`
	// PendingReveals are the hash commit-reveal commits not yet revealed,
	// oldest first. A new commit is appended; none is overwritten.
	PendingReveals []PendingReveal `json:"pending_reveals,omitempty"`
	// PendingReveal is the single pending commit older versions kept; it is
	// moved into PendingReveals on load.
	PendingReveal *PendingReveal `json:"pending_reveal,omitempty"`
}

// PendingReveal is a weight row committed with commit-reveal (docs/validator.md#setting-weights),
// kept until it is revealed.
type PendingReveal struct {
	UIDs       []chain.UID       `json:"uids"`
	Values     []uint16          `json:"values"`
	Salt       []uint16          `json:"salt"`
	VersionKey uint64            `json:"version_key"`
	Block      chain.BlockNumber `json:"block"`
	// RevealEpoch is the only epoch the chain accepts the reveal in (0:
	// unknown, the chain's settings could not be read at commit time).
	RevealEpoch uint64 `json:"reveal_epoch,omitempty"`
}

// NewValidatorState returns an empty state with the built-in defaults.
func NewValidatorState() *ValidatorState {
	return &ValidatorState{
		Version:          SpecVersion,
		Defaults:         BuiltinDefaults(),
		HallOfFame:       HallOfFame{},
		HKMetadata:       map[string]*ModelMetadata{},
		UIDLastRetriedTS: map[chain.UID]float64{},
		CState:           map[string]*CompState{},
	}
}

// Config re-parses the persisted competitions.json; nil when none was stored.
func (s *ValidatorState) Config() (*Config, error) {
	if len(s.Competitions) == 0 {
		return nil, nil
	}
	return ParseCompetitions(s.Competitions)
}

// Save writes the state to path atomically (temporary file, fsync, rename).
func (s *ValidatorState) Save(path string) error {
	s.Version = SpecVersion
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save validator state %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save validator state %q: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save validator state: %w", err)
	}
	return nil
}

// LoadValidatorState reads the state at path. A missing file gives a new
// state. A state whose version differs in major.minor ([CompatibleVersion])
// gives [ErrIncompatibleState]; an unreadable one an error. In both cases
// the reference starts clean, and so should the caller.
func LoadValidatorState(path string) (*ValidatorState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewValidatorState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load validator state: %w", err)
	}
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("load validator state %q: %w", path, err)
	}
	if probe.Version == nil || !CompatibleVersion(*probe.Version, SpecVersion) {
		v := -1
		if probe.Version != nil {
			v = *probe.Version
		}
		return nil, fmt.Errorf("load validator state %q: version %d: %w", path, v, ErrIncompatibleState)
	}
	s := NewValidatorState()
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("load validator state %q: %w", path, err)
	}
	for name, c := range s.CState {
		if c == nil {
			s.CState[name] = &CompState{}
		}
	}
	if s.PendingReveal != nil {
		s.PendingReveals = append([]PendingReveal{*s.PendingReveal}, s.PendingReveals...)
		s.PendingReveal = nil
	}
	return s, nil
}
