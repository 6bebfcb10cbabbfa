package commands

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
)

// runMineArgs parses args (after "coldint mine") with the mine commands
// whose run is replaced by capture, as the app would (COLDINT_<FLAG>
// variables included), and returns what reached the Options.
func runMineArgs(t *testing.T, args ...string) (f *Factory, got any) {
	t.Helper()
	f = newFactory(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	capture := func(o any) error { got = o; return nil }
	mine := newMineCmd(f, func(_ context.Context, o *mineOptions) error { return capture(o) })
	mine.Subcommands = []*cli.Command{
		newMineTrainCmd(f, func(_ context.Context, o *mineTrainOptions) error { return capture(o) }),
		newMinePrecheckCmd(f, func(_ context.Context, o *minePrecheckOptions) error { return capture(o) }),
		newMinePublishCmd(f, func(_ context.Context, o *minePublishOptions) error { return capture(o) }),
		newMineCommitCmd(f, func(_ context.Context, o *mineCommitOptions) error { return capture(o) }),
	}
	applyEnvToCommand(mine, "")
	app := &cli.App{Name: "coldint", Commands: []*cli.Command{mine}, Writer: io.Discard, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {}}
	if err := app.Run(append([]string{"coldint", "mine"}, args...)); err != nil {
		t.Fatalf("mine %v: %v", args, err)
	}
	if got == nil {
		t.Fatalf("mine %v: no run was called", args)
	}
	return f, got
}

// TestMineOptions: every mine command fills its Options from its flags,
// aliases and defaults, and `mine` fills the three stages from one set.
func TestMineOptions(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, f *Factory, got any)
	}{
		{"mine", map[string]string{"COLDINT_BETA2": "0.9"}, []string{"--init", "I", "--data", "a", "--data", "b", "--out", "O", "--steps", "7", "--lr", "0.01",
			"--seed", "9", "--no-pack", "--competition", "c01", "--samples", "5", "--best", "B", "--repo", "me/x", "--upload-dtype", "f16",
			"--state", "S", "--commit-rounds", "3", "--min-win-rate", "0.7", "--device", "cpu", "--dtype", "f32", "--netuid", "5", "--json", "--hub-dir", "H"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*mineOptions)
				tr, pre, pub := o.Train, o.Precheck, o.Publish
				want := []any{"I", []string{"a", "b"}, "O", 7, 0.01, 0.9, uint64(9), true, "c01", eval.CompetitionsURL, 512, 50, 10 * time.Minute, true,
					5, "B", true, "me/x", "f16", "S", 3, 12 * time.Second, 0.7, "cpu", "f32", uint(5), "H"}
				have := []any{tr.Init, tr.Data.Value(), tr.Out, tr.Steps, tr.LR, tr.Beta2, tr.DataSeed, tr.NoPack, tr.Competition, tr.Competitions, tr.SeqLen, tr.EvalDocs, tr.DDPTimeout, tr.JSON,
					pre.Samples, pre.Best, pre.Dataset != "", pub.Repo, pub.UploadDType, pub.State, pub.Commit.Rounds, pub.Commit.ReadBackDelay, o.MinWinRate,
					f.Engine.Device, f.Engine.DType, f.Chain.Netuid, f.Hub.Dir}
				same(t, have, want)
			}},
		{"mine defaults", nil, []string{"--init", "I"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*mineOptions)
				same(t, []any{o.MinWinRate, o.Precheck.Samples, o.Train.LogEvery, o.Train.DataSeed, o.Publish.Commit.RateLimitDelay, f.Engine.Device, f.Chain.Network, f.Chain.Netuid, f.Wallet.Name},
					[]any{0.5, 200, 10, uint64(1), 60 * time.Second, "auto", "local", uint(29), "default"})
			}},
		{"mine train", nil, []string{"train", "--resume", "--out", "O", "--ddp-timeout", "1m", "--nproc", "2", "--threads", "3", "--save-dtype", "f16",
			"--grad-checkpointing", "--from-best", "--tokenizer", "T", "--eval-rows", "8", "--warmup", "4", "--clip", "0.5", "--wallet.name", "w"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*mineTrainOptions)
				same(t, []any{o.Resume, o.Out, o.DDPTimeout, o.Nproc, o.Threads, o.SaveDType, o.GradCheckpointing, o.FromBest, o.Tokenizer, o.EvalRows, o.Warmup, o.Clip, f.Wallet.Name},
					[]any{true, "O", time.Minute, 2, 3, "f16", true, true, "T", 8, 4, 0.5, "w"})
			}},
		{"mine precheck", nil, []string{"precheck", "--model", "M", "--competition", "c00", "--data", "d", "--out", "O", "--dtype", "bf16",
			"--precheck-seed", "4", "--competitions", "C.json", "--dataset", "D", "--threads", "2"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*minePrecheckOptions)
				same(t, []any{o.Model, o.Competition, o.Data.Value(), o.Out, f.Engine.DType, o.Seed, o.Competitions, o.Dataset, o.Threads, o.OwnDType, o.Samples},
					[]any{"M", "c00", []string{"d"}, "O", "bf16", uint64(4), "C.json", "D", 2, true, 200})
			}},
		{"mine streams", map[string]string{"COLDINT_TEXT_COLUMN": "body"}, []string{"--init", "I", "--dataset", "ds/web@main", "--data-files", "data/*.parquet",
			"--disk-budget", "1G", "--log-json", "L", "--precheck-dataset", "P", "--shuffle-shards"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*mineOptions)
				tr := o.Train
				same(t, []any{tr.Dataset, tr.DataFiles, tr.TextColumn, tr.DiskBudget, tr.LogJSON, tr.DataFilesSet, tr.DiskBudgetSet, o.Precheck.Dataset, tr.ShuffleShards},
					[]any{"ds/web@main", "data/*.parquet", "body", "1G", "L", true, true, "P", true})
				td, err := tr.trainData()
				if err != nil || td.Stream.ShuffleSeed != 1 || td.Stream.Dataset != "ds/web@main" || td.Stream.DiskBudget != 1e9 {
					t.Errorf("stream data %+v, %v: want shuffle seed 1 (--data-seed default), a 1 GB budget", td.Stream, err)
				}
			}},
		{"mine precheck --precheck-dataset wins", nil, []string{"precheck", "--model", "M", "--competition", "c00", "--dataset", "old", "--precheck-dataset", "new"},
			func(t *testing.T, f *Factory, got any) {
				same(t, []any{got.(*minePrecheckOptions).Dataset}, []any{"new"})
			}},
		{"mine publish", nil, []string{"publish", "--model", "M", "--repo", "r/n", "--competition", "c00", "--keep-private", "--read-back-delay", "2s", "--publish-state", "P", "--hub-endpoint", "http://h"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*minePublishOptions)
				same(t, []any{o.Model, o.Repo, o.Competition, o.KeepPrivate, o.Commit.ReadBackDelay, o.Commit.Rounds, o.State, f.Hub.Endpoint},
					[]any{"M", "r/n", "c00", true, 2 * time.Second, 10, "P", "http://h"})
			}},
		{"mine commit", map[string]string{"COLDINT_COMMIT_ROUNDS": "4"}, []string{"commit", "--model-id", "X", "--rate-limit-delay", "5s", "--wallet.hotkey", "h", "--network", "file:n"},
			func(t *testing.T, f *Factory, got any) {
				o := got.(*mineCommitOptions)
				same(t, []any{o.ModelID, o.Commit.RateLimitDelay, o.Commit.Rounds, f.Wallet.Hotkey, f.Chain.Network},
					[]any{"X", 5 * time.Second, 4, "h", "file:n"})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f, got := runMineArgs(t, tc.args...)
			tc.check(t, f, got)
		})
	}
}

func same(t *testing.T, have, want []any) {
	t.Helper()
	for i := range want {
		if !reflect.DeepEqual(have[i], want[i]) {
			t.Errorf("value %d: %#v, want %#v", i, have[i], want[i])
		}
	}
}

// TestMineUsageErrors: flags that cannot work together or cannot be read
// are usage errors naming them, before anything is loaded or dialled.
func TestMineUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"mine", "train", "--init", dir, "--data", dir}, "--out is required"},
		{"no data", []string{"mine", "train", "--init", dir, "--out", dir}, "--data or --dataset is required"},
		{"no start", []string{"mine", "train", "--data", dir, "--out", dir}, "give --init DIR, --from-best"},
		{"init and best", []string{"mine", "train", "--init", dir, "--from-best", "--data", dir, "--out", dir}, "not both"},
		{"best without competition", []string{"mine", "train", "--from-best", "--data", dir, "--out", dir}, "--from-best needs --competition"},
		{"negative threads", []string{"mine", "train", "--init", dir, "--data", dir, "--out", dir, "--threads", "-1"}, "--threads -1"},
		{"negative nproc", []string{"mine", "train", "--nproc", "-1", "--out", dir}, "want at least 1"},
		{"bad steps", []string{"mine", "train", "--init", dir, "--data", dir, "--out", dir, "--steps", "0"}, "steps"},
		{"bad upload dtype", []string{"mine", "publish", "--model", dir, "--repo", "me/x", "--competition", "c00", "--upload-dtype", "f8"}, "f8"},
		{"bad repo", []string{"mine", "publish", "--model", dir, "--repo", "nope", "--competition", "c00"}, "nope"},
		{"bad netuid", []string{"mine", "publish", "--model", dir, "--repo", "me/x", "--competition", "c00", "--netuid", "70000"}, "--netuid 70000"},
		{"bad model id", []string{"mine", "commit", "--model-id", "a:b"}, "a:b"},
		{"few samples", []string{"mine", "precheck", "--model", dir, "--competition", "c00", "--samples", "0"}, "--samples 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, ExitUsage, tc.want)
			}
		})
	}
}
