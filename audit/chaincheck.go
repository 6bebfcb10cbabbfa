package audit

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/evalproof"
)

// checkChain compares the step root with the validator's commitment: the
// commitment of this step must hold its root; a commitment of a later step
// must lead back to this one through the manifests' links.
func checkChain(ctx context.Context, s *evalproof.Step, o Options) *ChainCheck {
	cc := &ChainCheck{}
	fail := func(format string, args ...any) *ChainCheck {
		cc.Error = fmt.Sprintf(format, args...)
		return cc
	}
	hk, _, err := chain.DecodeSS58(s.Manifest.Validator)
	if err != nil {
		return fail("the manifest's validator %q is not a hotkey: %v", s.Manifest.Validator, err)
	}
	c, err := o.Chain.Commitment(ctx, o.Netuid, hk)
	if err != nil {
		return fail("read the commitment of validator %s on subnet %d: %v", s.Manifest.Validator, o.Netuid, err)
	}
	cc.Commitment, cc.Block = c.Data, uint64(c.Block)
	root, step, err := evalproof.ParseCommitment(c.Data)
	if err != nil {
		return fail("the validator's commitment: %v", err)
	}
	// Follow the links from the committed step back to this one.
	for step > s.Manifest.Step {
		if o.Previous == nil {
			return fail("the chain holds the root of step %d; earlier steps need the publication's other steps to be checked", step)
		}
		m, err := o.Previous(ctx, step)
		if err != nil {
			return fail("read step %d to follow the commitment back: %v", step, err)
		}
		if got := evalproof.StepRoot(m).Hex(); got != root || m.Root != root {
			return fail("step %d of the publication hashes to %s, the chain holds %s", step, got, root)
		}
		if m.Prev == nil {
			return fail("step %d has no link to an earlier step", step)
		}
		root, step = m.Prev.Root, m.Prev.Step
	}
	if step != s.Manifest.Step {
		return fail("step %d is not committed yet: the validator's commitment names the older step %d (a later commitment covers it through the links)", s.Manifest.Step, step)
	}
	if root != evalproof.StepRoot(&s.Manifest).Hex() || root != s.Manifest.Root {
		return fail("the chain binds step %d to root %s; this step's manifest hashes to %s (its root field says %s)",
			step, root, evalproof.StepRoot(&s.Manifest).Hex(), s.Manifest.Root)
	}
	cc.OK = true
	return cc
}
