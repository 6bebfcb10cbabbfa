package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/coldint/coldint/evalproof"
)

// Verdicts of a model.
const (
	VerdictAgree      = "agree"
	VerdictDisagree   = "disagree"
	VerdictNotAudited = "not audited"
	VerdictNoLosses   = "no losses published"
)

// Report is the outcome of an audit (the --json output).
type Report struct {
	Step      uint64  `json:"step"`
	Block     uint64  `json:"block"`
	Validator string  `json:"validator"`
	Root      string  `json:"root"`
	Tolerance float64 `json:"tolerance"`
	// RootError says how the files do not match the published roots ("":
	// they match).
	RootError string `json:"root_error,omitempty"`
	// Chain is the check against the validator's chain commitment (nil:
	// not asked).
	Chain        *ChainCheck         `json:"chain,omitempty"`
	Competitions []CompetitionReport `json:"competitions"`
	// Agree is true when the roots match, no text differs and every
	// audited model agrees.
	Agree bool `json:"agree"`
	// Disputed counts the disputed samples over all models.
	Disputed int `json:"disputed"`
	// NotAudited counts the models with published losses that could not
	// be re-evaluated (gone from the hub, hash differs, …).
	NotAudited int `json:"not_audited"`
}

// ChainCheck compares the step root with the validator's commitment.
type ChainCheck struct {
	Commitment string `json:"commitment"`
	Block      uint64 `json:"block"`
	// OK is true when the commitment is this step's root, or a later
	// step's whose links lead back to this one.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// CompetitionReport is one competition's audit.
type CompetitionReport struct {
	Name    string `json:"name"`
	Samples int    `json:"samples"`
	// Error says why the competition could not be audited.
	Error          string         `json:"error,omitempty"`
	TextMismatches []TextMismatch `json:"text_mismatches,omitempty"`
	Models         []ModelReport  `json:"models"`
}

// TextMismatch is a sample whose text could not be fetched or hashes
// otherwise than published.
type TextMismatch struct {
	Index  int                 `json:"index"`
	Sample evalproof.SampleRef `json:"sample"`
	Got    string              `json:"got_sha256,omitempty"`
	Error  string              `json:"error,omitempty"`
}

// ModelReport is one model's audit.
type ModelReport struct {
	UID     uint16 `json:"uid"`
	Hotkey  string `json:"hotkey"`
	Repo    string `json:"repo,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	// Compared is the number of samples compared; MaxAbsDiff and
	// MeanAbsDiff are over those with finite losses on both sides.
	Compared    int       `json:"compared"`
	MaxAbsDiff  float64   `json:"max_abs_diff"`
	MeanAbsDiff float64   `json:"mean_abs_diff"`
	MaxRelDiff  float64   `json:"max_rel_diff"`
	Disputes    []Dispute `json:"disputes,omitempty"`
}

// Dispute is a sample on which the published loss disagrees.
type Dispute struct {
	Index      int                 `json:"index"`
	Sample     evalproof.SampleRef `json:"sample"`
	Published  float64             `json:"published"`
	Recomputed float64             `json:"recomputed"`
	// Proof shows the published loss is part of the step root; ProofOK
	// whether it verifies against the manifest.
	Proof      *evalproof.Proof `json:"proof,omitempty"`
	ProofOK    bool             `json:"proof_ok"`
	ProofError string           `json:"proof_error,omitempty"`
}

func (r *Report) finish() {
	r.Agree = r.RootError == "" && (r.Chain == nil || r.Chain.OK)
	for _, c := range r.Competitions {
		if c.Error != "" || len(c.TextMismatches) > 0 {
			r.Agree = false
		}
		for _, m := range c.Models {
			r.Disputed += len(m.Disputes)
			if m.Verdict == VerdictNotAudited {
				r.NotAudited++
			}
			if m.Verdict == VerdictDisagree || m.Verdict == VerdictNotAudited {
				r.Agree = false
			}
		}
	}
}

// MarshalJSON writes non-finite numbers as strings.
func (d Dispute) MarshalJSON() ([]byte, error) {
	type plain Dispute
	return json.Marshal(struct {
		plain
		Published  any `json:"published"`
		Recomputed any `json:"recomputed"`
	}{plain(d), num(d.Published), num(d.Recomputed)})
}

func num(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return f
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "step %d (block %d) of validator %s, root %s\n", r.Step, r.Block, r.Validator, r.Root)
	if r.RootError != "" {
		fmt.Fprintf(w, "ROOT CHECK FAILED: %s\n", r.RootError)
	} else {
		fmt.Fprintln(w, "roots: the files match the manifest's roots")
	}
	if r.Chain != nil {
		if r.Chain.OK {
			fmt.Fprintf(w, "chain: the validator's commitment %q (block %d) covers this step\n", r.Chain.Commitment, r.Chain.Block)
		} else {
			fmt.Fprintf(w, "CHAIN CHECK FAILED: %s\n", r.Chain.Error)
		}
	}
	for _, c := range r.Competitions {
		fmt.Fprintf(w, "competition %s: %d samples\n", c.Name, c.Samples)
		if c.Error != "" {
			fmt.Fprintf(w, "  not audited: %s\n", c.Error)
		}
		for _, t := range c.TextMismatches {
			fmt.Fprintf(w, "  TEXT MISMATCH sample %d (%s): %s%s\n", t.Index, sampleName(t.Sample), t.Error, t.Got)
		}
		for _, m := range c.Models {
			fmt.Fprintf(w, "  uid %d %s@%.8s: %s", m.UID, m.Repo, m.Commit, m.Verdict)
			if m.Verdict == VerdictAgree || m.Verdict == VerdictDisagree {
				fmt.Fprintf(w, " (%d samples, max |diff| %.3g, mean |diff| %.3g, max rel %.2g)", m.Compared, m.MaxAbsDiff, m.MeanAbsDiff, m.MaxRelDiff)
			}
			if m.Reason != "" {
				fmt.Fprintf(w, ": %s", m.Reason)
			}
			fmt.Fprintln(w)
			for _, d := range m.Disputes {
				fmt.Fprintf(w, "    DISPUTED sample %d (%s): published %v, recomputed %v; proof against the root: %s\n",
					d.Index, sampleName(d.Sample), d.Published, d.Recomputed, proofWord(d))
			}
		}
	}
	verdict := "AGREE: every audited model's published losses are within the tolerance"
	switch {
	case r.Agree:
	case r.Disputed == 0 && r.NotAudited > 0 && r.RootError == "" && (r.Chain == nil || r.Chain.OK):
		verdict = fmt.Sprintf("INCOMPLETE: %d models could not be re-evaluated; the others agree", r.NotAudited)
	default:
		verdict = fmt.Sprintf("DISAGREE: %d disputed samples, %d models not re-evaluated", r.Disputed, r.NotAudited)
	}
	fmt.Fprintln(w, verdict)
}

func proofWord(d Dispute) string {
	if d.ProofOK {
		return "verifies (the validator published this loss)"
	}
	return "fails: " + d.ProofError
}

func sampleName(s evalproof.SampleRef) string {
	parts := []string{s.Dataset, s.Config, s.Split, fmt.Sprint(s.Row)}
	if s.Task != "" {
		parts = append([]string{s.Task}, parts...)
	}
	return strings.Join(parts, "/")
}
