package demorun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/train/publish"
	"github.com/coldint/coldint/web"
)

// Competition is the demo's competition name.
const Competition = "c00"

// The validator's sample counts: each step scores EvalSamples documents, of
// which FreshSamples (after the first step) were never scored before.
const (
	EvalSamples  = 48
	FreshSamples = 32
)

// TrainJob is one miner's training run.
type TrainJob struct {
	Init      string   // starting model folder
	Out       string   // run folder; the trained model goes to Out/model
	Tokenizer string   // tokenizer folder, copied into the model
	Texts     []string // training documents
	Steps     int
	SeqLen    int
	Batch     int
	LR        float64
	Seed      uint64
}

// TrainResult is what a training run reports.
type TrainResult struct {
	Model     string  // the trained model folder
	LossStart float64 // held-out loss per token before training
	LossEnd   float64 // and after
	Tokens    int64
}

// Trainer trains a model (the command layer implements it with the engine).
type Trainer interface {
	Train(ctx context.Context, job TrainJob) (TrainResult, error)
}

// Options configure [Run].
type Options struct {
	Dir        string // the demo folder: new, empty, or made by an earlier demo (see [MarkerFile])
	Miners     int    // 2..8 (default 3)
	Steps      int    // validator steps (default 3)
	TrainSteps int    // optimizer steps of the first miner (default 60)
	Trainer    Trainer
	Scorer     eval.Scorer
	Threads    int
	// Exe is the coldint binary named in the printed commands.
	Exe string
	Out io.Writer // the human report
	// Logger, when set, also receives the components' log records (the demo
	// itself writes them to [LogFile] and tells warnings in the report).
	Logger *slog.Logger
}

// Result summarises a demo run.
type Result struct {
	Dir         string            `json:"dir"`
	Netuid      chain.NetUID      `json:"netuid"`
	Validator   Participant       `json:"validator"`
	Miners      []MinerResult     `json:"miners"`
	Steps       int               `json:"steps"`
	Leaderboard []web.Row         `json:"leaderboard"`
	Commands    map[string]string `json:"commands"`
}

// Participant names a neuron of the demo's subnet.
type Participant struct {
	Name   string    `json:"name"`
	UID    chain.UID `json:"uid"`
	Hotkey string    `json:"hotkey"`
}

// MinerResult is what one miner did.
type MinerResult struct {
	Name string `json:"name"`
	// Label is the name shown in reports and on the web pages, with the
	// miner's role: "miner2 (surgery)".
	Label   string    `json:"label"`
	UID     chain.UID `json:"uid"`
	Hotkey  string    `json:"hotkey"`
	How     string    `json:"how"`
	Model   string    `json:"model"`
	Repo    string    `json:"repo"`
	Commit  string    `json:"commit"`
	Block   uint64    `json:"block"`
	LossEnd float64   `json:"train_loss_end,omitempty"`
	// CommittedAt is when the commitment was on chain (unix seconds).
	CommittedAt float64 `json:"committed_at,omitempty"`
}

// demo parts replaced by a new run in a folder holding the demo marker.
var demoParts = []string{"chain", "hub", "corpus", "tokenizer", "wallets", "miners", "validator", "steps", "published", "competitions.json", "demo.json", "README.txt", LogFile, ValidatorConfig}

type runner struct {
	o     Options
	out   io.Writer
	log   *slog.Logger
	t0    time.Time
	names *nameBook
}

func (r *runner) say(format string, args ...any) {
	line := fmt.Sprintf("[%5.1fs] "+format+"\n", append([]any{time.Since(r.t0).Seconds()}, args...)...)
	fmt.Fprint(r.out, r.names.replace(line))
}

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Miners == 0 {
		o.Miners = 3
	}
	if o.Steps == 0 {
		o.Steps = 3
	}
	if o.TrainSteps == 0 {
		o.TrainSteps = 60
	}
	switch {
	case o.Miners < 2 || o.Miners > 8:
		return nil, fmt.Errorf("run demo: miners %d must be between 2 and 8", o.Miners)
	case o.Steps < 1 || o.Steps > 50:
		return nil, fmt.Errorf("run demo: steps %d must be between 1 and 50", o.Steps)
	case o.TrainSteps < 1:
		return nil, fmt.Errorf("run demo: train steps %d must be positive", o.TrainSteps)
	case o.Trainer == nil || o.Scorer == nil:
		return nil, errors.New("run demo: no trainer or scorer")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Exe == "" {
		o.Exe = "coldint"
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("run demo: %w", err)
	}
	o.Dir = dir
	r := &runner{o: o, out: o.Out, t0: time.Now(), names: newNameBook()}
	return r.run(ctx)
}

// startLog opens the demo's log file and makes the story logger the
// process's default one while the demo runs (some components log through
// slog's default logger); the returned function restores it.
func (r *runner) startLog() (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.o.Dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run demo: %w", err)
	}
	var extra slog.Handler
	if r.o.Logger != nil {
		extra = r.o.Logger.Handler()
	}
	r.log = slog.New(newStoryHandler(f, r.out, r.names, extra))
	prev := slog.Default()
	slog.SetDefault(r.log)
	return func() {
		slog.SetDefault(prev)
		f.Close()
	}, nil
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	d := r.o.Dir
	if err := claimDir(d); err != nil {
		return nil, fmt.Errorf("run demo: %w", err)
	}
	stopLog, err := r.startLog()
	if err != nil {
		return nil, err
	}
	defer stopLog()
	res := &Result{Dir: d, Commands: map[string]string{}}
	r.say("demo folder %s", d)

	// Tokenizer and corpus.
	tokDir := filepath.Join(d, "tokenizer")
	if err := WriteByteTokenizer(tokDir); err != nil {
		return nil, err
	}
	corpusDir := filepath.Join(d, "corpus")
	man, err := data.BuildCorpus(ctx, data.CorpusOptions{Out: corpusDir, Sources: []string{"jargon", "devil"}, ShardDocs: 1000, Seed: 29})
	if errors.Is(err, data.ErrMissingPackage) {
		return nil, fmt.Errorf("run demo: %w (install the corpus packages with `make setup-data`: jargon-text dict-devil)", err)
	}
	if err != nil {
		return nil, err
	}
	texts, sources, err := readCorpus(corpusDir)
	if err != nil {
		return nil, err
	}
	r.say("built the public-domain corpus: %d documents (Jargon File, Devil's Dictionary) in corpus/", man.Docs)

	// Competitions.
	compsPath := filepath.Join(d, "competitions.json")
	// The validator's sample DB starts with db_min_samples documents and
	// grows by db_extend_samples whenever db_extend_interval seconds have
	// passed since it last grew; each step scores eval_samples of them,
	// those with the most unscored models first. An interval of 0 grows the
	// DB at every step, so that each step scores 32 fresh documents (and 16
	// it scored before, whose losses come from the eval cache): losses and
	// win rates move from step to step as they would over hours on a live
	// subnet.
	comps := map[string]any{
		"default": map[string]any{"rows_per_page": 10, "db_min_samples": EvalSamples, "db_max_samples": 400,
			"db_extend_samples": FreshSamples, "db_extend_interval": 0, "eval_samples": EvalSamples, "discard_winrate": 0.02},
		Competition: map[string]any{"reward": 1.0, "dataset": "local-public-domain", "model_types": []string{"LlamaForCausalLM"},
			"model_size": 64 << 20, "parameters": 2_000_000, "tokenizer": tokDir, "free_tokenizer": false,
			"max_sequence_len": 512, "cap_sample_len": 400, "pool_size": 4, "pend_size": 10},
	}
	if err := writeJSON(compsPath, comps); err != nil {
		return nil, err
	}

	// Chain.
	chainPath := filepath.Join(d, "chain", "devchain.log")
	if err := os.MkdirAll(filepath.Dir(chainPath), 0o755); err != nil {
		return nil, err
	}
	node, err := devchain.Open(ctx, devchain.Options{Path: chainPath, Logger: r.log})
	if err != nil {
		return nil, err
	}
	defer node.Close()
	p := devchain.DefaultSubnetParams()
	p.MaxUIDs, p.CommitRateLimit, p.WeightsRateLimit, p.MaxValidators = 64, 0, 0, 4
	// A short tempo, so that an epoch (Yuma consensus: incentive, dividends)
	// runs between the validator's steps, which advance 5 blocks each.
	p.Tempo = 4
	netuid, err := node.CreateSubnet(ctx, 0, p)
	if err != nil {
		return nil, err
	}
	res.Netuid = netuid
	r.say("started the embedded chain (chain/devchain.log) and created subnet %d with competitions.json (competition %s)", netuid, Competition)

	// Hub server.
	hubDir := filepath.Join(d, "hub")
	dh, err := dirhub.Open(hubDir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hubURL := "http://" + ln.Addr().String()
	const hubToken = "demo-admin-token"
	hs, err := hubserver.New(dh, hubserver.Options{Tokens: []string{hubToken}, PublicURL: hubURL, Logger: r.log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	httpSrv := &http.Server{Handler: hs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	defer httpSrv.Close()
	minerHub, err := hub.New(hub.WithEndpoint(hubURL), hub.WithToken(hubToken))
	if err != nil {
		return nil, err
	}
	valHub, err := hub.New(hub.WithEndpoint(hubURL), hub.WithToken(""))
	if err != nil {
		return nil, err
	}
	r.say("started the local hub server at %s (store in hub/)", hubURL)

	// Wallets and registrations.
	walletDir := filepath.Join(d, "wallets")
	val, err := keys.FromURI("//Alice")
	if err != nil {
		return nil, err
	}
	valUID, err := node.Register(ctx, netuid, val.AccountID(), val.AccountID())
	if err != nil {
		return nil, err
	}
	res.Validator = Participant{Name: "validator", UID: valUID, Hotkey: val.AccountID().String()}
	r.names.add(res.Validator.Hotkey, uint16(valUID), res.Validator.Name)
	if err := node.SetStake(ctx, netuid, val.AccountID(), 1_000_000_000_000); err != nil {
		return nil, err
	}
	if err := keys.WriteKeyfile(ctx, filepath.Join(walletDir, "validator", "hotkeys", "default"), val, true); err != nil {
		return nil, err
	}
	var miners []miner
	for i := 1; i <= r.o.Miners; i++ {
		name := fmt.Sprintf("miner%d", i)
		k, err := keys.FromURI("//" + name)
		if err != nil {
			return nil, err
		}
		uid, err := node.Register(ctx, netuid, k.AccountID(), k.AccountID())
		if err != nil {
			return nil, err
		}
		if err := keys.WriteKeyfile(ctx, filepath.Join(walletDir, name, "hotkeys", "default"), k, true); err != nil {
			return nil, err
		}
		label := name
		switch i {
		case 2:
			label += " (surgery)"
		case 3:
			label += " (copy)"
		}
		r.names.add(k.AccountID().String(), uint16(uid), label)
		miners = append(miners, miner{name, label, k, uid})
	}
	r.say("registered the validator (//Alice, staked) and %d miners (wallets in wallets/)", len(miners))

	// Training data: the miners see every other document; the validator
	// samples from the whole corpus.
	// The second miner specialises: after surgery it trains on the Devil's
	// Dictionary alone, so it wins those samples and may lose others, and
	// the win rates depend on which documents a step draws.
	var trainTexts, devilTexts []string
	for i, t := range texts {
		if i%2 == 0 {
			trainTexts = append(trainTexts, t)
			if sources[i] == "devil" {
				devilTexts = append(devilTexts, t)
			}
		}
	}

	// Miners.
	minersDir := filepath.Join(d, "miners")
	cfg := &hf.ModelConfig{ModelType: "llama", Architectures: []string{"LlamaForCausalLM"}, VocabSize: 257, HiddenSize: 64,
		IntermediateSize: 176, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 4, MaxPositionEmbeddings: 1024,
		RopeTheta: 10000, HiddenAct: "silu", InitializerRange: 0.02, RMSNormEps: 1e-5}
	var firstModel string
	for i, m := range miners {
		mdir := filepath.Join(minersDir, m.name)
		model, how, tr, err := r.makeModel(ctx, modelJob{cfg: cfg, tokDir: tokDir, dir: mdir, all: trainTexts, devil: devilTexts,
			first: firstModel, firstName: miners[0].name}, i, m.name)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			firstModel = model
		}
		if tr.Model != "" {
			r.say("%s: held-out loss per token %.3f → %.3f", m.name, tr.LossStart, tr.LossEnd)
		}
		repo := hf.RepoID{Namespace: m.name, Name: "tiny-llama"}
		st, err := publish.Run(ctx, publish.Options{Dir: model, Repo: repo, Competition: Competition, Netuid: netuid,
			Hotkey: m.key.AccountID(), Hub: minerHub, Chain: node.As(m.key), StateFile: filepath.Join(mdir, "publish.json"),
			WorkDir: filepath.Join(mdir, "verify"), ReadBackDelay: 50 * time.Millisecond, RateLimitDelay: time.Second,
			Message: "coldint demo: " + how})
		if err != nil {
			return nil, fmt.Errorf("run demo: publish %s: %w", m.name, err)
		}
		mr := MinerResult{Name: m.name, Label: m.label, UID: m.uid, Hotkey: m.key.AccountID().String(), How: how, Model: rel(d, model),
			Repo: repo.String(), Commit: st.Commit, Block: st.Block, LossEnd: tr.LossEnd, CommittedAt: unixNow()}
		res.Miners = append(res.Miners, mr)
		r.say("%s (uid %d): published %s@%.8s and committed it on chain at %s", m.label, m.uid, repo, st.Commit, blockAt(st.Block, mr.CommittedAt))
		if _, err := node.Advance(ctx, 1); err != nil {
			return nil, err
		}
	}

	// Validator.
	src, err := data.OpenLocal(ctx, []string{corpusDir}, data.LocalOptions{})
	if err != nil {
		return nil, err
	}
	valDir := filepath.Join(d, "validator")
	stepsDir := filepath.Join(d, "steps")
	if err := os.MkdirAll(stepsDir, 0o755); err != nil {
		return nil, err
	}
	v, err := eval.New(eval.Options{Chain: node, Setter: node.As(val), Hotkey: val.AccountID(), Netuid: netuid, Hub: valHub,
		Source: src, Scorer: r.o.Scorer, Loader: eval.NewLoader(compsPath, ""), ModelDir: valDir, Threads: r.o.Threads,
		WeightInterval: -1, ChainInterval: -1, DownloadMargin: 1 << 20, StoreSizeGB: -0.001, Seed: 42, Logger: r.log,
		FreeDisk: func(string) (int64, error) { return 1 << 40, nil }})
	if err != nil {
		return nil, err
	}
	pub := &evalproof.Publisher{Dir: filepath.Join(d, PublishedDir), Committer: node.As(val), Netuid: netuid, Logger: r.log,
		Info: evalproof.StepInfo{Validator: val.AccountID().String(), Netuid: uint16(netuid), Dataset: "local"}}
	r.say("the validator scores %d documents per step; each step after the first adds %d fresh ones to its sample DB", EvalSamples, FreshSamples)
	for s := 1; s <= r.o.Steps; s++ {
		r.say("validator step %d of %d: sync chain and hub, sample the corpus, evaluate, score, set weights…", s, r.o.Steps)
		rep, err := v.Step(ctx)
		if err != nil {
			return nil, fmt.Errorf("run demo: validator step %d: %w", s, err)
		}
		if err := writeJSON(filepath.Join(stepsDir, fmt.Sprintf("step-%03d.json", s)), rep); err != nil {
			return nil, err
		}
		r.reportStep(rep)
		if err := r.publish(ctx, pub, v, rep); err != nil {
			return nil, err
		}
		res.Steps = s
		if _, err := node.Advance(ctx, 5); err != nil {
			return nil, err
		}
	}

	// The summary names the participants for the leaderboard (web reads it).
	if err := writeValidatorConfig(filepath.Join(d, ValidatorConfig), map[string]any{
		"network": "file:" + chainPath, "netuid": int(netuid), "competitions": compsPath, "hall-of-fame": "",
		"hub-dir": hubDir, "data": []string{corpusDir}, "model-dir": valDir, "wallet.path": walletDir, "wallet.name": "validator",
		"max-steps": 1, "save-step-json": filepath.Join(d, "steps", "step-extra.json"), "weights-interval": "-1s",
		"idle-sleep": "0s", "download-margin-gb": 0.001, "publish": filepath.Join(d, PublishedDir),
	}); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(d, "demo.json"), res); err != nil {
		return nil, err
	}
	// Leaderboard.
	lbs, err := web.Leaderboards(ctx, d)
	if err != nil {
		return nil, err
	}
	for _, lb := range lbs {
		if lb.Competition == Competition {
			res.Leaderboard = lb.Rows
			r.printLeaderboard(lb)
		}
	}
	if chainW, err := node.Weights(ctx, netuid, valUID); err == nil && len(chainW) > 0 {
		r.printChainWeights(chainW)
	}

	exe := r.o.Exe
	best := res.Miners[0].Model
	if len(res.Leaderboard) > 0 {
		for _, m := range res.Miners {
			if m.UID == res.Leaderboard[0].UID {
				best = m.Model
			}
		}
	}
	res.Commands = map[string]string{
		"web":         fmt.Sprintf("%s serve --state %s", exe, d),
		"generate":    fmt.Sprintf("%s generate --model %s --prompt 'The hacker' --temperature 0.8 --top-k 40 --sampling-seed 1", exe, filepath.Join(d, best)),
		"validate":    fmt.Sprintf("%s validate --config %s", exe, filepath.Join(d, ValidatorConfig)),
		"chain":       fmt.Sprintf("%s chain serve --db %s --block-time 0   # then use --network local", exe, chainPath),
		"hub":         fmt.Sprintf("%s hub serve --root %s", exe, hubDir),
		"mine":        fmt.Sprintf("%s mine train --init %s --data %s --steps 20 --seq-len 128 --lr 1e-3 --out %s", exe, filepath.Join(d, best), corpusDir, filepath.Join(d, "miners", "more")),
		"inspect":     fmt.Sprintf("%s model inspect %s", exe, filepath.Join(d, best)),
		"audit":       fmt.Sprintf("%s audit %s --data %s --hub-dir %s --network file:%s", exe, filepath.Join(d, PublishedDir), corpusDir, hubDir, chainPath),
		"leaderboard": fmt.Sprintf("curl -s http://127.0.0.1:8080/api/competitions/%s/leaderboard   # while `serve` runs", Competition),
	}
	if err := writeJSON(filepath.Join(d, "demo.json"), res); err != nil {
		return nil, err
	}
	if err := r.writeReadme(res); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "\nEverything is in %s (README.txt says what is where; %s holds the components' logs). Try next:\n", d, LogFile)
	for _, k := range []string{"web", "generate", "inspect", "validate", "audit"} {
		fmt.Fprintf(r.out, "  %s\n", res.Commands[k])
	}
	return res, nil
}

// miner is a registered miner of the demo.
type miner struct {
	name, label string
	key         *keys.Pair
	uid         chain.UID
}

// modelJob is what a miner starts from.
type modelJob struct {
	cfg       *hf.ModelConfig
	tokDir    string
	dir       string   // the miner's folder
	all       []string // the miners' training documents
	devil     []string // those of the Devil's Dictionary
	first     string   // the first miner's model ("" for the first miner)
	firstName string
}

// makeModel makes miner i's model: the first trains from scratch, the
// second grows the first's model by surgery and specialises it, the third
// copies it, any further one trains briefly from scratch.
func (r *runner) makeModel(ctx context.Context, j modelJob, i int, name string) (model, how string, tr TrainResult, err error) {
	mdir := j.dir
	switch {
	case i == 0:
		init := filepath.Join(mdir, "init")
		if err := modeldir.Init(ctx, init, j.cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.F32, TokenizerDir: j.tokDir}); err != nil {
			return "", "", tr, err
		}
		r.say("%s: training a fresh %d-layer LLaMA (hidden %d, %d parameters) for %d steps…", name, j.cfg.NumHiddenLayers, j.cfg.HiddenSize, j.cfg.ParamCount(), r.o.TrainSteps)
		tr, err = r.o.Trainer.Train(ctx, TrainJob{Init: init, Out: filepath.Join(mdir, "run"), Tokenizer: j.tokDir, Texts: j.all,
			Steps: r.o.TrainSteps, SeqLen: 128, Batch: 8, LR: 3e-3, Seed: 1})
		if err != nil {
			return "", "", tr, fmt.Errorf("run demo: %s: %w", name, err)
		}
		model, how = tr.Model, fmt.Sprintf("trained from scratch, %d steps", r.o.TrainSteps)
	case i == 1:
		// Surgery: grow the first miner's model by one (identity) layer,
		// then train on.
		sm, err := surgeon.Load(j.first)
		if err != nil {
			return "", "", tr, err
		}
		grown, err := surgeon.AddLayers(sm, sm.Config.NumHiddenLayers, 1)
		if err != nil {
			return "", "", tr, err
		}
		init := filepath.Join(mdir, "surgery")
		if err := grown.Save(ctx, init); err != nil {
			return "", "", tr, err
		}
		if err := modeldir.CopyTokenizer(j.tokDir, init); err != nil {
			return "", "", tr, err
		}
		steps := max(1, r.o.TrainSteps/2)
		r.say("%s: surgery on %s's model (add-layers: %d → %d layers, function-preserving), then %d more steps on the Devil's Dictionary only…",
			name, j.firstName, sm.Config.NumHiddenLayers, grown.Config.NumHiddenLayers, steps)
		tr, err = r.o.Trainer.Train(ctx, TrainJob{Init: init, Out: filepath.Join(mdir, "run"), Tokenizer: j.tokDir, Texts: j.devil,
			Steps: steps, SeqLen: 128, Batch: 8, LR: 1.5e-3, Seed: 2})
		if err != nil {
			return "", "", tr, fmt.Errorf("run demo: %s: %w", name, err)
		}
		model, how = tr.Model, fmt.Sprintf("surgery (add a layer) on %s's model + %d steps on the Devil's Dictionary", j.firstName, steps)
	case i == 2:
		model = filepath.Join(mdir, "model")
		if err := modeldir.CopyFiles(j.first, model); err != nil {
			return "", "", tr, err
		}
		how = "a byte-for-byte copy of " + j.firstName + "'s model (published later)"
		r.say("%s: copied %s's model unchanged", name, j.firstName)
	default:
		init := filepath.Join(mdir, "init")
		if err := modeldir.Init(ctx, init, j.cfg, modeldir.InitOptions{Seed: uint64(i + 1), DType: safetensors.F32, TokenizerDir: j.tokDir}); err != nil {
			return "", "", tr, err
		}
		steps := max(1, r.o.TrainSteps/4)
		r.say("%s: training a fresh model for only %d steps…", name, steps)
		tr, err = r.o.Trainer.Train(ctx, TrainJob{Init: init, Out: filepath.Join(mdir, "run"), Tokenizer: j.tokDir, Texts: j.all,
			Steps: steps, SeqLen: 128, Batch: 8, LR: 3e-3, Seed: uint64(i + 1)})
		if err != nil {
			return "", "", tr, fmt.Errorf("run demo: %s: %w", name, err)
		}
		model, how = tr.Model, fmt.Sprintf("trained from scratch, %d steps", steps)
	}
	return model, how, tr, nil
}
