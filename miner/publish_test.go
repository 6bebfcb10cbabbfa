package miner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/train/publish"
)

// world is an embedded chain with one subnet, a directory hub and a small
// f32 model folder.
type world struct {
	dc     *devchain.Chain
	hub    *dirhub.Hub
	netuid chain.NetUID
	dir    string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dc, err := devchain.Open(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	p := devchain.DefaultSubnetParams()
	p.CommitRateLimit = 0
	netuid, err := dc.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := dirhub.Open(filepath.Join(t.TempDir(), "hub"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.F32}); err != nil {
		t.Fatal(err)
	}
	return &world{dc: dc, hub: h, netuid: netuid, dir: dir}
}

func (w *world) publishOptions(t *testing.T, uri string) publish.Options {
	hk, err := keys.FromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return publish.Options{
		Dir: w.dir, Repo: hf.RepoID{Namespace: "miner", Name: "tiny"}, Competition: "c00", Netuid: w.netuid,
		Hotkey: hk.AccountID(), Hub: w.hub, Chain: w.dc.As(hk), ReadBackDelay: time.Millisecond, RateLimitDelay: time.Millisecond,
		CommitRounds: 2, ReadBacks: 2, Sleep: func(context.Context, time.Duration) error { return nil },
	}
}

// TestPublish: an unregistered hotkey is refused before anything reaches
// the hub; a registered one publishes the bf16 copy, keeping the progress
// file next to the model it was asked to publish.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	o := w.publishOptions(t, "//MinerP")
	if _, err := Publish(ctx, o, safetensors.BF16); !errors.Is(err, chain.ErrNotRegistered) {
		t.Fatalf("unregistered hotkey: %v, want ErrNotRegistered", err)
	}
	if _, err := w.hub.ModelInfo(ctx, o.Repo, ""); err == nil {
		t.Fatal("an unregistered hotkey's model reached the hub")
	}
	if _, err := w.dc.Register(ctx, w.netuid, o.Hotkey, o.Hotkey); err != nil {
		t.Fatal(err)
	}
	st, err := Publish(ctx, o, safetensors.BF16)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != publish.StepPublic {
		t.Fatalf("publish stopped at %q", st.Done)
	}
	if _, err := os.Stat(w.dir + ".publish.json"); err != nil {
		t.Fatalf("progress file not next to the model: %v", err)
	}
	snap, err := w.hub.Download(ctx, o.Repo, st.Commit, nil, t.TempDir(), hf.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.LoadModelConfig(snap)
	if err != nil || cfg.TorchDtype != "bfloat16" {
		t.Fatalf("uploaded torch_dtype %q (%v), want bfloat16", cfg.TorchDtype, err)
	}
	c, err := w.dc.Commitment(ctx, w.netuid, o.Hotkey)
	if err != nil || c.Data != st.ModelID {
		t.Fatalf("commitment %q (%v), want %q", c.Data, err, st.ModelID)
	}
}
