package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/train"
)

// ddpJobEnv holds the JSON job of a test binary started as one rank by
// runRanks (see TestDDPRank).
const ddpJobEnv = "COLDINT_TEST_DDP_JOB"

// ddpJob is one rank's work: join the group, train Steps steps on Batch
// (the same rows every step) and write the weights as JSON to Out.
type ddpJob struct {
	Model     string            `json:"model"`
	Port      int               `json:"port"`
	Rank      int               `json:"rank"`
	World     int               `json:"world"`
	TimeoutMS int64             `json:"timeout_ms"`
	Steps     int               `json:"steps"`
	Batch     train.Batch       `json:"batch"`
	Params    train.OptimParams `json:"params"`
	Out       string            `json:"out"`
	// BucketBytes overrides the all-reduce bucket size (0: the default).
	BucketBytes int64 `json:"bucket_bytes"`
	// Micro, when set, are the micro-batches of every step instead of Batch.
	Micro []train.Batch `json:"micro,omitempty"`
	// Recompute turns activation checkpointing on.
	Recompute bool `json:"recompute,omitempty"`
}

// TestDDPRank is not a test of its own: it is the body of one rank when
// another test runs this binary with ddpJobEnv set.
func TestDDPRank(t *testing.T) {
	spec := os.Getenv(ddpJobEnv)
	if spec == "" {
		t.Skip("runs only as a rank started by the data-parallel tests (" + ddpJobEnv + " unset)")
	}
	var job ddpJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		t.Fatal(err)
	}
	if err := runDDPJob(testEngine(t), job); err != nil {
		fmt.Fprintf(os.Stderr, "RANK-ERROR: %v\n", err)
		t.Fatal(err)
	}
}

func runDDPJob(e *Engine, job ddpJob) error {
	ctx := context.Background()
	if job.BucketBytes > 0 {
		ddpBucketBytes = job.BucketBytes
	}
	tr, err := e.NewTrainerWith(ctx, job.Model, TrainerOptions{GradCheckpointing: job.Recompute})
	if err != nil {
		return err
	}
	defer tr.Close()
	g, err := e.JoinDDP(ctx, DDPOptions{Addr: "127.0.0.1", Port: job.Port, Rank: job.Rank, World: job.World,
		Timeout: time.Duration(job.TimeoutMS) * time.Millisecond})
	if err != nil {
		return err
	}
	defer g.Close()
	if err := tr.UseDDP(ctx, g); err != nil {
		return err
	}
	p := job.Params
	for s := 1; s <= job.Steps; s++ {
		p.Step = s
		micro := job.Micro
		if micro == nil {
			micro = []train.Batch{job.Batch}
		}
		if _, err := tr.TrainStep(ctx, micro, p); err != nil {
			return err
		}
	}
	params, err := tr.Parameters(ctx)
	if err != nil {
		return err
	}
	data, err := json.Marshal(params)
	if err != nil {
		return err
	}
	return os.WriteFile(job.Out, data, 0o644)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runRanks runs one test-binary process per job and returns each one's
// error output and exit error.
func runRanks(t *testing.T, jobs []ddpJob) ([]string, []error) {
	t.Helper()
	cmds := make([]*exec.Cmd, len(jobs))
	outs := make([]*bytes.Buffer, len(jobs))
	for i, j := range jobs {
		spec, _ := json.Marshal(j)
		c := exec.Command(os.Args[0], "-test.run=^TestDDPRank$", "-test.count=1")
		c.Env = append(os.Environ(), ddpJobEnv+"="+string(spec), "OMP_NUM_THREADS=1")
		outs[i] = &bytes.Buffer{}
		c.Stdout, c.Stderr = outs[i], outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	text := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	for i, c := range cmds {
		errs[i] = c.Wait()
		text[i] = outs[i].String()
	}
	return text, errs
}

func readParams(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string][]float32
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// worstRel returns the largest ‖a−b‖/‖b‖ over the tensors of b.
func worstRel(t *testing.T, a, b map[string][]float32) (float64, string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors against %d", len(a), len(b))
	}
	worst, name := 0.0, ""
	for k, w := range b {
		g, ok := a[k]
		if !ok || len(g) != len(w) {
			t.Fatalf("tensor %q missing or of another size", k)
		}
		var d, n float64
		for i := range w {
			d += (float64(g[i]) - float64(w[i])) * (float64(g[i]) - float64(w[i]))
			n += float64(w[i]) * float64(w[i])
		}
		if r := math.Sqrt(d) / math.Max(math.Sqrt(n), 1e-12); r > worst {
			worst, name = r, k
		}
	}
	return worst, name
}

var ddpTestParams = train.OptimParams{LR: 3e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 0.5}

// TestDDPMatchesOneRankAndPyTorch trains a tiny LLaMA for 5 steps on two
// ranks (two processes over Gloo), each on its own two rows, and checks the
// weights against one process training on all four rows and against
// PyTorch's DistributedDataParallel (two Gloo ranks, the same rows and
// AdamW): within 1e-5 per tensor (‖Δ‖/‖w‖).
func TestDDPMatchesOneRankAndPyTorch(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	spec := tinyTrainSpec("llama", 11)
	spec.Std = 0.1
	dir := writeModel(t, spec)
	rows := [][]int32{synth.RandomIDs(31, 12, spec.Vocab), synth.RandomIDs(32, 12, spec.Vocab),
		synth.RandomIDs(33, 12, spec.Vocab), synth.RandomIDs(34, 12, spec.Vocab)}
	per := []train.Batch{batchOf(rows[0], rows[1]), batchOf(rows[2], rows[3])}
	tmp := t.TempDir()
	port := freePort(t)
	var jobs []ddpJob
	for r := range 2 {
		jobs = append(jobs, ddpJob{Model: dir, Port: port, Rank: r, World: 2, TimeoutMS: 60000, Steps: 5,
			Batch: per[r], Params: ddpTestParams, Out: filepath.Join(tmp, fmt.Sprintf("rank%d.json", r)),
			// 8 KB buckets: several tensors share a bucket, bigger ones have
			// their own, and several buckets are in flight at once.
			BucketBytes: 8 << 10})
	}
	text, errs := runRanks(t, jobs)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v\n%s", r, err, text[r])
		}
	}
	r0, r1 := readParams(t, jobs[0].Out), readParams(t, jobs[1].Out)
	if w, name := worstRel(t, r1, r0); w != 0 {
		t.Fatalf("ranks disagree: %q differs by %.3g", name, w)
	}

	tr, err := e.NewTrainer(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	p := ddpTestParams
	all := batchOf(rows...)
	for s := 1; s <= 5; s++ {
		p.Step = s
		if _, err := tr.TrainStep(ctx, []train.Batch{all}, p); err != nil {
			t.Fatal(err)
		}
	}
	one, err := tr.Parameters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, name := worstRel(t, r0, one)
	t.Logf("2 ranks against 1 rank at twice the batch: worst ‖Δ‖/‖w‖ %.2g (%s)", w, name)
	if w > 1e-5 {
		t.Fatalf("2 ranks differ from 1 rank: %q by %.3g", name, w)
	}

	py := testenv.DebianPython(t)
	bj, _ := json.Marshal(per)
	bf := filepath.Join(tmp, "batches.json")
	if err := os.WriteFile(bf, bj, 0o644); err != nil {
		t.Fatal(err)
	}
	refOut := filepath.Join(tmp, "ddp.json")
	cmd := exec.Command(py, filepath.Join(testenv.Root(), "tools", "torchref", "ddp_ref.py"),
		"--model", dir, "--batch", bf, "--out", refOut, "--threads", "1", "--steps", "5",
		"--port", strconv.Itoa(freePort(t)), "--lr", fmt.Sprint(p.LR), "--weight-decay", fmt.Sprint(p.WeightDecay),
		"--beta1", fmt.Sprint(p.Beta1), "--beta2", fmt.Sprint(p.Beta2), "--eps", fmt.Sprint(p.Eps), "--clip", fmt.Sprint(p.Clip))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("train_ref ddp: %v\n%s", err, out)
	}
	w, name = worstRel(t, r0, readParams(t, refOut))
	t.Logf("2 ranks against PyTorch DDP: worst ‖Δ‖/‖w‖ %.2g (%s)", w, name)
	if w > 1e-5 {
		t.Fatalf("2 ranks differ from PyTorch DDP: %q by %.3g", name, w)
	}
}

// TestDDPBadInput: ranks whose models differ fail with an error naming the
// rank, and a rank whose rendezvous is unreachable fails within its timeout.
func TestDDPBadInput(t *testing.T) {
	tmp := t.TempDir()
	a := writeModel(t, tinyTrainSpec("llama", 1))
	other := tinyTrainSpec("llama", 1)
	other.Intermediate = 64
	b := writeModel(t, other)
	batch := batchOf(synth.RandomIDs(1, 8, 97))
	port := freePort(t)
	jobs := []ddpJob{
		{Model: a, Port: port, Rank: 0, World: 2, TimeoutMS: 30000, Steps: 1, Batch: batch, Params: ddpTestParams, Out: filepath.Join(tmp, "a")},
		{Model: b, Port: port, Rank: 1, World: 2, TimeoutMS: 30000, Steps: 1, Batch: batch, Params: ddpTestParams, Out: filepath.Join(tmp, "b")},
	}
	text, errs := runRanks(t, jobs)
	for r := range jobs {
		if errs[r] == nil || !strings.Contains(text[r], "model config differs across ranks: rank 1 has") && r == 0 ||
			!strings.Contains(text[r], "model config differs across ranks: rank 0 has") && r == 1 {
			t.Fatalf("rank %d with mismatched models: %v\n%s", r, errs[r], text[r])
		}
	}
	start := time.Now()
	lone := ddpJob{Model: a, Port: freePort(t), Rank: 1, World: 2, TimeoutMS: 3000, Steps: 1, Batch: batch, Params: ddpTestParams, Out: filepath.Join(tmp, "c")}
	text, errs = runRanks(t, []ddpJob{lone})
	if errs[0] == nil || !strings.Contains(text[0], fmt.Sprintf("rendezvous at 127.0.0.1:%d", lone.Port)) {
		t.Fatalf("unreachable rendezvous: %v\n%s", errs[0], text[0])
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("unreachable rendezvous took %v", d)
	}
	for _, f := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err == nil {
			t.Fatalf("a failed rank wrote %s", f)
		}
	}
}
