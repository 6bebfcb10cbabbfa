package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/model"
)

// RankEnv is one process's place in a data-parallel run, from the variables
// torchrun, Slurm wrappers and Kubernetes operators set (and LaunchRanks
// sets for its children).
type RankEnv struct {
	Addr                   string
	Port                   int
	Rank, World, LocalRank int
	LocalWorld             int
	// AgentStore: the launcher hosts the rendezvous store (torchrun's
	// TORCHELASTIC_USE_AGENT_STORE=True), so rank 0 does not.
	AgentStore bool
}

// ReadRankEnv reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE and TORCHELASTIC_USE_AGENT_STORE. ok is false when
// WORLD_SIZE is unset, or 1 without a MASTER_ADDR: a one-process group is
// formed only where a launcher asked for one (torchrun --nproc-per-node 1,
// mine train --nproc 1), as PyTorch does, which also runs NCCL on one GPU.
func ReadRankEnv() (r RankEnv, ok bool, err error) {
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

// Device places the rank: on CUDA without an explicit GPU index
// (indexGiven false), the GPU of its LOCAL_RANK.
func (r RankEnv) Device(dev model.Device, indexGiven bool) model.Device {
	if dev.CUDA && !indexGiven {
		dev.Index = r.LocalRank
	}
	return dev
}

// Threads is the rank's libtorch threads: threads when positive, else the
// cores shared out among the local ranks.
func (r RankEnv) Threads(threads int) int {
	if threads > 0 {
		return threads
	}
	return max(1, runtime.NumCPU()/max(r.LocalWorld, 1))
}

// joinRun joins the data-parallel group of r and makes tr one of its ranks.
func joinRun(ctx context.Context, eng *model.Engine, tr *model.Trainer, r RankEnv, timeout time.Duration) (*model.DDP, error) {
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
