package evalproof

import (
	"sort"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
)

// StepInfo is what a step's publication adds to the validator's report.
type StepInfo struct {
	// Step is the publication's step number (see [Publisher]).
	Step uint64
	// Validator is the validator's hotkey (SS58; "" when offline).
	Validator string
	Netuid    uint16
	// Dataset names where the samples come from (the datasets-server
	// dataset id, or a name for local data).
	Dataset string
	Prev    *Link
}

// StepRefs names each competition's samples of the report, in loss order,
// from the validator's own sample records (eval.SampleRef). A sample of the
// validator's unnamed source gets dataset (the datasets-server dataset, or
// "local").
func StepRefs(rep *eval.StepReport, dataset string) map[string][]SampleRef {
	out := map[string][]SampleRef{}
	for _, name := range rep.Competitions {
		refs := make([]SampleRef, len(rep.Samples[name]))
		for i, r := range rep.Samples[name] {
			ds := r.Dataset
			if ds == "" {
				ds = dataset
			}
			refs[i] = SampleRef{Task: r.Task, Dataset: ds, Config: r.Config, Split: r.Split, Row: r.Row, TextSHA256: r.SHA256}
		}
		out[name] = refs
	}
	return out
}

// FromStep builds and seals the publication of a validator step; refs are
// each competition's samples ([StepRefs]). ids gives the model id each
// hotkey had committed (the validator state's hk_metadata); a model whose
// recorded commitment block differs from the step's gets no id. A model
// whose losses do not match its competition's samples in number is
// published without losses.
func FromStep(rep *eval.StepReport, refs map[string][]SampleRef, ids map[string]*eval.ModelMetadata, info StepInfo) (*Step, error) {
	s := &Step{Manifest: Manifest{Step: info.Step, Block: rep.Block, Timestamp: rep.Timestamp, Validator: info.Validator,
		Netuid: info.Netuid, Prev: info.Prev, Weights: []UIDWeight{}}}
	for u, w := range rep.Weights {
		s.Manifest.Weights = append(s.Manifest.Weights, UIDWeight{UID: uint16(u), Weight: w})
	}
	sort.Slice(s.Manifest.Weights, func(a, b int) bool { return s.Manifest.Weights[a].UID < s.Manifest.Weights[b].UID })
	for _, name := range rep.Competitions {
		c := Competition{Name: name, Samples: refs[name], Models: []Model{}}
		if c.Samples == nil {
			c.Samples = []SampleRef{}
		}
		if p, ok := rep.CompetitionParams[name]; ok {
			c.Params, _ = jsonMarshal(p)
		}
		for _, ur := range rep.UIDs {
			if ur.Competition == name {
				c.Models = append(c.Models, modelOf(&ur, ids, len(c.Samples)))
			}
		}
		s.Competitions = append(s.Competitions, c)
	}
	if err := s.Seal(); err != nil {
		return nil, err
	}
	return s, nil
}

func modelOf(ur *eval.UIDReport, ids map[string]*eval.ModelMetadata, n int) Model {
	m := Model{UID: uint16(ur.UID), Hotkey: ur.Hotkey, Block: ur.Block, Status: ur.Status, WinRate: ur.WinRate, Weight: ur.Weight}
	if md := ids[ur.Hotkey]; md != nil && uint64(md.Block) == ur.Block {
		m.Repo, m.Commit, m.Hash = md.ID.RepoID(), md.ID.Commit, md.ID.Hash
	}
	if ur.Losses != nil && len(ur.Losses) == n {
		m.Losses = append([]eval.JSONFloat{}, ur.Losses...)
	}
	if bad(m.WinRate) {
		m.WinRate = 0
	}
	if bad(m.Weight) {
		m.Weight = 0
	}
	return m
}

// ModelID is the committed model id of m (ok false for a model without one).
func (m *Model) ModelID(competition string) (chain.ModelID, bool) {
	ns, name, ok := cutRepo(m.Repo)
	if !ok || m.Commit == "" {
		return chain.ModelID{}, false
	}
	return chain.ModelID{Namespace: ns, Name: name, Commit: m.Commit, Hash: m.Hash, Competition: competition}, true
}
