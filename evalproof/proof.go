package evalproof

import (
	"encoding/hex"
	"fmt"
)

// Proof shows that one sample, with every model's loss on it, is part of a
// competition's sample root, and that root part of the step root.
type Proof struct {
	Step        uint64 `json:"step"`
	Competition string `json:"competition"`
	// Index is the sample's position; Samples the number of samples.
	Index   int `json:"index"`
	Samples int `json:"samples"`
	// Leaf is the canonical leaf encoding (hex): see [LeafBytes].
	Leaf string `json:"leaf"`
	// Path are the sibling hashes from the leaf up (hex).
	Path []string `json:"path"`
	// CompetitionRoot and StepRoot are the roots it leads to (hex).
	CompetitionRoot string `json:"competition_root"`
	StepRoot        string `json:"step_root"`
}

// Prove builds the inclusion proof of sample i of competition ci.
func (s *Step) Prove(ci, i int) (*Proof, error) {
	if ci < 0 || ci >= len(s.Competitions) || ci >= len(s.Manifest.Competitions) {
		return nil, fmt.Errorf("prove: no competition %d in step %d", ci, s.Manifest.Step)
	}
	c := &s.Competitions[ci]
	if i < 0 || i >= len(c.Samples) {
		return nil, fmt.Errorf("prove: no sample %d in competition %q", i, c.Name)
	}
	leaves, err := LeafHashes(c)
	if err != nil {
		return nil, fmt.Errorf("prove sample %d of competition %q: %w", i, c.Name, err)
	}
	leaf, _ := LeafBytes(c, i)
	path, err := MerklePath(leaves, i)
	if err != nil {
		return nil, err
	}
	p := &Proof{Step: s.Manifest.Step, Competition: c.Name, Index: i, Samples: len(c.Samples), Leaf: hex.EncodeToString(leaf),
		CompetitionRoot: s.Manifest.Competitions[ci].Root, StepRoot: s.Manifest.Root}
	for _, h := range path {
		p.Path = append(p.Path, h.Hex())
	}
	return p, nil
}

// Verify checks the proof against the manifest of its step: the leaf
// climbs to the competition root the manifest lists, and the manifest
// hashes to its step root.
func (p *Proof) Verify(m *Manifest) error {
	if got := StepRoot(m).Hex(); got != m.Root || p.StepRoot != m.Root {
		return fmt.Errorf("verify proof: the manifest's step root %s (recomputed %s) is not the proof's %s: %w", m.Root, got, p.StepRoot, ErrProof)
	}
	var ref *CompetitionRef
	for i := range m.Competitions {
		if m.Competitions[i].Name == p.Competition {
			ref = &m.Competitions[i]
		}
	}
	if ref == nil || ref.Root != p.CompetitionRoot || ref.Samples != p.Samples {
		return fmt.Errorf("verify proof: competition %q with root %s is not in the manifest: %w", p.Competition, p.CompetitionRoot, ErrProof)
	}
	leaf, err := hex.DecodeString(p.Leaf)
	if err != nil {
		return fmt.Errorf("verify proof: leaf is not hex: %w", ErrProof)
	}
	root, err := ParseHash(p.CompetitionRoot)
	if err != nil {
		return fmt.Errorf("verify proof: %v: %w", err, ErrProof)
	}
	path := make([]Hash, len(p.Path))
	for i, s := range p.Path {
		if path[i], err = ParseHash(s); err != nil {
			return fmt.Errorf("verify proof: path %d: %v: %w", i, err, ErrProof)
		}
	}
	return VerifyPath(LeafHash(leaf), p.Index, p.Samples, path, root)
}
