package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
)

// ErrOutside is returned for a path that resolves outside the state folder.
var ErrOutside = errors.New("path leaves the state folder")

// stepName is what a step file may be called.
var stepName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}\.json$`)

// snapshot is the state folder read at one moment.
type snapshot struct {
	modelDir string // the validator's --model-dir (resolved, inside root)
	state    *eval.ValidatorState
	config   *eval.Config
	steps    []stepFile // oldest first
	models   map[chain.UID]*modelEntry
	// names are the participants' names (from demo.json when present).
	names    map[chain.UID]participant
	namesErr string // why the names file could not be read
	// times maps a block to its wall-clock time (unix seconds), from the
	// step reports and demo.json's commit times.
	times map[uint64]float64
}

// participant is a named neuron of the demo (miner or validator).
type participant struct {
	Name   string
	Hotkey string
	// Repo, Commit and Block are a miner's commitment as the demo made it
	// (shown for a model that the validator state no longer records).
	Repo, Commit string
	Block        uint64
}

type stepFile struct {
	Name   string
	Report eval.StepReport
}

// modelEntry is what the steps and the state say about one UID.
type modelEntry struct {
	UID         chain.UID
	Hotkey      string
	Competition string
	Label       string
	Block       uint64
	Meta        *eval.ModelMetadata
	Last        *eval.UIDReport // in the newest step that evaluated it
	LastStep    int
	// LossPT is the newest positive per-token loss: a step whose samples
	// all came from the eval cache reports 0 there.
	LossPT float64
	// Rejected is why the newest step that named this UID turned it away
	// (empty when it was evaluated since).
	Rejected string
}

// resolveRoot returns the absolute, symlink-free state folder.
func resolveRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("open state folder %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("open state folder %q: %w", dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("open state folder %q: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("open state folder %q: not a folder", dir)
	}
	return real, nil
}

// inside resolves p (absolute) with its symbolic links and checks that the
// result lies in root.
func inside(root, p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("resolve %q: %w", p, ErrOutside)
	}
	return real, nil
}

// modelDirOf finds the validator model folder in root.
func modelDirOf(root string) string {
	for _, d := range []string{root, filepath.Join(root, "validator")} {
		if st, err := os.Stat(filepath.Join(d, "vali-state")); err == nil && st.IsDir() {
			if real, err := inside(root, d); err == nil {
				return real
			}
		}
	}
	return ""
}

// load reads the state file and the step files.
func load(ctx context.Context, root string) (*snapshot, error) {
	s := &snapshot{modelDir: modelDirOf(root), models: map[chain.UID]*modelEntry{}, times: map[uint64]float64{}}
	// A broken names file costs the names, not the pages.
	names, err := readNames(root, s.times)
	if err != nil {
		s.namesErr = strings.ReplaceAll(err.Error(), root, "<state>")
	}
	s.names = names
	if s.modelDir != "" {
		p := filepath.Join(eval.StateDir(s.modelDir), eval.ValidatorStateFile)
		if real, err := inside(root, p); err == nil {
			st, err := eval.LoadValidatorState(real)
			if err != nil {
				return nil, err
			}
			s.state = st
			if cfg, err := st.Config(); err == nil {
				s.config = cfg
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read validator state: %w", err)
		}
	}
	dirs := []string{filepath.Join(root, "steps")}
	if s.modelDir != "" && s.modelDir != root {
		dirs = append(dirs, filepath.Join(s.modelDir, "steps"))
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		steps, err := readSteps(root, d)
		if err != nil {
			return nil, err
		}
		s.steps = append(s.steps, steps...)
	}
	sort.SliceStable(s.steps, func(i, j int) bool {
		a, b := s.steps[i].Report, s.steps[j].Report
		if a.Timestamp != b.Timestamp {
			return a.Timestamp < b.Timestamp
		}
		return s.steps[i].Name < s.steps[j].Name
	})
	for i := range s.steps {
		rep := &s.steps[i].Report
		if rep.Block != 0 && rep.Timestamp > 0 {
			s.times[rep.Block] = rep.Timestamp
		}
		for j := range rep.UIDs {
			u := &rep.UIDs[j]
			e := s.models[u.UID]
			if e == nil || (u.Hotkey != "" && e.Hotkey != u.Hotkey) {
				e = &modelEntry{UID: u.UID}
				s.models[u.UID] = e
			}
			if u.Hotkey != "" {
				e.Hotkey = u.Hotkey
			}
			if u.Competition != "" {
				e.Competition = u.Competition
			}
			if u.Label != "" {
				e.Label = u.Label
			}
			if u.Block != 0 {
				e.Block = u.Block
			}
			e.Last, e.LastStep, e.Rejected = u, i, ""
			if v := float64(u.LossPTAvg); v > 0 || math.IsInf(v, 1) {
				e.LossPT = v
			}
		}
		for _, u := range sortedUIDs(rep.Rejected) {
			e := s.models[u]
			if e == nil {
				e = &modelEntry{UID: u}
				if p, ok := s.names[u]; ok {
					e.Hotkey = p.Hotkey
				}
				if len(rep.Competitions) == 1 {
					e.Competition = rep.Competitions[0]
				}
				s.models[u] = e
			}
			e.Rejected = rep.Rejected[u]
		}
	}
	if s.state != nil {
		for _, e := range s.models {
			if m := s.state.HKMetadata[e.Hotkey]; m != nil {
				e.Meta = m
				if e.Competition == "" {
					e.Competition = m.ID.Competition
				}
				if e.Label == "" {
					e.Label = m.ID.Label()
				}
				if e.Block == 0 {
					e.Block = uint64(m.Block)
				}
			}
		}
	}
	return s, nil
}

// readSteps reads every step file of dir (missing: none).
func readSteps(root, dir string) ([]stepFile, error) {
	real, err := inside(root, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	ents, err := os.ReadDir(real)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	var out []stepFile
	for _, e := range ents {
		if !stepName.MatchString(e.Name()) {
			continue
		}
		p, err := inside(root, filepath.Join(real, e.Name()))
		if err != nil {
			continue // a link out of the folder is ignored
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read step %q: %w", e.Name(), err)
		}
		var rep eval.StepReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("read step %q: %w", e.Name(), err)
		}
		out = append(out, stepFile{Name: e.Name(), Report: rep})
	}
	return out, nil
}

// modelFolder returns the snapshot folder of a model when it is present,
// inside root, and holds no links that leave root.
func (s *snapshot) modelFolder(root string, e *modelEntry) (string, error) {
	if e.Meta == nil || s.modelDir == "" {
		return "", fmt.Errorf("model of uid %d: no commitment recorded in the validator state", e.UID)
	}
	repo, err := hf.ParseRepoID(e.Meta.ID.RepoID())
	if err != nil {
		return "", fmt.Errorf("model of uid %d: %w", e.UID, err)
	}
	c := e.Meta.ID.Commit
	if c == "" || c == "." || c == ".." || strings.ContainsAny(c, `/\`) {
		return "", fmt.Errorf("model of uid %d: bad commit %q", e.UID, c)
	}
	dir, err := inside(root, eval.SnapshotDir(s.modelDir, repo, c))
	if err != nil {
		return "", fmt.Errorf("model of uid %d: %w", e.UID, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("model of uid %d: %w", e.UID, err)
	}
	for _, f := range ents {
		if _, err := inside(root, filepath.Join(dir, f.Name())); err != nil {
			return "", fmt.Errorf("model of uid %d: %w", e.UID, err)
		}
	}
	return dir, nil
}

// competitions returns the competition names: the config's, then any only
// seen in steps.
func (s *snapshot) competitions() []string {
	var out []string
	seen := map[string]bool{}
	if s.config != nil {
		for _, n := range s.config.Names() {
			out, seen[n] = append(out, n), true
		}
	}
	for _, st := range s.steps {
		for _, n := range st.Report.Competitions {
			if !seen[n] {
				out, seen[n] = append(out, n), true
			}
		}
	}
	return out
}

func sortedUIDs[V any](m map[chain.UID]V) []chain.UID {
	out := make([]chain.UID, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// NamesFile is the optional file of the state folder that names the
// participants: `coldint demo` writes it (its summary), with a name and a
// hotkey per miner and for the validator, and the block and wall-clock time
// of each miner's commitment.
const NamesFile = "demo.json"

// namesFile is the part of [NamesFile] the server reads.
type namesFile struct {
	Miners []struct {
		Name        string    `json:"name"`
		Label       string    `json:"label"`
		UID         chain.UID `json:"uid"`
		Hotkey      string    `json:"hotkey"`
		Block       uint64    `json:"block"`
		Repo        string    `json:"repo"`
		Commit      string    `json:"commit"`
		CommittedAt float64   `json:"committed_at"`
	} `json:"miners"`
	Validator *struct {
		Name   string    `json:"name"`
		UID    chain.UID `json:"uid"`
		Hotkey string    `json:"hotkey"`
	} `json:"validator"`
}

// readNames reads [NamesFile] when root holds one (none: no names) and
// records the commitment times it gives in times.
func readNames(root string, times map[uint64]float64) (map[chain.UID]participant, error) {
	p, err := inside(root, filepath.Join(root, NamesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read names: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read names: %w", err)
	}
	var nf namesFile
	if err := json.Unmarshal(b, &nf); err != nil {
		return nil, fmt.Errorf("read names %q: %w", NamesFile, err)
	}
	out := map[chain.UID]participant{}
	for _, m := range nf.Miners {
		name := m.Label
		if name == "" {
			name = m.Name
		}
		if name != "" {
			out[m.UID] = participant{Name: name, Hotkey: m.Hotkey, Repo: m.Repo, Commit: m.Commit, Block: m.Block}
		}
		if m.Block != 0 && m.CommittedAt > 0 {
			times[m.Block] = m.CommittedAt
		}
	}
	if v := nf.Validator; v != nil && v.Name != "" {
		out[v.UID] = participant{Name: v.Name, Hotkey: v.Hotkey}
	}
	return out, nil
}

// name returns a UID's display name: its participant name when known (and
// the hotkey agrees), else "uid N".
func (s *snapshot) name(u chain.UID, hotkey string) string {
	if p, ok := s.names[u]; ok && (hotkey == "" || p.Hotkey == "" || p.Hotkey == hotkey) {
		return p.Name
	}
	return fmt.Sprintf("uid %d", u)
}

// blockTime returns the wall-clock time (unix seconds) of a block, 0 when
// unknown.
func (s *snapshot) blockTime(b uint64) float64 { return s.times[b] }

// named replaces the participants' hotkeys in text (a rejection reason
// names the first server of a copy by hotkey) with their names.
func (s *snapshot) named(text string) string {
	for _, u := range sortedUIDs(s.names) {
		if p := s.names[u]; p.Hotkey != "" && strings.Contains(text, p.Hotkey) {
			re := regexp.MustCompile(`\b` + regexp.QuoteMeta(p.Hotkey) + `\b`)
			text = re.ReplaceAllLiteralString(text, p.Name)
		}
	}
	return text
}
