package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/model"
)

// launchedEnv marks a process started by `mine train --nproc N` as one of
// its ranks (so that it trains instead of launching again).
const launchedEnv = "COLDINT_LAUNCHED_RANK"

// rankEnv is one process's place in a data-parallel run, from the variables
// torchrun, Slurm wrappers and Kubernetes operators set (and --nproc sets
// for its children).
type rankEnv struct {
	Addr                   string
	Port                   int
	Rank, World, LocalRank int
	LocalWorld             int
	// AgentStore: the launcher hosts the rendezvous store (torchrun's
	// TORCHELASTIC_USE_AGENT_STORE=True), so rank 0 does not.
	AgentStore bool
}

// readRankEnv reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE and TORCHELASTIC_USE_AGENT_STORE. ok is false when
// WORLD_SIZE is unset, or 1 without a MASTER_ADDR: a one-process group is
// formed only where a launcher asked for one (torchrun --nproc-per-node 1,
// mine train --nproc 1), as PyTorch does, which also runs NCCL on one GPU.
func readRankEnv() (r rankEnv, ok bool, err error) {
	ws := os.Getenv("WORLD_SIZE")
	if ws == "" || ws == "1" && os.Getenv("MASTER_ADDR") == "" {
		return r, false, nil
	}
	num := func(name string, def int) (int, error) {
		v := os.Getenv(name)
		if v == "" {
			if def >= 0 {
				return def, nil
			}
			return 0, fmt.Errorf("read %s: unset (WORLD_SIZE is %s)", name, ws)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("read %s %q: not a number >= 0", name, v)
		}
		return n, nil
	}
	if r.World, err = num("WORLD_SIZE", -1); err != nil {
		return r, false, err
	}
	if r.Rank, err = num("RANK", -1); err != nil {
		return r, false, err
	}
	if r.Rank >= r.World {
		return r, false, fmt.Errorf("read RANK %d: outside WORLD_SIZE %d", r.Rank, r.World)
	}
	if r.Port, err = num("MASTER_PORT", -1); err != nil {
		return r, false, err
	}
	if r.LocalRank, err = num("LOCAL_RANK", r.Rank); err != nil {
		return r, false, err
	}
	if r.LocalWorld, err = num("LOCAL_WORLD_SIZE", r.World); err != nil {
		return r, false, err
	}
	r.AgentStore = strings.EqualFold(os.Getenv("TORCHELASTIC_USE_AGENT_STORE"), "true")
	if r.Addr = os.Getenv("MASTER_ADDR"); r.Addr == "" {
		return r, false, errors.New("read MASTER_ADDR: unset (WORLD_SIZE is " + ws + ")")
	}
	return r, true, nil
}

// rankDevice places a rank: on CUDA without an explicit GPU index, the GPU
// of its LOCAL_RANK.
func rankDevice(dev model.Device, flag string, r rankEnv) model.Device {
	if dev.CUDA && !strings.Contains(flag, ":") {
		dev.Index = r.LocalRank
	}
	return dev
}

// rankThreads is a rank's libtorch threads: --threads, or the cores shared
// out among the local ranks.
func rankThreads(threads int, r rankEnv) int {
	if threads > 0 {
		return threads
	}
	return max(1, runtime.NumCPU()/max(r.LocalWorld, 1))
}

// joinRun joins the data-parallel group of r and makes tr one of its ranks.
func joinRun(ctx context.Context, eng *model.Engine, tr *model.Trainer, r rankEnv, timeout time.Duration) (*model.DDP, error) {
	slog.Info("joining the data-parallel group", "rank", r.Rank, "world", r.World, "rendezvous", net.JoinHostPort(r.Addr, strconv.Itoa(r.Port)))
	g, err := eng.JoinDDP(ctx, model.DDPOptions{Addr: r.Addr, Port: r.Port, Rank: r.Rank, World: r.World, Timeout: timeout, AgentStore: r.AgentStore})
	if err != nil {
		return nil, fmt.Errorf("mine train: %w", err)
	}
	if err := tr.UseDDP(ctx, g); err != nil {
		g.Close()
		return nil, fmt.Errorf("mine train: %w", err)
	}
	return g, nil
}

// freeTCPPort asks the kernel for a free port on the loopback interface.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launchRanks runs n ranks of this binary with the same arguments on this
// machine and waits for them. SIGINT and SIGTERM are passed on to every
// rank (each checkpoints and stops). When a rank fails, the others are
// stopped (SIGTERM, then SIGKILL after grace) and the error names the rank.
func launchRanks(c *cli.Context, n int) error {
	if n < 1 {
		return usageErrorf("mine train --nproc %d: want at least 1", n)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mine train --nproc: find this binary: %w", err)
	}
	port, err := freeTCPPort()
	if err != nil {
		return fmt.Errorf("mine train --nproc: %w", err)
	}
	stdio := ioFrom(c)
	cmds := make([]*exec.Cmd, n)
	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, n)
	for r := range cmds {
		cmd := exec.Command(exe, os.Args[1:]...)
		cmd.Env = append(os.Environ(), launchedEnv+"=1", "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(n), "LOCAL_RANK="+strconv.Itoa(r), "LOCAL_WORLD_SIZE="+strconv.Itoa(n))
		cmd.Stdin = nil
		cmd.Stderr = stdio.Err
		if r == 0 {
			cmd.Stdout = stdio.Out
		}
		if err := cmd.Start(); err != nil {
			stopRanks(cmds[:r], 0)
			return fmt.Errorf("mine train --nproc: start rank %d: %w", r, err)
		}
		cmds[r] = cmd
		go func(r int) { exits <- exit{r, cmd.Wait()} }(r)
	}
	slog.Info("launched ranks", "nproc", n, "rendezvous", "127.0.0.1:"+strconv.Itoa(port))
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	var first error
	// signalled: the ranks were told to stop (each checkpoints at its next
	// step boundary); a rank that then fails because a peer left first is
	// part of the interruption, not a failure to report, and no rank is
	// killed while rank 0 writes its checkpoint.
	signalled := false
	done := c.Context.Done()
	for left := n; left > 0; {
		select {
		case s := <-sig:
			slog.Warn("passing the signal on to the ranks", "signal", s.String())
			signalled = true
			for _, cmd := range cmds {
				_ = cmd.Process.Signal(s)
			}
		case <-done:
			done = nil
			signalled = true
			for _, cmd := range cmds {
				_ = cmd.Process.Signal(os.Interrupt)
			}
		case e := <-exits:
			left--
			if e.err != nil && signalled && first == nil {
				first = fmt.Errorf("mine train --nproc %d: %w (continue with --resume)", n, context.Canceled)
			}
			if e.err != nil && first == nil {
				first = fmt.Errorf("mine train --nproc %d: rank %d failed: %w", n, e.rank, e.err)
				slog.Error("a rank failed; stopping the others", "rank", e.rank, "err", e.err)
				go stopRanks(cmds, 30*time.Second)
			}
		}
	}
	return first
}

// stopRanks sends SIGTERM to every running rank and SIGKILL to those still
// running after grace.
func stopRanks(cmds []*exec.Cmd, grace time.Duration) {
	for _, cmd := range cmds {
		if cmd != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM) // an error: it has ended already
		}
	}
	time.Sleep(grace)
	for _, cmd := range cmds {
		if cmd != nil {
			_ = cmd.Process.Kill()
		}
	}
}
