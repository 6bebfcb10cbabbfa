package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubtest"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

type textShardRow struct {
	Text string `parquet:"text"`
	URL  string `parquet:"url"`
}

// writeShard writes docs as a zstd parquet file with rows rows per row group.
func writeShard(t *testing.T, path, column string, docs []string, rows int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if column == "text" {
		w := parquet.NewGenericWriter[textShardRow](&buf, parquet.MaxRowsPerRowGroup(rows), parquet.Compression(&parquet.Zstd))
		for i, d := range docs {
			if _, err := w.Write([]textShardRow{{Text: d, URL: fmt.Sprint("https://example.org/", i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		type other struct {
			Content string `parquet:"content"`
		}
		w := parquet.NewGenericWriter[other](&buf)
		for _, d := range docs {
			if _, err := w.Write([]other{{Content: d}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// streamHub publishes the training corpus as a dataset repo laid out like
// FineWeb-edu (data/NNN_00000.parquet, column text, several row groups per
// shard), plus a shard that is not parquet and one without a text column,
// on a directory hub served by `coldint hub serve`'s server. It returns the
// endpoint, the repo and a local copy of the data/ shards.
func streamHub(t *testing.T, corpus string) (endpoint string, repo hf.RepoID, local string) {
	t.Helper()
	ctx := context.Background()
	texts, err := data.ReadLocalTexts(ctx, []string{corpus})
	if err != nil {
		t.Fatal(err)
	}
	texts = texts[:min(len(texts), 1200)]
	local = filepath.Join(t.TempDir(), "local")
	var files []hubtest.File
	per := (len(texts) + 3) / 4
	for s := 0; s < 4; s++ {
		name := fmt.Sprintf("data/%03d_00000.parquet", s)
		b := writeShard(t, filepath.Join(local, filepath.FromSlash(name)), "text", texts[s*per:min((s+1)*per, len(texts))], int64(40+10*s))
		files = append(files, hubtest.File{Path: name, Data: b})
	}
	files = append(files,
		hubtest.File{Path: "README.md", Data: []byte("# corpus\n")},
		hubtest.File{Path: "broken/000.parquet", Data: []byte("this is not a parquet file, only text that ends in PAR1")},
		hubtest.File{Path: "other/000.parquet", Data: writeShard(t, filepath.Join(t.TempDir(), "o.parquet"), "content", texts[:5], 5)})
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo = hf.RepoID{Namespace: "tester", Name: "corpus-stream", Type: hf.DatasetRepo}
	if err := dh.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	if _, err := dh.Upload(ctx, repo, hubtest.UploadFiles(files), "shards", hf.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	return serveHub(t, dh), repo, local
}

// streamArgs are the arguments of a streamed training run.
func streamArgs(init, endpoint, repo, out string, steps, batch int, extra ...string) []string {
	return append([]string{"--log-level", "warn", "mine", "train", "--init", init, "--dataset", repo, "--data-files", "data/*.parquet",
		"--hub-endpoint", endpoint, "--out", out, "--steps", itoa(steps), "--seq-len", "64", "--batch", itoa(batch), "--accum", "1",
		"--lr", "5e-3", "--warmup", "2", "--eval-every", "0", "--checkpoint-every", "4", "--eval-docs", "10", "--eval-rows", "8",
		"--threads", "1", "--save-dtype", "f32", "--json"}, extra...)
}

// consumedTokens counts the tokens (EOS included) that the stream position
// ss says were trained on: every training document it counts as handed
// out, and the first tokens of its partial ones.
func consumedTokens(t *testing.T, local, tokDir string, ss *train.StreamState, evalDocs int) int {
	t.Helper()
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := data.OpenStream(context.Background(), &data.LocalShards{Paths: []string{filepath.Join(local, "data")}}, data.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	part := map[[3]int64]int{}
	for _, p := range ss.Partial {
		part[[3]int64{int64(p.Shard), int64(p.RowGroup), p.Row}] = p.Tokens
	}
	n := 0
	for i := 0; ; i++ {
		doc, err := s.Next(context.Background())
		if err != nil {
			break
		}
		if i < evalDocs {
			continue
		}
		if k, ok := part[[3]int64{int64(doc.Pos.Shard), int64(doc.Pos.RowGroup), doc.Pos.Row}]; ok {
			n += k
			continue
		}
		if ss.Checkpoint.Seen(doc.Pos) {
			ids, err := tok.Encode(doc.Text, false)
			if err != nil {
				t.Fatal(err)
			}
			n += len(ids) + 1
		}
	}
	return n
}

// readLog parses a JSON Lines log.
func readLog(t *testing.T, path string) []train.LogRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []train.LogRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r train.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestMineTrainStreamHub streams a dataset repo served by `coldint hub
// serve` into `mine train`: the --json summary and the JSON log agree with
// the checkpoint; a run interrupted after a checkpoint and resumed matches
// an uninterrupted one; two ranks resumed as one continue on exactly the
// tokens not trained on (the positions account for every token of every
// step); and a shard that is not parquet, a missing text column or a disk
// budget below a shard are errors that name them.
func TestMineTrainStreamHub(t *testing.T) {
	corpus := mineCorpus(t)
	init := tinyLlama(t)
	endpoint, repo, local := streamHub(t, corpus)
	ds := repo.Bare()
	const steps = 10

	full := filepath.Join(t.TempDir(), "full")
	stdout, _ := coldint(t, context.Background(), false, streamArgs(init, endpoint, ds, full, steps, 2)...)
	var sum struct {
		Model, Checkpoint, LogJSON string
		Steps                      int
		Tokens                     int64
		TokensPerS                 float64            `json:"tokens_per_s"`
		WallS                      float64            `json:"wall_s"`
		TrainLossEnd               float64            `json:"train_loss_end"`
		DataPosition               *train.StreamState `json:"data_position"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	ref := loadState(t, full)
	if sum.Steps != steps || sum.Tokens != ref.Tokens || sum.TokensPerS <= 0 || sum.WallS <= 0 || sum.DataPosition == nil ||
		sum.DataPosition.Checkpoint.Start != ref.Stream.Checkpoint.Start || sum.TrainLossEnd != ref.Curve[steps-1].Loss {
		t.Fatalf("--json summary %s\ndoes not match the checkpoint (step %d, %d tokens, stream %+v)", stdout, ref.Step, ref.Tokens, ref.Stream)
	}
	if _, err := os.Stat(filepath.Join(sum.Model, "model.safetensors")); err != nil {
		t.Fatalf("summary's model: %v", err)
	}
	recs := readLog(t, filepath.Join(full, "metrics.jsonl"))
	var stepRecs []train.LogRecord
	var logged int64
	for _, r := range recs {
		if r.Event == "step" {
			stepRecs = append(stepRecs, r)
			logged += int64(r.Tokens)
			if r.Position == "" || r.TokensPerS <= 0 || r.LR <= 0 || r.Steps != steps || r.TotalTokens != logged {
				t.Fatalf("log record %+v", r)
			}
		}
	}
	if len(stepRecs) != steps || logged != ref.Tokens || stepRecs[steps-1].ETAS != 0 || stepRecs[0].ETAS <= 0 {
		t.Fatalf("%d step records, %d tokens logged (checkpoint: %d)", len(stepRecs), logged, ref.Tokens)
	}
	rowTokens := func(st *train.State, world, batch int) int { return st.Step * world * batch * 64 }
	if got, want := consumedTokens(t, local, init, ref.Stream, 10), rowTokens(ref, 1, 2); got != want {
		t.Fatalf("the checkpoint's position accounts for %d tokens; %d steps trained on %d", got, ref.Step, want)
	}

	// Interrupted after its first checkpoint (as SIGINT does), then resumed.
	part := filepath.Join(t.TempDir(), "part")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(part, train.CheckpointDir, train.StateFile)); err == nil {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	coldint(t, ctx, true, streamArgs(init, endpoint, ds, part, steps, 2)...)
	cancel()
	mid := loadState(t, part)
	if mid.Step >= steps || mid.Stream == nil {
		t.Fatalf("the run was not interrupted (step %d)", mid.Step)
	}
	coldint(t, context.Background(), false, streamArgs(init, endpoint, ds, part, steps, 2, "--resume")...)
	sameCurve(t, fmt.Sprintf("interrupted at step %d and resumed, against uninterrupted", mid.Step), ref, loadState(t, part), 1e-6)

	// Two ranks, then one.
	bin := coldintBin(t)
	two := filepath.Join(t.TempDir(), "two")
	cmd := exec.Command(bin, streamArgs(init, endpoint, ds, two, 8, 2, "--nproc", "2")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--nproc 2: %v\n%s", err, tail(string(out), 3000))
	}
	st2 := loadState(t, two)
	if g := st2.Stream.Checkpoint.Generations; st2.World != 2 || len(g) != 1 || len(g[0].Next) != 2 || *g[0].Next[0] == *g[0].Next[1] {
		t.Fatalf("2-rank checkpoint: world %d, stream %+v", st2.World, st2.Stream)
	}
	if got, want := consumedTokens(t, local, init, st2.Stream, 10), rowTokens(st2, 2, 2); got != want {
		t.Fatalf("the 2-rank checkpoint's position accounts for %d tokens; 2 ranks trained on %d", got, want)
	}
	cmd = exec.Command(bin, streamArgs(init, endpoint, ds, two, 14, 4, "--nproc", "1", "--resume")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("resume with --nproc 1: %v\n%s", err, tail(string(out), 3000))
	}
	st1 := loadState(t, two)
	if got, want := consumedTokens(t, local, init, st1.Stream, 10), rowTokens(st2, 2, 2)+(st1.Step-st2.Step)*4*64; got != want || st1.Step != 14 {
		t.Fatalf("2 ranks for %d steps, then 1 rank to step %d: the position accounts for %d tokens, they trained on %d (stream %+v)", st2.Step, st1.Step, got, want, st1.Stream)
	}
	t.Logf("2 ranks to step %d, 1 rank to step %d: position %s, %d partial documents", st2.Step, st1.Step, st1.Stream.Checkpoint.Start, len(st1.Stream.Partial))

	t.Run("shuffled shards", func(t *testing.T) { streamShuffled(t, init, endpoint, ds) })

	// Bad input.
	bad := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"not parquet", []string{"--data-files", "broken/*.parquet"}, []string{`"broken/000.parquet"`, "not a valid parquet file"}},
		{"no text column", []string{"--data-files", "other/*.parquet"}, []string{`"other/000.parquet"`, "column not found", `"text"`, "content"}},
		{"column named", []string{"--text-column", "body"}, []string{`"data/000_00000.parquet"`, `"body"`, "column not found"}},
		{"disk budget", []string{"--disk-budget", "1KiB"}, []string{"data/000_00000.parquet", "disk budget"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			_, stderr := coldint(t, context.Background(), true, streamArgs(init, endpoint, ds, out, 2, 2, tc.extra...)...)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Fatalf("error lacks %q:\n%s", w, tail(stderr, 1500))
				}
			}
			if _, _, err := train.LoadState(out); err == nil {
				t.Fatal("a failed run wrote a checkpoint")
			}
			t.Logf("%s: %s", tc.name, lastLine(stderr))
		})
	}
}

// streamShuffled: --shuffle-shards starts in the first shard of the seeded
// order (not the first by name), and a resume must keep the setting.
func streamShuffled(t *testing.T, init, endpoint, ds string) {
	var shards []data.Shard
	for i := 0; i < 4; i++ {
		shards = append(shards, data.Shard{Path: fmt.Sprintf("data/%03d_00000.parquet", i)})
	}
	seed := uint64(1)
	for data.ShuffleShards(shards, seed)[0].Path == shards[0].Path {
		seed++
	}
	first := data.ShuffleShards(shards, seed)[0].Path
	out := filepath.Join(t.TempDir(), "shuffled")
	coldint(t, context.Background(), false, streamArgs(init, endpoint, ds, out, 4, 2, "--shuffle-shards", "--data-seed", fmt.Sprint(seed))...)
	st := loadState(t, out)
	if p := st.Stream.Checkpoint.Start.Path; p != first || st.Stream.Checkpoint.ShuffleSeed != seed {
		t.Fatalf("shuffled run (seed %d) stands at %q with seed %d, want in %q", seed, p, st.Stream.Checkpoint.ShuffleSeed, first)
	}
	_, stderr := coldint(t, context.Background(), true, streamArgs(init, endpoint, ds, out, 6, 2, "--resume", "--data-seed", fmt.Sprint(seed))...)
	if !strings.Contains(stderr, "shuffle seed") {
		t.Fatalf("resume without --shuffle-shards:\n%s", tail(stderr, 1500))
	}
	coldint(t, context.Background(), false, streamArgs(init, endpoint, ds, out, 6, 2, "--resume", "--shuffle-shards", "--data-seed", fmt.Sprint(seed))...)
	if st := loadState(t, out); st.Step != 6 {
		t.Fatalf("resumed shuffled run ended at step %d, want 6", st.Step)
	}
}
