package e2e

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coldint/coldint/train"
)

// ddpArgs are trainArgs with batch rows per rank and a checkpoint every
// ckpt steps.
func ddpArgs(init, corpus, out string, steps, batch, ckpt int) []string {
	a := trainArgs(init, corpus, out, steps)
	for i := range a {
		switch a[i] {
		case "--batch":
			a[i+1] = itoa(batch)
		case "--checkpoint-every":
			a[i+1] = itoa(ckpt)
		case "--threads":
			a[i+1] = "1"
		}
	}
	return a
}

// sameCurve fails unless the loss curves of two runs agree within tol.
func sameCurve(t *testing.T, what string, a, b *train.State, tol float64) {
	t.Helper()
	if len(a.Curve) != len(b.Curve) {
		t.Fatalf("%s: curves of %d and %d points", what, len(a.Curve), len(b.Curve))
	}
	var worst float64
	for i := range a.Curve {
		d := math.Abs(a.Curve[i].Loss - b.Curve[i].Loss)
		worst = math.Max(worst, d)
		if d > tol || a.Curve[i].Tokens != b.Curve[i].Tokens {
			t.Fatalf("%s: step %d: loss %.9f (%d tokens) against %.9f (%d tokens)", what, i+1, a.Curve[i].Loss, a.Curve[i].Tokens, b.Curve[i].Loss, b.Curve[i].Tokens)
		}
	}
	t.Logf("%s: %d steps agree (max loss difference %.2g)", what, len(a.Curve), worst)
}

func loadState(t *testing.T, out string) *train.State {
	t.Helper()
	st, _, err := train.LoadState(out)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMineTrainDDP: `mine train --nproc 2 --batch 2` follows the loss curve
// of one process at --batch 4. Then two ranks started as torchrun starts
// them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) lose rank 1 to kill -9
// after a checkpoint: rank 0 exits with an error naming the failed
// all-reduce in under 60 s, and `--nproc 1 --batch 4 --resume` continues
// from the recorded position and matches the uninterrupted one-rank run.
func TestMineTrainDDP(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	bin := coldintBin(t)
	const steps = 12
	one := filepath.Join(t.TempDir(), "one")
	coldint(t, context.Background(), false, ddpArgs(init, corpus, one, steps, 4, 4)...)
	ref := loadState(t, one)

	two := filepath.Join(t.TempDir(), "two")
	cmd := exec.Command(bin, append(ddpArgs(init, corpus, two, steps, 2, 4), "--nproc", "2")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--nproc 2: %v\n%s", err, tail(string(out), 3000))
	}
	got := loadState(t, two)
	if got.World != 2 {
		t.Fatalf("checkpoint of the 2-rank run records world %d", got.World)
	}
	sameCurve(t, "2 ranks × batch 2 against 1 rank × batch 4", ref, got, 1e-4)

	// Two ranks as torchrun starts them; rank 1 dies after the first checkpoint.
	part := filepath.Join(t.TempDir(), "part")
	ranks, logs := startRanks(t, bin, append(ddpArgs(init, corpus, part, 400, 2, 4), "--ddp-timeout", "5m"))
	waited := make(chan error, 1)
	go func() { waited <- ranks[0].Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(part, train.CheckpointDir, train.StateFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 5 minutes\nrank 0: %s\nrank 1: %s", tail(logs[0].String(), 2000), tail(logs[1].String(), 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ranks[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = ranks[1].Wait()
	select {
	case err := <-waited:
		if err == nil {
			t.Fatalf("rank 0 exited 0 after its peer died\n%s", tail(logs[0].String(), 2000))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("rank 0 still runs 60 s after its peer was killed\n%s", tail(logs[0].String(), 2000))
	}
	msg := logs[0].String()
	if !strings.Contains(msg, "all-reduce") || !strings.Contains(msg, "rank 0 of 2") {
		t.Fatalf("rank 0's error does not say what failed:\n%s", tail(msg, 2000))
	}
	t.Logf("rank 0 exited %.1f s after rank 1 was killed: %s", time.Since(killed).Seconds(), lastLine(msg))
	mid := loadState(t, part)
	if mid.World != 2 || mid.Step == 0 || mid.Step%4 != 0 {
		t.Fatalf("checkpoint after the kill: step %d, world %d", mid.Step, mid.World)
	}

	// Resume with one rank at twice the batch, against an uninterrupted one-rank run.
	full := filepath.Join(t.TempDir(), "full")
	final := mid.Step + 4
	coldint(t, context.Background(), false, ddpArgs(init, corpus, full, final, 4, 4)...)
	cmd = exec.Command(bin, append(ddpArgs(init, corpus, part, final, 4, 4), "--nproc", "1", "--resume")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("resume with --nproc 1: %v\n%s", err, tail(string(out), 3000))
	}
	resumed := loadState(t, part)
	sameCurve(t, "2 ranks killed at step "+itoa(mid.Step)+", resumed on 1 rank, against 1 rank", loadState(t, full), resumed, 1e-4)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestMineTrainNprocRankDies: when one rank of `mine train --nproc 2` is
// killed, the launcher stops the other and exits with an error naming the
// dead rank, within 60 s; a rank whose rendezvous is unreachable fails with
// an error naming the address, within its --ddp-timeout.
func TestMineTrainNprocRankDies(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	bin := coldintBin(t)
	out := filepath.Join(t.TempDir(), "run")
	var log bytes.Buffer
	cmd := exec.Command(bin, append(ddpArgs(init, corpus, out, 400, 2, 4), "--nproc", "2")...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(out, train.CheckpointDir, train.StateFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 5 minutes\n%s", tail(log.String(), 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Children are listed per thread of the launcher.
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "task", "*", "children"))
	var pids []string
	for _, f := range tasks {
		kids, err := os.ReadFile(f)
		if err != nil {
			t.Skipf("cannot list the launcher's children: %v", err)
		}
		pids = append(pids, strings.Fields(string(kids))...)
	}
	if len(pids) != 2 {
		t.Fatalf("launcher has children %q, want 2 ranks", pids)
	}
	pid := 0
	for _, p := range pids {
		env, _ := os.ReadFile(filepath.Join("/proc", p, "environ"))
		if slices.Contains(strings.Split(string(env), "\x00"), "RANK=1") {
			pid, _ = strconv.Atoi(p)
		}
	}
	if pid == 0 {
		t.Fatalf("no child of the launcher has RANK=1")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err == nil || !strings.Contains(log.String(), "rank 1 failed") {
			t.Fatalf("launcher after rank 1 was killed: %v\n%s", err, tail(log.String(), 2000))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("launcher still runs 60 s after rank 1 was killed\n%s", tail(log.String(), 2000))
	}
	t.Logf("launcher: %s", lastLine(log.String()))

	port := freePort(t)
	lone := filepath.Join(t.TempDir(), "lone")
	c := exec.Command(bin, append(ddpArgs(init, corpus, lone, 4, 2, 4), "--ddp-timeout", "3s")...)
	c.Env = append(os.Environ(), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port), "RANK=1", "WORLD_SIZE=2")
	start := time.Now()
	msg, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "rendezvous at 127.0.0.1:"+strconv.Itoa(port)) || time.Since(start) > 60*time.Second {
		t.Fatalf("unreachable rendezvous: %v after %v\n%s", err, time.Since(start), tail(string(msg), 2000))
	}
	if _, _, err := train.LoadState(lone); err == nil {
		t.Fatal("a rank that never joined wrote a checkpoint")
	}
	t.Logf("unreachable rendezvous: %s", lastLine(string(msg)))
}

// TestMineTrainNprocInterruptResume: SIGINT to `mine train --nproc 2` after
// its first checkpoint stops both ranks (the launcher says interrupted, not
// that a rank failed); `--nproc 2 --resume` then finishes the run on the
// loss curve of one uninterrupted process at twice the batch.
func TestMineTrainNprocInterruptResume(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	bin := coldintBin(t)
	const steps = 40
	part := filepath.Join(t.TempDir(), "part")
	var log bytes.Buffer
	cmd := exec.Command(bin, append(ddpArgs(init, corpus, part, steps, 2, 4), "--nproc", "2")...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(part, train.CheckpointDir, train.StateFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 5 minutes\n%s", tail(log.String(), 2000))
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	msg := log.String()
	if err == nil || strings.Contains(msg, "failed") || !strings.Contains(msg, "interrupted") || strings.Contains(msg, "unknown environment variable") {
		t.Fatalf("interrupted launcher: %v\n%s", err, tail(msg, 2000))
	}
	mid := loadState(t, part)
	if mid.Step >= steps {
		t.Skipf("the run finished (step %d) before the signal arrived", mid.Step)
	}
	resume := exec.Command(bin, append(ddpArgs(init, corpus, part, steps, 2, 4), "--nproc", "2", "--resume")...)
	if out, err := resume.CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, tail(string(out), 3000))
	}
	one := filepath.Join(t.TempDir(), "one")
	coldint(t, context.Background(), false, ddpArgs(init, corpus, one, steps, 4, 4)...)
	sameCurve(t, "2 ranks interrupted at step "+itoa(mid.Step)+" and resumed, against 1 rank", loadState(t, one), loadState(t, part), 1e-4)
}

// TestMineTrainDDPStoppedPeerTimesOut: a peer that hangs (SIGSTOP) instead
// of dying makes the other rank fail after --ddp-timeout, not wait forever.
func TestMineTrainDDPStoppedPeerTimesOut(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	bin := coldintBin(t)
	out := filepath.Join(t.TempDir(), "run")
	ranks, logs := startRanks(t, bin, append(ddpArgs(init, corpus, out, 400, 2, 4), "--ddp-timeout", "5s"))
	waited := make(chan error, 1)
	go func() { waited <- ranks[0].Wait() }()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(out, train.CheckpointDir, train.StateFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 5 minutes\n%s", tail(logs[0].String(), 2000))
		}
	}
	if err := ranks[1].Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	select {
	case err := <-waited:
		msg := logs[0].String()
		if err == nil || !strings.Contains(msg, "all-reduce") {
			t.Fatalf("rank 0 after its peer stopped: %v\n%s", err, tail(msg, 2000))
		}
		t.Logf("rank 0 exited %.1f s after rank 1 stopped: %s", time.Since(stopped).Seconds(), lastLine(msg))
	case <-time.After(60 * time.Second):
		t.Fatalf("rank 0 still runs 60 s after its peer stopped (--ddp-timeout 5s)\n%s", tail(logs[0].String(), 2000))
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRanks starts two ranks of coldint with args as torchrun would (the
// rendezvous variables set by hand), each with its own output buffer; the
// ranks are killed (and resumed first, if stopped) when the test ends.
func startRanks(t *testing.T, bin string, args []string) ([]*exec.Cmd, []*bytes.Buffer) {
	t.Helper()
	port := freePort(t)
	ranks := make([]*exec.Cmd, 2)
	logs := make([]*bytes.Buffer, 2)
	for r := range ranks {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port), "RANK="+strconv.Itoa(r), "WORLD_SIZE=2")
		logs[r] = &bytes.Buffer{}
		c.Stdout, c.Stderr = logs[r], logs[r]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		ranks[r] = c
		t.Cleanup(func() {
			_ = c.Process.Kill()
			_ = c.Process.Signal(syscall.SIGCONT)
		})
	}
	return ranks, logs
}
