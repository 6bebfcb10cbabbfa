package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// The validator end-to-end tests run the real `coldint validate` binary (so
// that its eval-worker subprocess is the real one too) against an embedded
// devchain served over HTTP, a directory hub and a local text corpus, with
// tiny LLaMA models whose quality differs by construction:
//   - good: all decoder layers write nothing (o_proj and down_proj zero),
//     every embedding row is the same unit vector, and lm_head row v is
//     log p(v)/H, so the logits are exactly the corpus unigram log-frequencies;
//   - medium: a surgeon linear merge of good with good-with-lm_head-zeroed,
//     i.e. the unigram distribution at temperature 2 (p^½): its cross-entropy
//     lies strictly between the unigram's and the uniform one's (the CE of p^t
//     is strictly convex in t with its minimum at t = 1);
//   - bad: `coldint model init` random weights (about uniform).

const (
	valNetuid   = chain.NetUID(7)
	evalSamples = 20
	capChars    = 400
)

// envSamples is the sample DB size and eval_samples of new environments
// (the bench changes it).
var envSamples = evalSamples

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// coldintBin builds the coldint binary once per test process.
func coldintBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coldint-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "coldint")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = testenv.Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// valEnv is a one-machine subnet: devchain over HTTP, a directory hub, a
// corpus, competitions.json, a validator wallet and miners.
type valEnv struct {
	t         *testing.T
	root      string
	node      *devchain.Chain
	url       string
	netuid    chain.NetUID
	reader    chain.Reader
	network   string                               // --network of the validator
	hubArgs   []string                             // how the validator reaches the hub
	register  func(key *keys.Pair) chain.UID       // registers a miner
	signed    func(key *keys.Pair) chain.Committer // the chain as written by key
	hub       *dirhub.Hub
	hubDir    string
	corpus    string
	comps     string
	tokDir    string
	tok       *tokenizer.Tokenizer
	texts     []string
	walletDir string
	validator *keys.Pair
	valUID    chain.UID
	modelDir  string
	models    string // folder of the miners' local model folders
	miners    map[string]*miner
}

type miner struct {
	name   string
	key    *keys.Pair
	uid    chain.UID
	dir    string // local model folder
	commit string
	block  chain.BlockNumber
}

func newValEnvBase(t *testing.T, compExtra map[string]any) *valEnv {
	t.Helper()
	e := &valEnv{t: t, root: t.TempDir(), miners: map[string]*miner{}}
	e.tokDir = lenmlDir(t, "gpt35turbo")
	tok, err := tokenizer.Load(e.tokDir)
	if err != nil {
		t.Fatal(err)
	}
	e.tok = tok
	e.texts = corpusTexts(t, max(120, 2*envSamples))
	e.corpus = filepath.Join(e.root, "corpus.jsonl")
	var buf bytes.Buffer
	recs := make([]data.Record, len(e.texts))
	for i, s := range e.texts {
		recs[i] = data.Record{Text: s}
	}
	if err := data.WriteJSONL(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.corpus, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c00 := map[string]any{
		"reward": 1.0, "dataset": "fineweb2", "model_types": []string{"LlamaForCausalLM"},
		"model_size": 40_000_000, "parameters": 8_000_000, "tokenizer": e.tokDir, "free_tokenizer": true,
		"max_sequence_len": 512, "cap_sample_len": capChars, "pool_size": 4, "pend_size": 10,
	}
	for k, v := range compExtra {
		c00[k] = v
	}
	comps := map[string]any{
		"default": map[string]any{"rows_per_page": 10, "db_min_samples": envSamples, "db_max_samples": 4 * envSamples,
			"db_extend_samples": 10, "db_extend_interval": 1e9, "eval_samples": envSamples, "discard_winrate": 0.02},
		"c00": c00,
	}
	b, _ := json.Marshal(comps)
	e.comps = filepath.Join(e.root, "competitions.json")
	if err := os.WriteFile(e.comps, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e.hubDir = filepath.Join(e.root, "hub")
	if e.hub, err = dirhub.Open(e.hubDir); err != nil {
		t.Fatal(err)
	}
	e.walletDir = filepath.Join(e.root, "wallets")
	e.modelDir = filepath.Join(e.root, "validator")
	e.models = filepath.Join(e.root, "models")
	e.hubArgs = []string{"--hub-dir", e.hubDir}
	return e
}

// newValEnv is newValEnvBase on an embedded devchain served over HTTP, with
// //Alice as the staked validator.
func newValEnv(t *testing.T, compExtra map[string]any) *valEnv {
	t.Helper()
	ctx := context.Background()
	e := newValEnvBase(t, compExtra)
	var err error
	e.node, err = devchain.Open(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.node.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); devchain.Serve(sctx, ln, e.node) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	e.url = "http://" + ln.Addr().String()
	p := devchain.DefaultSubnetParams()
	p.MaxUIDs, p.CommitRateLimit, p.WeightsRateLimit, p.MaxValidators = 32, 0, 0, 4
	if _, err := e.node.CreateSubnet(ctx, valNetuid, p); err != nil {
		t.Fatal(err)
	}
	e.validator, err = keys.FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	if e.valUID, err = e.node.Register(ctx, valNetuid, e.validator.AccountID(), e.validator.AccountID()); err != nil {
		t.Fatal(err)
	}
	if err := e.node.SetStake(ctx, valNetuid, e.validator.AccountID(), 1_000_000_000_000); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteKeyfile(ctx, filepath.Join(e.walletDir, "val", "hotkeys", "default"), e.validator, false); err != nil {
		t.Fatal(err)
	}
	e.netuid, e.reader, e.network = valNetuid, e.node, "local+"+e.url
	e.register = func(key *keys.Pair) chain.UID {
		uid, err := e.node.Register(ctx, valNetuid, key.AccountID(), key.AccountID())
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	e.signed = func(key *keys.Pair) chain.Committer { return e.node.As(key) }
	return e
}

// corpusTexts returns n Jargon File entries of at least 200 characters.
func corpusTexts(t *testing.T, n int) []string {
	t.Helper()
	entries := jargonDocs(t)
	var out []string
	for _, s := range entries[50:] {
		if len([]rune(s)) >= 200 {
			out = append(out, s)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

func (e *valEnv) tinyConfig(vocab, hidden int) *hf.ModelConfig {
	return &hf.ModelConfig{
		ModelType: "llama", VocabSize: vocab, HiddenSize: hidden, IntermediateSize: 2 * hidden,
		NumHiddenLayers: 2, NumAttentionHeads: 2, NumKeyValueHeads: 2, MaxPositionEmbeddings: 1024,
		RopeTheta: 10000, HiddenAct: "silu", InitializerRange: 0.02, RMSNormEps: 1e-5,
	}
}

// initModel writes a random tiny model with the competition tokenizer.
func (e *valEnv) initModel(name string, seed uint64, mutate func(cfg *hf.ModelConfig)) string {
	e.t.Helper()
	vocab, err := modeldir.TokenizerVocabSize(e.tokDir)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.tinyConfig(vocab, 32)
	if mutate != nil {
		mutate(cfg)
	}
	dir := filepath.Join(e.models, name)
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: seed, DType: safetensors.BF16, TokenizerDir: e.tokDir}); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// unigramModels writes the good (unigram) and medium (tempered) models.
func (e *valEnv) unigramModels() (good, medium string) {
	t := e.t
	t.Helper()
	base := e.initModel("base", 1, nil)
	m, err := surgeon.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	V := int(m.Config.VocabSize)
	H := m.Config.HiddenSize
	counts := make([]float64, V)
	for _, s := range e.texts {
		capped, _ := eval.CapSample(s, capChars)
		ids, err := e.tok.Encode(capped, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			counts[id]++
		}
	}
	var z float64
	for i := range counts {
		counts[i] += 0.01
		z += counts[i]
	}
	for name, tt := range m.Tensors {
		switch {
		case strings.HasSuffix(name, "o_proj.weight"), strings.HasSuffix(name, "down_proj.weight"):
			clear(tt.Data)
		case name == "model.embed_tokens.weight":
			for i := range tt.Data {
				tt.Data[i] = 1
			}
		case name == "model.norm.weight":
			for i := range tt.Data {
				tt.Data[i] = 1
			}
		case name == "lm_head.weight":
			for v := 0; v < V; v++ {
				lp := float32(math.Log(counts[v]/z) / float64(H))
				for j := 0; j < H; j++ {
					tt.Data[v*H+j] = lp
				}
			}
		}
	}
	good = filepath.Join(e.models, "good")
	if err := m.Save(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	flat := m.Clone()
	clear(flat.Tensors["lm_head.weight"].Data)
	mid, err := surgeon.Merge([]*surgeon.Model{m, flat}, surgeon.MergeLinear, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	medium = filepath.Join(e.models, "medium")
	if err := mid.Save(context.Background(), medium); err != nil {
		t.Fatal(err)
	}
	return good, medium
}

// publish uploads dir as repo <name>/m of a new miner and commits its
// model id (hash salted with the miner's hotkey) on chain. files (nil: the
// validator's allow-list) chooses what is uploaded; hash overrides the
// committed hash when not empty.
// publishGrades publishes a random model (bad), the unigram-fitted model
// merged with it (medium) and the unigram-fitted one (good) under the given
// hotkeys, in that order, then the good model again under copier ("" for
// none: no fourth miner).
func (e *valEnv) publishGrades(bad, medium, good, copier string) (mBad, mMed, mGood, mCopy *miner) {
	e.t.Helper()
	goodDir, mediumDir := e.unigramModels()
	badDir := e.initModel("bad", 7, nil)
	mBad = e.publish(bad, badDir, nil, "")
	mMed = e.publish(medium, mediumDir, nil, "")
	mGood = e.publish(good, goodDir, nil, "")
	if copier != "" {
		mCopy = e.publish(copier, goodDir, nil, "")
	}
	return mBad, mMed, mGood, mCopy
}

// validateTwoSteps runs two validator steps and returns their reports.
func (e *valEnv) validateTwoSteps() (r1, r2 eval.StepReport) {
	t := e.t
	t.Helper()
	reps, stderr, err := e.validate(2, nil)
	t.Log(stderr)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(reps) != 2 {
		t.Fatalf("got %d step reports, want 2", len(reps))
	}
	return reps[0], reps[1]
}

func (e *valEnv) publish(name, dir string, extra map[string][]byte, hash string) *miner {
	t := e.t
	t.Helper()
	ctx := context.Background()
	key, err := keys.FromURI("//" + name)
	if err != nil {
		t.Fatal(err)
	}
	uid := e.register(key)
	files, err := modelhash.Allowed(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var up []hf.UploadFile
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		up = append(up, hf.UploadFile{Path: f, Size: int64(len(b)), Content: bytes.NewReader(b)})
	}
	for p, b := range extra {
		up = append(up, hf.UploadFile{Path: p, Size: int64(len(b)), Content: bytes.NewReader(b)})
	}
	repo := hf.RepoID{Namespace: strings.ToLower(name), Name: "m"}
	if err := e.hub.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	commit, err := e.hub.Upload(ctx, repo, up, "model", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hash == "" {
		filter, err := modelhash.AllowedFilter(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		dh, err := modelhash.Dir(ctx, dir, modelhash.Options{Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		hash = modelhash.Salt(dh, key.AccountID().String())
	}
	id := chain.ModelID{Namespace: repo.Namespace, Name: repo.Name, Commit: commit, Hash: hash, Competition: "c00"}
	blk, err := e.signed(key).Commit(ctx, e.netuid, id.String())
	if err != nil {
		t.Fatal(err)
	}
	m := &miner{name: name, key: key, uid: uid, dir: dir, commit: commit, block: blk}
	e.miners[name] = m
	return m
}

// validate runs `coldint validate` and returns the step reports.
func (e *valEnv) validate(steps int, env []string, extra ...string) ([]eval.StepReport, string, error) {
	e.t.Helper()
	cmd := e.command(steps, env, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return parseReports(e.t, stdout.Bytes()), stderr.String(), err
}

func (e *valEnv) command(steps int, env []string, extra ...string) *exec.Cmd {
	args := []string{"validate", "--network", e.network, "--netuid", fmt.Sprint(e.netuid),
		"--competitions", e.comps, "--hall-of-fame", "", "--data", e.corpus,
		"--model-dir", e.modelDir, "--steps", fmt.Sprint(steps), "--json", "--weights-interval", "-1s",
		"--idle-sleep", "0s", "--download-margin-gb", "0.001", "--threads", "2", "--seed", "42",
		"--wallet.path", e.walletDir, "--wallet.name", "val", "--wallet.hotkey", "default", "--benchmark-file", ""}
	args = append(args, e.hubArgs...)
	args = append(args, extra...)
	cmd := exec.Command(coldintBin(e.t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COLDINT_TEST_REQUIRE_DEPS=") { // a test-harness variable, not a coldint flag
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func parseReports(t *testing.T, out []byte) []eval.StepReport {
	t.Helper()
	var reps []eval.StepReport
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r eval.StepReport
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("parse step report: %v: %.200s", err, sc.Text())
		}
		reps = append(reps, r)
	}
	return reps
}

func uidReport(r eval.StepReport, uid chain.UID) (eval.UIDReport, bool) {
	for _, u := range r.UIDs {
		if u.UID == uid {
			return u, true
		}
	}
	return eval.UIDReport{}, false
}

// TestValidateDevchain is the main flow: three miners of different quality
// and a copier, two steps, cache reuse and weights read back from the chain.
func TestValidateDevchain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run")
	}
	e := newValEnv(t, nil)
	mBad, mMed, mGood, mCopy := e.publishGrades("Bad", "Medium", "Good", "Copier")
	r1, r2 := e.validateTwoSteps()
	// Step 1: everything computed; good < medium < bad in mean summed loss.
	loss := map[string]float64{}
	for _, m := range []*miner{mGood, mMed, mBad} {
		u, ok := uidReport(r1, m.uid)
		if !ok {
			t.Fatalf("step 1: uid %d (%s) not evaluated; rejected: %v", m.uid, m.name, r1.Rejected)
		}
		if u.Status != "ok" || u.Forward != evalSamples || u.Cached != 0 {
			t.Errorf("step 1 uid %d (%s): status %q forward %d cached %d, want ok/%d/0", m.uid, m.name, u.Status, u.Forward, u.Cached, evalSamples)
		}
		loss[m.name] = float64(u.LossSumAvg)
	}
	t.Logf("mean summed loss: good %.2f medium %.2f bad %.2f", loss["Good"], loss["Medium"], loss["Bad"])
	if !(loss["Good"] < loss["Medium"] && loss["Medium"] < loss["Bad"]) {
		t.Errorf("loss order: good %.3f medium %.3f bad %.3f, want good < medium < bad", loss["Good"], loss["Medium"], loss["Bad"])
	}
	// The copy is discarded, never evaluated.
	if _, ok := uidReport(r1, mCopy.uid); ok {
		t.Errorf("step 1 evaluated the copier uid %d", mCopy.uid)
	}
	if why := r1.Rejected[mCopy.uid]; !strings.Contains(why, "copy") {
		t.Errorf("copier uid %d: rejection %q, want a copy reason", mCopy.uid, why)
	}
	// The better model wins.
	for _, r := range []eval.StepReport{r1, r2} {
		ug, _ := uidReport(r, mGood.uid)
		for _, m := range []*miner{mMed, mBad} {
			u, _ := uidReport(r, m.uid)
			if !(ug.WinRate > u.WinRate) || !(r.Weights[mGood.uid] > r.Weights[m.uid]) {
				t.Errorf("step %d: good win rate %.3f weight %.3f not above %s's %.3f / %.3f", r.Step, ug.WinRate, r.Weights[mGood.uid], m.name, u.WinRate, r.Weights[m.uid])
			}
		}
		if r.Weights[mCopy.uid] != 0 {
			t.Errorf("step %d: the copier got weight %v", r.Step, r.Weights[mCopy.uid])
		}
	}
	// Step 2 reuses the cache: zero forward passes for the unchanged models.
	for _, m := range []*miner{mGood, mMed, mBad} {
		u, ok := uidReport(r2, m.uid)
		if !ok {
			t.Fatalf("step 2: uid %d not evaluated", m.uid)
		}
		if u.Forward != 0 || u.Cached != evalSamples {
			t.Errorf("step 2 uid %d (%s): forward %d cached %d, want 0/%d", m.uid, m.name, u.Forward, u.Cached, evalSamples)
		}
	}
	if r2.Forward != 0 || r2.CacheHitRate != 1 {
		t.Errorf("step 2: %d forward samples, hit rate %v; want 0 and 1", r2.Forward, r2.CacheHitRate)
	}
	// Weights were set and read back from the chain: the u16 row equals the
	// normalised final weight vector of the last step.
	if !r2.WeightsSet {
		t.Fatalf("step 2 did not set weights: %s", r2.WeightsError)
	}
	checkChainWeights(t, e.reader, e.netuid, e.valUID, r2.Weights)
}

// checkChainWeights compares the validator's weight row on chain with the
// u16 normalisation of want.
func checkChainWeights(t *testing.T, r chain.Reader, netuid chain.NetUID, valUID chain.UID, want map[chain.UID]float64) {
	t.Helper()
	got, err := r.Weights(context.Background(), netuid, valUID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []chain.UID
	var ws []float64
	for u, w := range want {
		uids = append(uids, u)
		ws = append(ws, w)
	}
	nu, nv, err := chain.NormalizeWeights(uids, ws)
	if err != nil {
		t.Fatal(err)
	}
	wantRow := map[chain.UID]uint16{}
	for i, u := range nu {
		wantRow[u] = nv[i]
	}
	gotRow := got.Map()
	if len(gotRow) != len(wantRow) || len(gotRow) == 0 {
		t.Fatalf("chain weights %v, want %v", gotRow, wantRow)
	}
	for u, v := range wantRow {
		if gotRow[u] != v {
			t.Errorf("chain weight of uid %d = %d, want %d (row %v)", u, gotRow[u], v, gotRow)
		}
	}
}

// TestValidateHostile publishes hostile models next to a good one: each is
// rejected with a clear reason and the step goes on to score the good one.
func TestValidateHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run")
	}
	e := newValEnv(t, nil)
	good, _ := e.unigramModels()
	mGood := e.publish("Good", good, nil, "")
	ctx := context.Background()

	type hostile struct {
		name, want string
		m          *miner
	}
	var hs []*hostile
	add := func(name, want string, m *miner) { hs = append(hs, &hostile{name, want, m}) }

	// Wrong hash: a valid model whose committed hash is another model's.
	add("WrongHash", "does not match the chain hash", e.publish("WrongHash", e.initModel("wronghash", 11, nil), nil, strings.Repeat("A", 43)+"="))
	// Oversize repo: an extra (never downloaded) file pushes the repo over model_size.
	add("Oversize", "over model_size", e.publish("Oversize", e.initModel("oversize", 12, nil), map[string][]byte{"junk.bin": make([]byte, 41_000_000)}, ""))
	// Disallowed architecture: phi3 in a Llama-only competition.
	add("Phi", "not in model_types", e.publish("Phi", e.initModel("phi", 13, func(c *hf.ModelConfig) { c.ModelType = "phi3" }), nil, ""))
	// Too many parameters: hidden 64 doubles the 100k-row embeddings (> 8M).
	add("Huge", "exceed the limit", e.publish("Huge", e.initModel("huge", 14, func(c *hf.ModelConfig) { c.HiddenSize, c.IntermediateSize = 48, 96 }), nil, ""))
	// A tokenizer that fails the round trip (llama2 inserts BOS) and no way
	// back: the tokenizer is its own and it is rejected.
	llamaTok := filepath.Join(e.models, "llamatok")
	{
		vocab, err := modeldir.TokenizerVocabSize(lenmlDir(t, "llama2"))
		if err != nil {
			t.Fatal(err)
		}
		if err := modeldir.Init(ctx, llamaTok, e.tinyConfig(vocab, 32), modeldir.InitOptions{Seed: 15, DType: safetensors.BF16, TokenizerDir: lenmlDir(t, "llama2")}); err != nil {
			t.Fatal(err)
		}
	}
	add("BadTok", "", e.publish("BadTok", llamaTok, nil, ""))
	// NaN weights.
	nanDir := filepath.Join(e.models, "nan")
	{
		m, err := surgeon.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		m.Tensors["model.norm.weight"].Data[0] = float32(math.NaN())
		if err := m.Save(ctx, nanDir); err != nil {
			t.Fatal(err)
		}
	}
	add("NaN", "NaN", e.publish("NaN", nanDir, nil, ""))
	// Absurd config dims: config.json claims a million layers.
	absurd := e.initModel("absurd", 16, nil)
	{
		b, _ := os.ReadFile(filepath.Join(absurd, "config.json"))
		var m map[string]any
		json.Unmarshal(b, &m)
		m["num_hidden_layers"] = 1_000_000
		b, _ = json.Marshal(m)
		os.WriteFile(filepath.Join(absurd, "config.json"), b, 0o644)
	}
	add("Absurd", "does not load", e.publish("Absurd", absurd, nil, ""))
	// Engine crash: the worker exits while evaluating this model (test hook).
	crash := e.initModel("crash", 17, nil)
	add("Crasher", "worker crashed", e.publish("Crasher", crash, nil, ""))
	// Engine hang: the worker never answers and is killed at --eval-timeout.
	hang := e.initModel("hang", 18, nil)
	add("Hanger", "timeout", e.publish("Hanger", hang, nil, ""))

	reps, stderr, err := e.validate(1, []string{"COLDINT_TEST_EXIT_IF=models--crasher--m", "COLDINT_TEST_HANG_IF=models--hanger--m"}, "--eval-timeout", "40s")
	t.Log(stderr)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(reps) != 1 {
		t.Fatalf("got %d reports", len(reps))
	}
	r := reps[0]
	for _, h := range hs {
		why, ok := r.Rejected[h.m.uid]
		if !ok {
			t.Errorf("%s (uid %d) was not rejected", h.name, h.m.uid)
			continue
		}
		t.Logf("%s rejected: %s", h.name, why)
		if !strings.Contains(why, h.want) {
			t.Errorf("%s (uid %d): reason %q, want it to mention %q", h.name, h.m.uid, why, h.want)
		}
		if r.Weights[h.m.uid] != 0 {
			t.Errorf("%s got weight %v", h.name, r.Weights[h.m.uid])
		}
	}
	if why := r.Rejected[hs[4].m.uid]; !strings.Contains(why, "round-trip") && !strings.Contains(why, "round trip") {
		t.Errorf("BadTok: reason %q, want a round-trip failure", why)
	}
	u, ok := uidReport(r, mGood.uid)
	if !ok || u.Status != "ok" || r.Weights[mGood.uid] <= 0 {
		t.Errorf("the good model was not scored after the hostile ones: %+v weight %v", u, r.Weights[mGood.uid])
	}
}

// TestValidateKill9 kills the validator at a random moment of a step and
// restarts it: the state loads and no model whose losses were saved before
// the kill is computed again.
func TestValidateKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run")
	}
	e := newValEnv(t, nil)
	mBad, mMed, mGood, _ := e.publishGrades("Bad", "Medium", "Good", "")
	ms := []*miner{mBad, mMed, mGood}

	// Kill after a random one of the step's events (a model synced or
	// evaluated), plus a random part of a second: mid-download, mid-forward
	// or mid-save.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	k := 1 + rng.IntN(2*len(ms))
	delay := time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))
	t.Logf("kill seed %d: after event %d + %v", seed, k, delay)
	cmd := e.command(1, nil)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	events := 0
	for events < k && sc.Scan() {
		if line := sc.Text(); strings.Contains(line, `msg="model synced"`) || strings.Contains(line, `msg="model evaluated"`) {
			events++
		}
	}
	go io.Copy(io.Discard, pipe)
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t.Logf("killed after %d events", events)

	// What the cache held at the kill.
	cache, err := eval.LoadCache(filepath.Join(eval.StateDir(e.modelDir), "evalstate"))
	if err != nil {
		t.Fatalf("eval cache after kill -9: %v", err)
	}
	if _, err := eval.LoadValidatorState(filepath.Join(eval.StateDir(e.modelDir), eval.ValidatorStateFile)); err != nil {
		t.Fatalf("validator state after kill -9: %v", err)
	}
	unknown := map[chain.UID]int{}
	for _, m := range ms {
		unknown[m.uid] = evalSamples
		filter, _ := modelhash.AllowedFilter(context.Background(), m.dir)
		h, err := modelhash.Dir(context.Background(), m.dir, modelhash.Options{Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		for i, mh := range cache.Models {
			if mh == h && len(cache.Samples) == evalSamples {
				n := 0
				for _, v := range cache.Losses[i] {
					if math.IsNaN(v) {
						n++
					}
				}
				unknown[m.uid] = n
			}
		}
	}
	t.Logf("unknown losses per uid at the kill: %v", unknown)

	reps, out, err := e.validate(1, nil)
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	if strings.Contains(out, "starting with a clean validator state") || strings.Contains(out, "starting with an empty eval cache") {
		t.Errorf("restart did not load the state:\n%s", out)
	}
	r := reps[0]
	for _, m := range ms {
		u, ok := uidReport(r, m.uid)
		if !ok {
			t.Fatalf("uid %d not evaluated after restart; rejected %v", m.uid, r.Rejected)
		}
		if u.Forward != unknown[m.uid] {
			t.Errorf("uid %d: %d forward samples after restart, want the %d unknown at the kill", m.uid, u.Forward, unknown[m.uid])
		}
	}
}

// TestValidateChopsticks runs the main flow against the real subtensor
// runtime (spec 218 under chopsticks) and a `coldint hub serve` server: the
// better model wins, the copy is discarded, the second step is served from
// the cache and the weights read back from the runtime match.
func TestValidateChopsticks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end validator run on chopsticks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sub := startRealSubnet(t, ctx, []string{"Alice", "Owner", "Charlie", "Dave", "Eve", "Ferdie", "Bob"}, func(nu []byte) []adminCall {
		return []adminCall{
			{"sudo_set_weights_set_rate_limit", [][]byte{nu, u64le(0)}},
			{"sudo_set_weights_min_stake", [][]byte{u64le(0)}},
		}
	})
	e := newValEnvBase(t, nil)
	c, sudo, netuid, ks, node := sub.client, sub.sudo, sub.netuid, sub.keys, sub.node
	e.netuid, e.reader, e.network = netuid, c, node.URL
	e.register = func(key *keys.Pair) chain.UID {
		uid, err := sudo.Register(ctx, netuid, key.AccountID())
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	e.signed = func(key *keys.Pair) chain.Committer { return c.WithSigner(key) }
	e.validator = ks["Eve"]
	e.valUID = e.register(e.validator)
	if err := keys.WriteKeyfile(ctx, filepath.Join(e.walletDir, "val", "hotkeys", "default"), e.validator, false); err != nil {
		t.Fatal(err)
	}
	// The validator reads models through `coldint hub serve`'s server.
	e.hubArgs = []string{"--hub-endpoint", serveHub(t, e.hub)}

	mBad, mMed, mGood, mCopy := e.publishGrades("Charlie", "Dave", "Ferdie", "Bob")
	r1, r2 := e.validateTwoSteps()
	if why := r1.Rejected[mCopy.uid]; !strings.Contains(why, "copy") {
		t.Errorf("copier uid %d: rejection %q, want a copy reason", mCopy.uid, why)
	}
	ug, _ := uidReport(r1, mGood.uid)
	for _, m := range []*miner{mMed, mBad} {
		u, ok := uidReport(r1, m.uid)
		if !ok || ug.Status != "ok" || u.Status != "ok" {
			t.Fatalf("step 1: good %+v, %s %+v", ug, m.name, u)
		}
		if !(ug.WinRate > u.WinRate) || !(r2.Weights[mGood.uid] > r2.Weights[m.uid]) {
			t.Errorf("good (win %.3f) does not beat %s (win %.3f)", ug.WinRate, m.name, u.WinRate)
		}
		if u2, _ := uidReport(r2, m.uid); u2.Forward != 0 {
			t.Errorf("step 2 uid %d: %d forward samples, want 0", m.uid, u2.Forward)
		}
	}
	if !r2.WeightsSet {
		t.Fatalf("step 2 did not set weights: %s", r2.WeightsError)
	}
	checkChainWeights(t, c, netuid, e.valUID, r2.Weights)
}

func u16le(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }
func u64le(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

// TestValidateBench is `make bench-validate` (skipped unless VALIDATE_BENCH
// is set): N tiny models × S samples through the real engine on a devchain,
// one step from scratch and one from the cache, with the time of each phase.
func TestValidateBench(t *testing.T) {
	if os.Getenv("VALIDATE_BENCH") == "" {
		t.Skip("set VALIDATE_BENCH=1 (make bench-validate)")
	}
	n, s := envInt("VALIDATE_BENCH_MODELS", 4), envInt("VALIDATE_BENCH_SAMPLES", 40)
	envSamples = s
	defer func() { envSamples = evalSamples }()
	e := newValEnv(t, map[string]any{"pool_size": n, "pend_size": n})
	for i := 0; i < n; i++ {
		e.publish(fmt.Sprintf("Bench%d", i), e.initModel(fmt.Sprintf("bench%d", i), uint64(100+i), nil), nil, "")
	}
	start := time.Now()
	reps, stderr, err := e.validate(2, []string{"COLDINT_LOG_LEVEL=warn"})
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, stderr)
	}
	wall := time.Since(start)
	if len(reps) != 2 {
		t.Fatalf("%d reports", len(reps))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("bench-validate: %d tiny models (llama 2x32, vocab 100k) x %d samples, %d cores, load %s\n", n, s, runtime.NumCPU(), strings.Fields(string(load) + " ?")[0])
	for _, r := range reps {
		fmt.Printf("bench-validate: step %d  %6.2f s total:", r.Step, r.StepTime)
		for _, ph := range []string{"chain", "download", "hash", "samples", "tokenize", "forward", "score"} {
			fmt.Printf("  %s %.2f s", ph, r.Timing[ph])
		}
		fmt.Printf("\nbench-validate: step %d  forward samples %d, cached %d, cache hit rate %.3f", r.Step, r.Forward, r.Cached, r.CacheHitRate)
		if r.Timing["forward"] > 0 && r.Forward > 0 {
			fmt.Printf(", %.1f ms per forward sample (incl. worker start)", 1000*r.Timing["forward"]/float64(r.Forward))
		}
		fmt.Println()
	}
	if reps[1].StepTime > 0 {
		fmt.Printf("bench-validate: ratio step1/step2 (cold vs cached) = %.1fx; process wall %.1f s\n", reps[0].StepTime/reps[1].StepTime, wall.Seconds())
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
