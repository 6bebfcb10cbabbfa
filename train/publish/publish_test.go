package publish

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
)

type env struct {
	dc     *devchain.Chain
	hub    *dirhub.Hub
	hk     *keys.Pair
	netuid chain.NetUID
	dir    string
	opts   Options
}

func newEnv(t *testing.T, rateLimit uint64) *env {
	t.Helper()
	ctx := context.Background()
	dc, err := devchain.Open(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	p := devchain.DefaultSubnetParams()
	p.CommitRateLimit = rateLimit
	netuid, err := dc.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := keys.FromURI("//Miner1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Register(ctx, netuid, hk.AccountID(), hk.AccountID()); err != nil {
		t.Fatal(err)
	}
	h, err := dirhub.Open(filepath.Join(t.TempDir(), "hub"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model":{"type":"BPE"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not uploaded"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{dc: dc, hub: h, hk: hk, netuid: netuid, dir: dir}
	e.opts = Options{
		Dir: dir, Repo: hf.RepoID{Namespace: "miner", Name: "tiny"}, Competition: "c00", Netuid: netuid,
		Hotkey: hk.AccountID(), Hub: h, Chain: dc.As(hk), ReadBackDelay: time.Millisecond, RateLimitDelay: time.Millisecond,
		CommitRounds: 3, ReadBacks: 2, Sleep: func(context.Context, time.Duration) error { return nil },
	}
	return e
}

// validatorCheck downloads the committed model as a validator does and
// checks its salted hash against the chain.
func (e *env) validatorCheck(t *testing.T) chain.ModelID {
	t.Helper()
	ctx := context.Background()
	c, err := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID())
	if err != nil {
		t.Fatal(err)
	}
	id, err := chain.ParseModelID(c.Data)
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.hub.ModelInfo(ctx, hf.RepoID{Namespace: id.Namespace, Name: id.Name}, id.Commit)
	if err != nil {
		t.Fatalf("committed %s@%s does not exist: %v", id.RepoID(), id.Commit, err)
	}
	if info.Private {
		t.Fatal("repo still private after publish")
	}
	snap, files, err := hub.DownloadModel(ctx, e.hub, hf.RepoID{Namespace: id.Namespace, Name: id.Name}, id.Commit, t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "README.md" {
			t.Fatal("README.md was uploaded and fetched")
		}
	}
	h, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := modelhash.Salt(h, e.hk.Address()); got != id.Hash {
		t.Fatalf("validator hash %s, chain hash %s", got, id.Hash)
	}
	return id
}

func TestPublishEndToEnd(t *testing.T) {
	e := newEnv(t, 0)
	st, err := Run(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != StepPublic || !st.Public || st.Block == 0 {
		t.Fatalf("state %+v", st)
	}
	id := e.validatorCheck(t)
	if id.String() != st.ModelID || len(id.String()) > chain.MaxCommitmentLen {
		t.Fatalf("chain id %q, state %q", id, st.ModelID)
	}
	// Running again is a no-op: every step is done.
	before, _ := e.dc.Commitment(context.Background(), e.netuid, e.hk.AccountID())
	if _, err := Run(context.Background(), e.opts); err != nil {
		t.Fatal(err)
	}
	after, _ := e.dc.Commitment(context.Background(), e.netuid, e.hk.AccountID())
	if before.Block != after.Block {
		t.Fatalf("re-run moved the commitment from block %d to %d", before.Block, after.Block)
	}
}

// failingHub fails uploads after some bytes were read (a dropped connection
// in the middle of an upload) or fails a chosen operation.
type failingHub struct {
	hf.Hub
	failUpload   atomic.Bool
	failDownload atomic.Bool
}

type cutReader struct {
	r     io.ReaderAt
	limit int64
}

func (c cutReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.limit {
		return 0, errors.New("connection reset by peer")
	}
	return c.r.ReadAt(p, off)
}

func (h *failingHub) Upload(ctx context.Context, repo hf.RepoID, files []hf.UploadFile, msg string, o hf.UploadOptions) (string, error) {
	if h.failUpload.Load() {
		cut := make([]hf.UploadFile, len(files))
		for i, f := range files {
			cut[i] = f
			cut[i].Content = cutReader{f.Content, f.Size / 2}
		}
		files = cut
	}
	return h.Hub.Upload(ctx, repo, files, msg, o)
}

func (h *failingHub) Download(ctx context.Context, repo hf.RepoID, commit string, files []string, cache string, o hf.DownloadOptions) (string, error) {
	if h.failDownload.Load() {
		return "", errors.New("hub unavailable (503)")
	}
	return h.Hub.Download(ctx, repo, commit, files, cache, o)
}

func noCommitment(t *testing.T, e *env) {
	t.Helper()
	if c, err := e.dc.Commitment(context.Background(), e.netuid, e.hk.AccountID()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("a commitment exists after a failed publish: %+v %v", c, err)
	}
}

func TestPublishHubFailureMidUpload(t *testing.T) {
	e := newEnv(t, 0)
	fh := &failingHub{Hub: e.hub}
	fh.failUpload.Store(true)
	o := e.opts
	o.Hub = fh
	st, err := Run(context.Background(), o)
	var se *StepError
	if !errors.As(err, &se) || se.Step != StepUpload || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("error %v", err)
	}
	if st.Done != StepCreate || st.Failed != StepUpload || st.Commit != "" {
		t.Fatalf("state %+v", st)
	}
	noCommitment(t, e)
	// The verification download failing leaves no commitment either.
	fh.failUpload.Store(false)
	fh.failDownload.Store(true)
	st, err = Run(context.Background(), o)
	if !errors.As(err, &se) || se.Step != StepVerify || st.Done != StepUpload || st.Commit == "" {
		t.Fatalf("verify failure: %v, state %+v", err, st)
	}
	noCommitment(t, e)
	fh.failDownload.Store(false)
	if st, err = Run(context.Background(), o); err != nil || st.Done != StepPublic {
		t.Fatalf("resume: %v, state %+v", err, st)
	}
	e.validatorCheck(t)
}

func TestPublishRateLimitedCommit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 50)
	// An earlier commitment of this hotkey starts the rate limit window.
	if _, err := e.dc.As(e.hk).Commit(ctx, e.netuid, "old:model:x:y:c00"); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	waits := 0
	o.Sleep = func(context.Context, time.Duration) error { waits++; return nil } // blocks do not move
	st, err := Run(ctx, o)
	if !errors.Is(err, chain.ErrRateLimited) || st.Done != StepVerify || st.Failed != StepCommit {
		t.Fatalf("rate limited: %v, state %+v", err, st)
	}
	if waits == 0 {
		t.Fatal("no wait after a rate-limited commit")
	}
	if c, _ := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID()); c.Data != "old:model:x:y:c00" {
		t.Fatalf("commitment changed to %q", c.Data)
	}
	// Rate-limit aware: waiting lets the chain move past the window.
	o.Sleep = func(ctx context.Context, _ time.Duration) error { _, err := e.dc.Advance(ctx, 30); return err }
	if st, err = Run(ctx, o); err != nil || st.Done != StepPublic {
		t.Fatalf("resume: %v, state %+v", err, st)
	}
	e.validatorCheck(t)
}

// staleChain reads back another commitment than the one written.
type staleChain struct {
	Chain
	data string
}

func (s staleChain) Commitment(ctx context.Context, n chain.NetUID, h chain.Hotkey) (chain.Commitment, error) {
	c, err := s.Chain.Commitment(ctx, n, h)
	if err != nil && !errors.Is(err, chain.ErrNotFound) {
		return c, err
	}
	c.Data = s.data
	return c, nil
}

func TestPublishReadBackMismatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 0)
	o := e.opts
	o.Chain = staleChain{Chain: e.dc.As(e.hk), data: "someone:else:abc:def:c00"}
	st, err := Run(ctx, o)
	if !errors.Is(err, ErrReadBack) || st.Done != StepVerify || st.Failed != StepCommit {
		t.Fatalf("mismatch: %v, state %+v", err, st)
	}
	if !strings.Contains(err.Error(), `publish step "commit" failed`) {
		t.Fatalf("message does not name the step: %v", err)
	}
	// The chain did get the (valid) commitment; the resume sees it and does
	// not commit again.
	c, _ := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID())
	if st, err = Run(ctx, e.opts); err != nil || st.Done != StepPublic {
		t.Fatalf("resume: %v, state %+v", err, st)
	}
	c2, _ := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID())
	if c.Block != c2.Block {
		t.Fatalf("resume re-committed (block %d → %d)", c.Block, c2.Block)
	}
	e.validatorCheck(t)
}

func TestPublishNeverCommitsMissingCommit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 0)
	o := e.opts
	o.Chain = staleChain{Chain: e.dc.As(e.hk), data: "x"}
	o.CommitRounds = 1
	// Stop after verification, then point the publish at an empty hub.
	st, _ := Run(ctx, o)
	if st.Done != StepVerify {
		t.Fatalf("state %+v", st)
	}
	// Forget what the chain got in that round.
	if _, err := e.dc.Advance(ctx, 1); err != nil {
		t.Fatal(err)
	}
	before, _ := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID())
	empty, err := dirhub.Open(filepath.Join(t.TempDir(), "empty"))
	if err != nil {
		t.Fatal(err)
	}
	o = e.opts
	o.Hub = empty
	st, err = Run(ctx, o)
	if !errors.Is(err, ErrCommitMissing) {
		t.Fatalf("missing commit: %v, state %+v", err, st)
	}
	after, _ := e.dc.Commitment(ctx, e.netuid, e.hk.AccountID())
	if before != after {
		t.Fatalf("the chain was written: %+v → %+v", before, after)
	}
}

func TestPublishRejectsLongIDAndOtherState(t *testing.T) {
	e := newEnv(t, 0)
	o := e.opts
	o.Repo = hf.RepoID{Namespace: "a-very-long-namespace-name", Name: "and-a-long-model-name"}
	if _, err := Run(context.Background(), o); !errors.Is(err, chain.ErrMalformedCommitment) {
		t.Fatalf("long repo id: %v", err)
	}
	if _, err := Run(context.Background(), e.opts); err != nil {
		t.Fatal(err)
	}
	o = e.opts
	o.Competition = "c01"
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("state of another competition reused: %v", err)
	}
}

// FuzzLoadState feeds arbitrary bytes to the state parser: it returns a
// state or an error, never panics, and a returned state names a known step.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"format":1,"repo":"a/b","done":"upload","commit":"abc"}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`{"format":1,"done":"nope"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := LoadState(p)
		if err == nil && (st == nil || stepIndex(st.Done) < 0) {
			t.Fatalf("accepted state %+v", st)
		}
	})
}
