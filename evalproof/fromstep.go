package evalproof

import (
	"crypto/sha256"
	"encoding/hex"
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

// TextSHA256 is the hex sha256 of a sample text.
func TextSHA256(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// RefsFromSamples names the validator's samples: the dataset row is the
// page offset plus the position in the page. Task is "".
func RefsFromSamples(dataset string, ss []eval.Sample) []SampleRef {
	out := make([]SampleRef, len(ss))
	for i, s := range ss {
		out[i] = SampleRef{Dataset: dataset, Config: s.Page.Config, Split: s.Page.Split, Row: int64(s.Page.Offset + s.Ofs), TextSHA256: TextSHA256(s.Text)}
	}
	return out
}

// FromStep builds and seals the publication of a validator step. ids gives
// the model id each hotkey had committed (the validator state's
// hk_metadata); a model whose recorded commitment block differs from the
// step's gets no id. A report without samples publishes competitions
// without samples or losses.
func FromStep(rep *eval.StepReport, ids map[string]*eval.ModelMetadata, info StepInfo) (*Step, error) {
	s := &Step{Manifest: Manifest{Step: info.Step, Block: rep.Block, Timestamp: rep.Timestamp, Validator: info.Validator,
		Netuid: info.Netuid, Prev: info.Prev, Weights: []UIDWeight{}}}
	for u, w := range rep.Weights {
		s.Manifest.Weights = append(s.Manifest.Weights, UIDWeight{UID: uint16(u), Weight: w})
	}
	sort.Slice(s.Manifest.Weights, func(a, b int) bool { return s.Manifest.Weights[a].UID < s.Manifest.Weights[b].UID })
	refs := RefsFromSamples(info.Dataset, rep.Samples)
	for _, name := range rep.Competitions {
		c := Competition{Name: name, Samples: refs, Models: []Model{}}
		if p, ok := rep.CompetitionParams[name]; ok {
			c.Params, _ = jsonMarshal(p)
		}
		for _, ur := range rep.UIDs {
			if ur.Competition == name {
				c.Models = append(c.Models, modelOf(&ur, ids, len(refs)))
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
