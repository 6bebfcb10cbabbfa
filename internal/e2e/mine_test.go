package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/commands"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/train"
)

// coldint runs the CLI in process and returns stdout; a non-zero exit fails
// the test unless wantFail.
func coldint(t *testing.T, ctx context.Context, wantFail bool, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := commands.Main(ctx, append([]string{"coldint"}, args...), commands.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	if (code != 0) != wantFail {
		t.Fatalf("coldint %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), tail(errb.String(), 3000))
	}
	return out.String(), errb.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// mineCorpus builds the Debian public-domain corpus (jargon, devil).
func mineCorpus(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/share/doc/jargon-text/jargon.txt.gz", "/usr/share/dictd/devil.dict.dz"} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "Debian packages jargon-text and dict-devil are not installed (make setup-data)")
		}
	}
	dir := filepath.Join(t.TempDir(), "corpus")
	if _, err := data.BuildCorpus(context.Background(), data.CorpusOptions{Out: dir, Sources: []string{"jargon", "devil"}, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noBOSTokenizer is the Llama 2 tokenizer without its BOS post-processor,
// so that decode(encode(text)) round-trips as the validator requires
// (docs/scoring.md#tokenisation: the tokenizer must not insert BOS).
func noBOSTokenizer(t *testing.T) string {
	t.Helper()
	src := lenmlDir(t, "llama2")
	dst := filepath.Join(t.TempDir(), "tok")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, key string }{{"tokenizer.json", "post_processor"}, {"tokenizer_config.json", "add_bos_token"}} {
		raw, err := os.ReadFile(filepath.Join(src, f.name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if f.key == "post_processor" {
			m[f.key] = nil
		} else {
			m[f.key] = false
		}
		out, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dst, f.name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// tinyLlama is a random 2-layer LLaMA with the Llama 2 tokenizer (no BOS).
func tinyLlama(t *testing.T) string {
	t.Helper()
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 32000, HiddenSize: 64, IntermediateSize: 128,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, TieWordEmbeddings: true,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02, MaxPositionEmbeddings: 2048}
	dir := filepath.Join(t.TempDir(), "init")
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: 3, DType: safetensors.F32, TokenizerDir: noBOSTokenizer(t)}); err != nil {
		t.Fatal(err)
	}
	return dir
}

type trainResult struct {
	Model     string  `json:"model"`
	Steps     int     `json:"steps"`
	Tokens    int64   `json:"tokens"`
	EvalStart float64 `json:"eval_loss_start"`
	EvalEnd   float64 `json:"eval_loss_end"`
}

func trainArgs(init, corpus, out string, steps int) []string {
	return []string{"--log-level", "warn", "mine", "train", "--init", init, "--data", corpus, "--out", out,
		"--steps", itoa(steps), "--seq-len", "64", "--batch", "2", "--accum", "1", "--lr", "5e-3", "--warmup", "10",
		"--eval-every", "50", "--checkpoint-every", "100", "--eval-docs", "30", "--eval-rows", "16", "--threads", "2",
		"--save-dtype", "bf16", "--json"}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestMineTrainLowersHeldOutLoss trains a tiny LLaMA on the local corpus
// for a few hundred steps with `coldint mine train` and checks that the
// held-out loss falls measurably.
func TestMineTrainLowersHeldOutLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few hundred steps")
	}
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, _ := coldint(t, context.Background(), false, trainArgs(init, corpus, out, 200)...)
	var res trainResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("train output %q: %v", stdout, err)
	}
	st, _, err := train.LoadState(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Evals {
		t.Logf("step %3d: held-out loss %.4f over %d tokens", e.Step, e.Loss, e.Tokens)
	}
	t.Logf("trained %d steps, %d tokens: held-out loss %.4f → %.4f", res.Steps, res.Tokens, res.EvalStart, res.EvalEnd)
	// A random init starts near ln(32000) ≈ 10.4; a few hundred steps on
	// English text must win several nats.
	if !(res.EvalStart > 9) || !(res.EvalEnd < res.EvalStart-2) {
		t.Fatalf("held-out loss %.4f → %.4f: not lowered measurably", res.EvalStart, res.EvalEnd)
	}
	// The saved model is bf16, evaluates with the engine and agrees with
	// the loop's own held-out number on a held-out-like sample.
	cfg, err := hf.LoadModelConfig(res.Model)
	if err != nil || cfg.TorchDtype != "bfloat16" {
		t.Fatalf("saved model config: %+v, %v", cfg, err)
	}
	if _, err := os.Stat(filepath.Join(res.Model, "tokenizer.json")); err != nil {
		t.Fatalf("saved model has no tokenizer: %v", err)
	}
}

// TestMineTrainResumeEqualsUninterrupted interrupts `mine train` (as SIGINT
// does, through the context) after its first checkpoint, resumes it with
// --resume, and compares the whole loss curve with an uninterrupted run.
func TestMineTrainResumeEqualsUninterrupted(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	const steps = 16
	args := func(out string) []string {
		a := trainArgs(init, corpus, out, steps)
		for i := range a {
			if a[i] == "--checkpoint-every" {
				a[i+1] = "5"
			}
		}
		return a
	}
	full := filepath.Join(t.TempDir(), "full")
	coldint(t, context.Background(), false, args(full)...)

	part := filepath.Join(t.TempDir(), "part")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(part, train.CheckpointDir, train.StateFile)); err == nil {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, stderr := coldint(t, ctx, true, args(part)...)
	cancel()
	<-done
	if !strings.Contains(stderr, "--resume") {
		t.Fatalf("interrupted run does not say how to resume: %s", tail(stderr, 500))
	}
	mid, _, err := train.LoadState(part)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Step >= steps {
		t.Fatalf("the run was not interrupted (step %d)", mid.Step)
	}
	coldint(t, context.Background(), false, append(args(part), "--resume")...)
	a, _, err := train.LoadState(full)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := train.LoadState(part)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Curve) != steps || len(b.Curve) != steps {
		t.Fatalf("curves of %d and %d points", len(a.Curve), len(b.Curve))
	}
	var worst float64
	for i := range a.Curve {
		d := math.Abs(a.Curve[i].Loss - b.Curve[i].Loss)
		worst = math.Max(worst, d)
		if d > 1e-6 {
			t.Fatalf("step %d: resumed loss %.9f, uninterrupted %.9f (interrupted at step %d)", i+1, b.Curve[i].Loss, a.Curve[i].Loss, mid.Step)
		}
	}
	ea, eb := a.Evals[len(a.Evals)-1], b.Evals[len(b.Evals)-1]
	if math.Abs(ea.Loss-eb.Loss) > 1e-6 {
		t.Fatalf("final held-out loss %.9f resumed, %.9f uninterrupted", eb.Loss, ea.Loss)
	}
	t.Logf("interrupted at step %d; %d steps identical (max diff %.2g), final held-out %.6f", mid.Step, steps, worst, eb.Loss)
}

// TestMinePublishDevchain publishes a trained model with `coldint mine
// publish` to a directory hub and a devchain file, then does what a
// validator does: reads the commitment, downloads the commit, verifies the
// salted hash and scores the model with the engine. A second model is then
// pre-checked against it.
func TestMinePublishDevchain(t *testing.T) {
	ctx := context.Background()
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	run := filepath.Join(t.TempDir(), "run")
	coldint(t, ctx, false, trainArgs(init, corpus, run, 20)...)
	modelDir := filepath.Join(run, "model")

	tmp := t.TempDir()
	chainFile := filepath.Join(tmp, "chain.log")
	hubDir := filepath.Join(tmp, "hub")
	wallets := filepath.Join(tmp, "wallets")
	net := []string{"--network", "file:" + chainFile}
	wal := []string{"--wallet.path", wallets, "--wallet.name", "miner", "--wallet.hotkey", "hk"}
	coldint(t, ctx, false, append([]string{"wallet", "new-hotkey", "--uri", "//MinerE2E"}, wal...)...)
	coldint(t, ctx, false, append([]string{"chain", "create-subnet", "--netuid", "3", "--commit-rate-limit", "0"}, net...)...)
	coldint(t, ctx, false, append(append([]string{"chain", "register", "--netuid", "3"}, net...), wal...)...)

	pub := append(append([]string{"--log-level", "warn", "mine", "publish", "--model", modelDir, "--repo", "miner/tiny", "--competition", "c00",
		"--netuid", "3", "--dir", hubDir, "--read-back-delay", "1ms", "--json"}, net...), wal...)
	stdout, _ := coldint(t, ctx, false, pub...)
	var st struct {
		Done    string `json:"done"`
		Commit  string `json:"commit"`
		ModelID string `json:"model_id"`
		Public  bool   `json:"public"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("publish output %q: %v", stdout, err)
	}
	if st.Done != "public" || !st.Public {
		t.Fatalf("publish state %+v", st)
	}

	// The validator's side.
	dc, err := devchain.Open(ctx, devchain.Options{Path: chainFile})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := dc.Commitments(ctx, 3)
	dc.Close()
	if err != nil || len(cs) != 1 {
		t.Fatalf("commitments %+v, %v", cs, err)
	}
	id, err := chain.ParseModelID(cs[0].Data)
	if err != nil || id.String() != st.ModelID || len(cs[0].Data) > chain.MaxCommitmentLen {
		t.Fatalf("commitment %q (%v), state %q", cs[0].Data, err, st.ModelID)
	}
	h, err := dirhub.Open(hubDir)
	if err != nil {
		t.Fatal(err)
	}
	snap, _, err := hub.DownloadModel(ctx, h, hf.RepoID{Namespace: id.Namespace, Name: id.Name}, id.Commit, filepath.Join(tmp, "vali"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := modelhash.Salt(dh, cs[0].Hotkey.String()); got != id.Hash {
		t.Fatalf("validator hash %s, committed %s", got, id.Hash)
	}
	e, err := model.NewEngine(2)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	samples := realSamples(t, 4, 64)
	published := losses(t, e, snap, samples)
	random := losses(t, e, init, samples)
	for i := range published {
		if !(published[i] < random[i]) || math.IsInf(published[i], 0) {
			t.Fatalf("sample %d: published model loss %.2f, random init %.2f", i, published[i], random[i])
		}
	}
	t.Logf("published %s; validator hash verified; summed losses %v (random init %v)", id.Label(), published, random)

	// Precheck a better-trained model against the published best.
	comps := filepath.Join(tmp, "competitions.json")
	if err := os.WriteFile(comps, []byte(`{"c00": {"reward": 1, "dataset": "local", "model_types": ["LlamaForCausalLM"],
		"model_size": 1000000000, "parameters": 10000000, "free_tokenizer": true, "max_sequence_len": 4096}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run2 := filepath.Join(t.TempDir(), "run2")
	coldint(t, ctx, false, trainArgs(init, corpus, run2, 60)...)
	pre := append([]string{"--log-level", "warn", "mine", "precheck", "--model", filepath.Join(run2, "model"), "--competition", "c00",
		"--competitions", comps, "--data", corpus, "--samples", "30", "--precheck-seed", "5", "--netuid", "3", "--dir", hubDir,
		"--threads", "2", "--json", "--out", filepath.Join(tmp, "pre")}, net...)
	stdout, _ = coldint(t, ctx, false, pre...)
	var pr struct {
		Samples int     `json:"samples"`
		Loss    float64 `json:"loss_avg"`
		Best    float64 `json:"best_loss_avg"`
		WinRate float64 `json:"expected_win_rate"`
	}
	if err := json.Unmarshal([]byte(stdout), &pr); err != nil {
		t.Fatalf("precheck output %q: %v", stdout, err)
	}
	t.Logf("precheck: %d samples, loss %.2f vs best %.2f, expected win rate %.3f", pr.Samples, pr.Loss, pr.Best, pr.WinRate)
	if pr.Samples != 30 || !(pr.Loss < pr.Best) || !(pr.WinRate > 0.5) {
		t.Fatalf("precheck %+v: the longer-trained model should beat the published one", pr)
	}

	// --from-best starts from the published model, downloaded pinned and
	// hash-checked: its first held-out loss is the trained one, not ln(V).
	run3 := filepath.Join(t.TempDir(), "run3")
	fb := trainArgs("", corpus, run3, 3)
	fb = append(fb[:4], fb[6:]...) // drop --init
	fb = append(fb, "--from-best", "--competition", "c00", "--netuid", "3", "--dir", hubDir)
	stdout, _ = coldint(t, ctx, false, append(fb, net...)...)
	var fr trainResult
	if err := json.Unmarshal([]byte(stdout), &fr); err != nil {
		t.Fatalf("from-best output %q: %v", stdout, err)
	}
	first, _, err := train.LoadState(run)
	if err != nil {
		t.Fatal(err)
	}
	if want := first.Evals[len(first.Evals)-1].Loss; math.Abs(fr.EvalStart-want) > 0.05 || want > 9.5 {
		t.Fatalf("--from-best started at held-out loss %.4f, the published model ended at %.4f", fr.EvalStart, want)
	}
}

// TestMinePublishChopsticks runs `coldint mine publish` against the real
// subtensor runtime (spec 218 under chopsticks) and a `coldint hub serve`
// server, verifies the commitment as a validator does, and checks that a
// second commitment inside the runtime's rate limit fails with a clear
// message while the first stays in place.
func TestMinePublishChopsticks(t *testing.T) {
	if testing.Short() {
		t.Skip("publish on chopsticks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	sub := startRealSubnet(t, ctx, []string{"Alice", "Owner", "MinerCS"}, nil)
	c, sudo, netuid, ks, node := sub.client, sub.sudo, sub.netuid, sub.keys, sub.node
	miner := ks["MinerCS"]
	if _, err := sudo.Register(ctx, netuid, miner.AccountID()); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	wallets := filepath.Join(tmp, "wallets")
	if err := keys.WriteKeyfile(ctx, filepath.Join(wallets, "miner", "hotkeys", "hk"), miner, false); err != nil {
		t.Fatal(err)
	}
	h, err := dirhub.Open(filepath.Join(tmp, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := serveHub(t, h)

	modelDir := tinyLlama(t)
	args := []string{"--log-level", "warn", "mine", "publish", "--model", modelDir, "--repo", "miner/cs", "--competition", "c00",
		"--netuid", strconv.Itoa(int(netuid)), "--network", node.URL, "--endpoint", endpoint, "--read-back-delay", "200ms",
		"--wallet.path", wallets, "--wallet.name", "miner", "--wallet.hotkey", "hk", "--json"}
	stdout, _ := coldint(t, ctx, false, args...)
	var st struct {
		Done    string `json:"done"`
		ModelID string `json:"model_id"`
		Block   uint64 `json:"block"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.Done != "public" {
		t.Fatalf("publish output %q: %v", stdout, err)
	}
	cm, err := c.Commitment(ctx, netuid, miner.AccountID())
	if err != nil {
		t.Fatal(err)
	}
	id, err := chain.ParseModelID(cm.Data)
	if err != nil || id.String() != st.ModelID || uint64(cm.Block) != st.Block {
		t.Fatalf("runtime commitment %+v (%v), publish state %+v", cm, err, st)
	}
	client, err := hub.New(hub.WithEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	snap, _, err := hub.DownloadModel(ctx, client, hf.RepoID{Namespace: id.Namespace, Name: id.Name}, id.Commit, filepath.Join(tmp, "vali"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := modelhash.Salt(dh, miner.Address()); got != id.Hash {
		t.Fatalf("validator hash %s, committed %s", got, id.Hash)
	}
	// A second commitment inside the rate limit (100 blocks on spec 218).
	other := chain.ModelID{Namespace: "miner", Name: "cs", Commit: strings.Repeat("a", 40), Hash: id.Hash, Competition: "c00"}
	_, stderr := coldint(t, ctx, true, "mine", "commit", "--model-id", other.String(), "--netuid", strconv.Itoa(int(netuid)),
		"--network", node.URL, "--commit-rounds", "2", "--rate-limit-delay", "10ms", "--read-back-delay", "10ms",
		"--wallet.path", wallets, "--wallet.name", "miner", "--wallet.hotkey", "hk")
	if !strings.Contains(stderr, "rate limited") {
		t.Fatalf("rate-limited commit: %s", tail(stderr, 1500))
	}
	if cm2, err := c.Commitment(ctx, netuid, miner.AccountID()); err != nil || cm2 != cm {
		t.Fatalf("commitment after the refused commit: %+v, %v (was %+v)", cm2, err, cm)
	}
	t.Logf("published %s on the subtensor runtime (netuid %d, block %d); rate-limited re-commit refused", id.Label(), netuid, cm.Block)
}

// TestMineFullFlow runs `coldint mine` without a subcommand: train, then
// precheck (no model on chain yet: a valid model wins every sample), then
// publish, on a devchain file and a directory hub.
func TestMineFullFlow(t *testing.T) {
	ctx := context.Background()
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	tmp := t.TempDir()
	chainFile := filepath.Join(tmp, "chain.log")
	hubDir := filepath.Join(tmp, "hub")
	net := []string{"--network", "file:" + chainFile}
	wal := []string{"--wallet.path", filepath.Join(tmp, "wallets"), "--wallet.name", "m", "--wallet.hotkey", "h"}
	coldint(t, ctx, false, append([]string{"wallet", "new-hotkey", "--uri", "//MinerFull"}, wal...)...)
	coldint(t, ctx, false, append([]string{"chain", "create-subnet", "--netuid", "4", "--commit-rate-limit", "0"}, net...)...)
	coldint(t, ctx, false, append(append([]string{"chain", "register", "--netuid", "4"}, net...), wal...)...)
	comps := filepath.Join(tmp, "competitions.json")
	if err := os.WriteFile(comps, []byte(`{"c00": {"reward": 1, "dataset": "local", "model_types": ["LlamaForCausalLM"],
		"model_size": 1000000000, "parameters": 10000000, "free_tokenizer": true, "max_sequence_len": 4096}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := trainArgs(init, corpus, filepath.Join(tmp, "run"), 5)
	args = append(args[:3], args[4:]...) // `mine` without `train`
	args = append(args, "--competition", "c00", "--competitions", comps, "--repo", "miner/full", "--netuid", "4",
		"--dir", hubDir, "--read-back-delay", "1ms", "--samples", "5")
	coldint(t, ctx, false, append(append(args, net...), wal...)...)
	dc, err := devchain.Open(ctx, devchain.Options{Path: chainFile})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	cs, err := dc.Commitments(ctx, 4)
	if err != nil || len(cs) != 1 || !strings.HasPrefix(cs[0].Data, "miner:full:") {
		t.Fatalf("commitments after `coldint mine`: %+v, %v", cs, err)
	}
}
