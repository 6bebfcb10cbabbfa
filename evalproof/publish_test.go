package evalproof

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
)

// fakeCommitter records commitments (a fault-free stand-in for the chain,
// whose own tests cover set_commitment).
type fakeCommitter struct {
	data   []string
	refuse bool
}

func (f *fakeCommitter) Commit(_ context.Context, _ chain.NetUID, data string) (chain.BlockNumber, error) {
	if f.refuse {
		return 0, chain.ErrRateLimited
	}
	f.data = append(f.data, data)
	return chain.BlockNumber(10 * len(f.data)), nil
}

func testReport() (*eval.StepReport, map[string]*eval.ModelMetadata) {
	rep := &eval.StepReport{Block: 50, Timestamp: 1e9, Competitions: []string{"c"},
		Weights: map[chain.UID]float64{1: 1},
		Samples: map[string][]eval.SampleRef{"c": {{Config: "cfg", Split: "train", Row: 102, SHA256: eval.TextHash("hello")}}},
		UIDs: eval.UIDReports{{UID: 1, Competition: "c", Hotkey: "hk1", Block: 7, Status: "ok", WinRate: 1, Weight: 1, Losses: []eval.JSONFloat{2.5}},
			{UID: 2, Competition: "c", Hotkey: "hk2", Block: 8, Status: "failed: x"}},
	}
	ids := map[string]*eval.ModelMetadata{"hk1": {ID: chain.ModelID{Namespace: "ns", Name: "m", Commit: "abc", Hash: "h", Competition: "c"}, Block: 7}}
	return rep, ids
}

// TestPublishHubServe publishes two steps to a dataset repo of `coldint
// hub serve` (the hub server over HTTP) and reads them back as the audit
// does: numbering, links, commitments and the roots survive the trip.
func TestPublishHubServe(t *testing.T) {
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{"tok"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	h, err := hub.New(hub.WithEndpoint(ts.URL), hub.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	com := &fakeCommitter{}
	p, err := NewPublisher("hub:val/evals", h)
	if err != nil {
		t.Fatal(err)
	}
	p.Committer, p.Info = com, StepInfo{Validator: "5V", Dataset: "ds"}
	rep, ids := testReport()
	for i := 0; i < 2; i++ {
		if _, err := p.Publish(ctx, rep, ids); err != nil {
			t.Fatal(err)
		}
	}
	src, err := Open(ctx, "val/evals", 0, h)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(ctx, src.Get)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
	prev, err := src.Manifest(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := s.Manifest
	if src.Step != 2 || m.Prev == nil || m.Prev.Root != prev.Root || len(com.data) != 2 || com.data[1] != FormatCommitment(m.Root, 2) {
		t.Fatalf("step %d prev %+v (want %s), commitments %v", src.Step, m.Prev, prev.Root, com.data)
	}
	c := s.Competitions[0]
	if c.Samples[0].Row != 102 || c.Samples[0].Dataset != "ds" || c.Models[0].Repo != "ns/m" || c.Models[1].Losses != nil {
		t.Fatalf("competition %+v", c)
	}
	// A publisher started later continues the numbering.
	p2, _ := NewPublisher("hub:datasets/val/evals", h)
	if out, err := p2.Publish(ctx, rep, ids); err != nil || out.Step.Manifest.Step != 3 {
		t.Fatalf("third step: %v", err)
	}
	// An absent step names the file.
	src, err = Open(ctx, "val/evals", 9, h)
	if err == nil {
		_, err = Load(ctx, src.Get)
	}
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "step-9/manifest.json") {
		t.Fatalf("absent step: %v", err)
	}
	if _, err := Open(ctx, "val/none", 0, h); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Fatalf("absent repo: %v", err)
	}
}

func TestPublishDirContinues(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pub")
	rep, ids := testReport()
	for want := uint64(1); want <= 2; want++ {
		p, _ := NewPublisher(dir, nil)
		out, err := p.Publish(ctx, rep, ids)
		if err != nil || out.Step.Manifest.Step != want {
			t.Fatalf("step %d: %+v %v", want, out, err)
		}
	}
	// A refused commit (rate limit) still publishes the step.
	p, _ := NewPublisher(dir, nil)
	p.Committer = &fakeCommitter{refuse: true}
	out, err := p.Publish(ctx, rep, ids)
	if err != nil || out.Committed != 0 || !strings.Contains(out.CommitError, "rate") || out.Step.Manifest.Step != 3 {
		t.Fatalf("refused commit: %+v %v", out, err)
	}
	src, err := Open(ctx, dir, 2, nil)
	if err != nil || src.Step != 2 {
		t.Fatalf("%+v %v", src, err)
	}
	if _, err := Open(ctx, filepath.Join(dir, "step-1"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, t.TempDir(), 0, nil); !errors.Is(err, ErrMissing) {
		t.Fatalf("empty folder: %v", err)
	}
}
