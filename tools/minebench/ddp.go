package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/tools/internal/benchenv"
	"github.com/coldint/coldint/train"
)

// The DDP mode (-ddp N) compares N data-parallel ranks of one thread each
// (processes over Gloo on this machine, B rows each) with one process of N
// threads training on N·B rows: the same tokens per optimizer step. It
// prints both in tokens/s, their ratio, and the share of a rank's step spent
// in the gradient all-reduce beyond what the backward pass hides.

// rankJobEnv carries a child's job (JSON) when the DDP mode runs this binary
// as one rank or as the one-process baseline.
const rankJobEnv = "MINEBENCH_RANK_JOB"

type rankJob struct {
	Model   string `json:"model"`
	Port    int    `json:"port"`
	Rank    int    `json:"rank"`
	World   int    `json:"world"` // 1: the baseline, no group
	Threads int    `json:"threads"`
	Batch   int    `json:"batch"`
	Seq     int    `json:"seq"`
	Steps   int    `json:"steps"`
	Vocab   int    `json:"vocab"`
}

type rankResult struct {
	Step   float64 `json:"step_s"`   // median step seconds
	Reduce float64 `json:"reduce_s"` // median all-reduce seconds per step
	// Wait is the median of the step's first collective (the token
	// counts), which also waits for the slower rank; Reduce − Wait is the
	// gradients' all-reduce.
	Wait   float64 `json:"wait_s"`
	Tokens int     `json:"tokens"` // tokens per step, all ranks
}

// runRankJob is the body of a child process.
func runRankJob(spec string) error {
	var j rankJob
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	ctx := context.Background()
	eng, err := model.NewEngineWith(model.EngineOptions{Threads: j.Threads})
	if err != nil {
		return err
	}
	defer eng.Close()
	tr, err := eng.NewTrainer(ctx, j.Model)
	if err != nil {
		return err
	}
	defer tr.Close()
	if j.World > 1 {
		g, err := eng.JoinDDP(ctx, model.DDPOptions{Addr: "127.0.0.1", Port: j.Port, Rank: j.Rank, World: j.World, Timeout: 10 * time.Minute})
		if err != nil {
			return err
		}
		defer g.Close()
		if err := tr.UseDDP(ctx, g); err != nil {
			return err
		}
	}
	p := train.OptimParams{LR: 1e-4, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1}
	var steps, reduces, waits []float64
	res := rankResult{}
	for i := 0; i <= j.Steps; i++ {
		b := randomBatch(uint64(1000*i+100*j.Rank), j.Batch, j.Seq, j.Vocab)
		p.Step = i + 1
		r0, w0, t0 := tr.ReduceTime(), tr.ReduceWaitTime(), time.Now()
		st, err := tr.TrainStep(ctx, []train.Batch{b}, p)
		if err != nil {
			return err
		}
		if i > 0 {
			steps = append(steps, time.Since(t0).Seconds())
			reduces = append(reduces, (tr.ReduceTime() - r0).Seconds())
			waits = append(waits, (tr.ReduceWaitTime() - w0).Seconds())
			res.Tokens = st.Tokens
		}
	}
	res.Step, res.Reduce, res.Wait = median(steps), median(reduces), median(waits)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runChildren starts one child per job and returns their results.
func runChildren(jobs []rankJob) ([]rankResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmds := make([]*exec.Cmd, len(jobs))
	outs := make([]*bytes.Buffer, len(jobs))
	for i, j := range jobs {
		spec, _ := json.Marshal(j)
		c := exec.Command(exe)
		c.Env = append(os.Environ(), rankJobEnv+"="+string(spec), "OMP_NUM_THREADS="+strconv.Itoa(j.Threads))
		outs[i] = &bytes.Buffer{}
		c.Stdout, c.Stderr = outs[i], os.Stderr
		if err := c.Start(); err != nil {
			return nil, err
		}
		cmds[i] = c
	}
	res := make([]rankResult, len(jobs))
	var first error
	for i, c := range cmds {
		if err := c.Wait(); err != nil && first == nil {
			first = fmt.Errorf("rank %d: %w", jobs[i].Rank, err)
			continue
		}
		if err := json.Unmarshal(outs[i].Bytes(), &res[i]); err != nil && first == nil {
			first = fmt.Errorf("rank %d output %q: %w", jobs[i].Rank, outs[i].String(), err)
		}
	}
	return res, first
}

// runDDPBench compares n ranks × 1 thread with 1 process × n threads.
func runDDPBench(mdir string, n, batch, seq, steps, vocab int) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	fmt.Printf("ddp bench: %d ranks × 1 thread × batch %d against 1 process × %d threads × batch %d, seq %d, median of %d steps\n",
		n, batch, n, n*batch, seq, steps)
	var jobs []rankJob
	for r := range n {
		jobs = append(jobs, rankJob{Model: mdir, Port: port, Rank: r, World: n, Threads: 1, Batch: batch, Seq: seq, Steps: steps, Vocab: vocab})
	}
	ranks, err := runChildren(jobs)
	if err != nil {
		return err
	}
	worst := ranks[0]
	for _, r := range ranks {
		if r.Step > worst.Step {
			worst = r
		}
	}
	ddp := float64(worst.Tokens) / worst.Step
	fmt.Printf("ddp:      %8.1f tokens/s wall  (step %.2f s, all-reduce %.2f s = %.1f%% of the step; load %s)\n",
		ddp, worst.Step, worst.Reduce, 100*worst.Reduce/worst.Step, benchenv.LoadAvg())
	for r, x := range ranks {
		fmt.Printf("  rank %d: step %.2f s, all-reduce not hidden by the backward pass %.3f s = %.1f%%: token counts (with the wait for the slower rank) %.3f s, gradients %.3f s = %.1f%%\n",
			r, x.Step, x.Reduce, 100*x.Reduce/x.Step, x.Wait, x.Reduce-x.Wait, 100*(x.Reduce-x.Wait)/x.Step)
	}
	one, err := runChildren([]rankJob{{Model: mdir, World: 1, Threads: n, Batch: n * batch, Seq: seq, Steps: steps, Vocab: vocab}})
	if err != nil {
		return err
	}
	base := float64(one[0].Tokens) / one[0].Step
	fmt.Printf("1 process:%8.1f tokens/s wall  (step %.2f s; load %s)\n", base, one[0].Step, benchenv.LoadAvg())
	fmt.Printf("ratio ddp/1-process = %.2fx; all-reduce share %.1f%% (goal <= 10%%)\n", ddp/base, 100*worst.Reduce/worst.Step)
	return nil
}
