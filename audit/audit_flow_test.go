package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditDemoSteps(t *testing.T) {
	e := runDemo(t)
	published := filepath.Join(e.dir, "published")
	o := e.withChain(t, published)
	ctx := context.Background()

	// Honest steps agree, the last one directly against the chain, the
	// first through the link of the second.
	for _, step := range []string{"step-2", "step-1"} {
		r, err := Run(ctx, load(t, filepath.Join(published, step)), o)
		if err != nil {
			t.Fatal(err)
		}
		audited := 0
		for _, c := range r.Competitions {
			for _, m := range c.Models {
				if m.Verdict == VerdictAgree && m.Compared > 0 {
					audited++
				}
			}
		}
		if !r.Agree || r.Chain == nil || !r.Chain.OK || audited < 2 {
			t.Fatalf("%s: honest step not agreed (%d models audited):\n%s", step, audited, text(r))
		}
	}

	t.Run("loss altered, roots not recomputed", func(t *testing.T) { alteredNotResealed(t, published, o) })
	t.Run("loss altered, roots recomputed", func(t *testing.T) { alteredResealed(t, published, o) })
	t.Run("model no longer on the hub", func(t *testing.T) { modelGone(t, e, published, o) })
}

func alteredNotResealed(t *testing.T, published string, o Options) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "step-2")
	copyDir(t, filepath.Join(published, "step-2"), dir)
	uid := tamper(t, dir, 3, false)
	r, err := Run(ctx, load(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	d := disputed(r, uid, 3)
	if r.Agree || d == nil || !strings.Contains(r.RootError, "sample root") || d.ProofOK {
		t.Fatalf("tampering not caught (uid %d sample 3):\n%s", uid, text(r))
	}
	if out := text(r); !strings.Contains(out, "DISPUTED sample 3") || !strings.Contains(out, "ROOT CHECK FAILED") {
		t.Fatalf("report does not name the sample:\n%s", out)
	}
}

func alteredResealed(t *testing.T, published string, o Options) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "step-2")
	copyDir(t, filepath.Join(published, "step-2"), dir)
	uid := tamper(t, dir, 5, true)
	r, err := Run(ctx, load(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	d := disputed(r, uid, 5)
	if r.Agree || d == nil || r.RootError != "" || r.Chain.OK || !d.ProofOK || len(r.Competitions[0].Models) == 0 {
		t.Fatalf("resealed tampering not caught (uid %d sample 5):\n%s", uid, text(r))
	}
	if !strings.Contains(r.Chain.Error, "the chain binds step 2 to root") {
		t.Fatalf("chain check: %s", r.Chain.Error)
	}
}

func modelGone(t *testing.T, e *demoEnv, published string, o Options) {
	ctx := context.Background()
	s := load(t, filepath.Join(published, "step-2"))
	var repo string
	for _, m := range s.Competitions[0].Models {
		if m.Losses != nil {
			repo = m.Repo
			break
		}
	}
	if err := os.RemoveAll(filepath.Join(e.dir, "hub", "repos", filepath.FromSlash(repo))); err != nil {
		t.Fatal(err)
	}
	o.CacheDir = t.TempDir()
	r, err := Run(ctx, s, o)
	if err != nil {
		t.Fatal(err)
	}
	out := text(r)
	if r.Agree || !strings.Contains(out, repo) || !strings.Contains(out, "model no longer on the hub") {
		t.Fatalf("gone model not reported:\n%s", out)
	}
}
