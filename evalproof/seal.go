package evalproof

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrRoot means a published root does not match the data it claims to cover.
var ErrRoot = errors.New("root mismatch")

// CompetitionFile is the file name of the i-th competition of a step.
func CompetitionFile(i int) string { return fmt.Sprintf("competition-%d.json", i) }

// Seal fills the manifest's competition lines and the step root from the
// competitions.
func (s *Step) Seal() error {
	s.Manifest.Format = FormatVersion
	s.Manifest.Competitions = make([]CompetitionRef, len(s.Competitions))
	for i := range s.Competitions {
		c := &s.Competitions[i]
		c.Format, c.Step = FormatVersion, s.Manifest.Step
		ref, err := competitionRef(c, i)
		if err != nil {
			return fmt.Errorf("seal step %d: %w", s.Manifest.Step, err)
		}
		s.Manifest.Competitions[i] = ref
	}
	s.Manifest.Root = StepRoot(&s.Manifest).Hex()
	return nil
}

func competitionRef(c *Competition, i int) (CompetitionRef, error) {
	leaves, err := LeafHashes(c)
	if err != nil {
		return CompetitionRef{}, err
	}
	d, err := ModelsDigest(c)
	if err != nil {
		return CompetitionRef{}, err
	}
	return CompetitionRef{Name: c.Name, File: CompetitionFile(i), Root: MerkleRoot(leaves).Hex(), ModelsDigest: d.Hex(),
		Samples: len(c.Samples), Models: len(c.Models)}, nil
}

// Verify recomputes every root and digest of the step and compares them
// with the manifest. The error (wrapping [ErrRoot] where a hash differs)
// names each competition and field that does not match.
func (s *Step) Verify() error {
	m := &s.Manifest
	var probs []string
	if got := StepRoot(m).Hex(); got != m.Root {
		probs = append(probs, fmt.Sprintf("the manifest's step root %s is not the hash of its header (%s)", m.Root, got))
	}
	if len(s.Competitions) != len(m.Competitions) {
		probs = append(probs, fmt.Sprintf("the manifest lists %d competitions, %d were read", len(m.Competitions), len(s.Competitions)))
	}
	for i := range min(len(s.Competitions), len(m.Competitions)) {
		c, want := &s.Competitions[i], m.Competitions[i]
		if c.Step != m.Step {
			probs = append(probs, fmt.Sprintf("%s is of step %d, not %d", want.File, c.Step, m.Step))
		}
		got, err := competitionRef(c, i)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		got.File = want.File
		if got.Root != want.Root {
			probs = append(probs, fmt.Sprintf("competition %q (%s): sample root %s, the manifest says %s", c.Name, want.File, got.Root, want.Root))
		}
		if got.ModelsDigest != want.ModelsDigest {
			probs = append(probs, fmt.Sprintf("competition %q (%s): model table digest %s, the manifest says %s", c.Name, want.File, got.ModelsDigest, want.ModelsDigest))
		}
		if got.Name != want.Name || got.Samples != want.Samples || got.Models != want.Models {
			probs = append(probs, fmt.Sprintf("competition %q (%s): name/samples/models %q/%d/%d, the manifest says %q/%d/%d",
				c.Name, want.File, got.Name, got.Samples, got.Models, want.Name, want.Samples, want.Models))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("verify step %d: %s: %w", m.Step, strings.Join(probs, "; "), ErrRoot)
	}
	return nil
}

// check validates what the canonical encoding needs: the format, hex
// hashes, one loss per sample, and finite win rates and weights.
func (c *Competition) check() error {
	if c.Format != FormatVersion {
		return fmt.Errorf("format %q, want %q", c.Format, FormatVersion)
	}
	for i, s := range c.Samples {
		if _, err := ParseHash(s.TextSHA256); err != nil {
			return fmt.Errorf("sample %d: text_sha256: %w", i, err)
		}
		if s.Row < 0 {
			return fmt.Errorf("sample %d: negative row %d", i, s.Row)
		}
	}
	seen := map[uint16]bool{}
	for _, m := range c.Models {
		if seen[m.UID] {
			return fmt.Errorf("uid %d listed twice", m.UID)
		}
		seen[m.UID] = true
		if m.Losses != nil && len(m.Losses) != len(c.Samples) {
			return fmt.Errorf("uid %d has %d losses for %d samples", m.UID, len(m.Losses), len(c.Samples))
		}
		if bad(m.WinRate) || bad(m.Weight) {
			return fmt.Errorf("uid %d: win rate or weight not finite", m.UID)
		}
	}
	return nil
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
