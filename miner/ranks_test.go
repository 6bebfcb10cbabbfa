package miner

import (
	"runtime"
	"strings"
	"testing"

	"github.com/coldint/coldint/model"
)

// TestReadRankEnv reads the torchrun variables: a world of one is no group,
// a complete set is one rank, and a missing or bad variable is an error
// naming it.
func TestReadRankEnv(t *testing.T) {
	full := map[string]string{"WORLD_SIZE": "4", "RANK": "3", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		ok   bool
		want string // error text, "" for none
	}{
		{"unset", map[string]string{}, false, ""},
		{"world 1", map[string]string{"WORLD_SIZE": "1"}, false, ""},
		{"world 1 from a launcher", map[string]string{"WORLD_SIZE": "1", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}, true, ""},
		{"full", full, true, ""},
		{"agent store", with("TORCHELASTIC_USE_AGENT_STORE", "True"), true, ""},
		{"no rank", with("RANK", ""), false, "read RANK: unset"},
		{"rank outside", with("RANK", "4"), false, "outside WORLD_SIZE 4"},
		{"bad port", with("MASTER_PORT", "x"), false, `read MASTER_PORT "x"`},
		{"no addr", with("MASTER_ADDR", ""), false, "read MASTER_ADDR: unset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_USE_AGENT_STORE"} {
				t.Setenv(k, tc.env[k])
			}
			r, ok, err := ReadRankEnv()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %v, err %v; want ok %v", ok, err, tc.ok)
			}
			if tc.name == "world 1 from a launcher" {
				if r.World != 1 || r.Rank != 0 || r.Addr != "127.0.0.1" {
					t.Fatalf("read %+v", r)
				}
				return
			}
			if ok && (r.Rank != 3 || r.World != 4 || r.LocalRank != 1 || r.LocalWorld != 2 || r.Port != 29500 || r.Addr != "10.0.0.1" ||
				r.AgentStore != (tc.name == "agent store")) {
				t.Fatalf("read %+v", r)
			}
		})
	}
}

// TestRankPlacement: on CUDA without a GPU index each rank takes the GPU of
// its local rank; a named index and the CPU stay; threads are shared out
// among the local ranks unless given.
func TestRankPlacement(t *testing.T) {
	r := RankEnv{Rank: 3, World: 4, LocalRank: 1, LocalWorld: 2}
	tests := []struct {
		name       string
		dev        model.Device
		indexGiven bool
		want       model.Device
	}{
		{"cuda", model.Device{CUDA: true}, false, model.Device{CUDA: true, Index: 1}},
		{"cuda:0 named", model.Device{CUDA: true}, true, model.Device{CUDA: true}},
		{"cpu", model.Device{}, false, model.Device{}},
	}
	for _, tc := range tests {
		if got := r.Device(tc.dev, tc.indexGiven); got != tc.want {
			t.Errorf("%s: device %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := r.Threads(3); got != 3 {
		t.Errorf("threads given: %d, want 3", got)
	}
	if got, want := r.Threads(0), max(1, runtime.NumCPU()/2); got != want {
		t.Errorf("threads shared: %d, want %d", got, want)
	}
}
