package demorun

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
)

// PublishedDir is the demo folder's publication of the validator's steps
// (see package evalproof), which `coldint audit` re-checks.
const PublishedDir = "published"

// publish writes the step's checkable publication and commits its root.
func (r *runner) publish(ctx context.Context, pub *evalproof.Publisher, v *eval.Validator, rep *eval.StepReport) error {
	ids := map[string]*eval.ModelMetadata{}
	v.Inspect(func(st *eval.ValidatorState) {
		for hk, md := range st.HKMetadata {
			ids[hk] = md
		}
	})
	p, err := pub.Publish(ctx, rep, ids)
	if err != nil {
		return fmt.Errorf("run demo: publish step: %w", err)
	}
	r.say("published the step's samples and losses in %s (root %.16s…, on chain at block %d)", rel(r.o.Dir, p.Where), p.Step.Manifest.Root, p.Committed)
	return nil
}
