package miner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// LaunchedEnv marks a process started by LaunchRanks as one of its ranks
// (so that it trains instead of launching again).
const LaunchedEnv = "COLDINT_LAUNCHED_RANK"

// Launch says how LaunchRanks starts the ranks: the program and its
// arguments, and where their output goes (rank 0's stdout to Stdout, every
// rank's stderr to Stderr).
type Launch struct {
	Exe            string
	Args           []string
	Stdout, Stderr io.Writer
}

// LaunchRanks runs n ranks of l.Exe with l.Args on this machine and waits
// for them. SIGINT and SIGTERM, and the end of ctx, are passed on to every
// rank (each checkpoints and stops). When a rank fails, the others are
// stopped (SIGTERM, then SIGKILL after a grace period) and the error names
// the rank.
func LaunchRanks(ctx context.Context, n int, l Launch) error {
	port, err := freeTCPPort()
	if err != nil {
		return fmt.Errorf("mine train --nproc: %w", err)
	}
	cmds := make([]*exec.Cmd, n)
	exits := make(chan rankExit, n)
	for r := range cmds {
		cmd := exec.Command(l.Exe, l.Args...)
		cmd.Env = append(os.Environ(), LaunchedEnv+"=1", "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(n), "LOCAL_RANK="+strconv.Itoa(r), "LOCAL_WORLD_SIZE="+strconv.Itoa(n))
		cmd.Stderr = l.Stderr
		if r == 0 {
			cmd.Stdout = l.Stdout
		}
		if err := cmd.Start(); err != nil {
			stopRanks(cmds[:r], 0)
			return fmt.Errorf("mine train --nproc: start rank %d: %w", r, err)
		}
		cmds[r] = cmd
		go func(r int) { exits <- rankExit{r, cmd.Wait()} }(r)
	}
	slog.Info("launched ranks", "nproc", n, "rendezvous", "127.0.0.1:"+strconv.Itoa(port))
	return waitRanks(ctx, cmds, exits)
}

type rankExit struct {
	rank int
	err  error
}

// waitRanks waits for every rank to exit, passing signals on, and returns
// the first failure.
func waitRanks(ctx context.Context, cmds []*exec.Cmd, exits <-chan rankExit) error {
	n := len(cmds)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	var first error
	// signalled: the ranks were told to stop (each checkpoints at its next
	// step boundary); a rank that then fails because a peer left first is
	// part of the interruption, not a failure to report, and no rank is
	// killed while rank 0 writes its checkpoint.
	signalled := false
	done := ctx.Done()
	for left := n; left > 0; {
		select {
		case s := <-sig:
			slog.Warn("passing the signal on to the ranks", "signal", s.String())
			signalled = true
			signalAll(cmds, s)
		case <-done:
			done = nil
			signalled = true
			signalAll(cmds, os.Interrupt)
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

func signalAll(cmds []*exec.Cmd, s os.Signal) {
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(s) // an error: it has ended already
	}
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

// freeTCPPort asks the kernel for a free port on the loopback interface.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
