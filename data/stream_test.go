package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type textRow struct {
	Text string `parquet:"text"`
	ID   int64  `parquet:"id"`
}

// writeGoShard writes docs as a parquet file with groupRows rows per row
// group (the stream tests need no independent writer: the parity tests do
// that).
func writeGoShard(t testing.TB, path string, docs []string, groupRows int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[textRow](f, parquet.MaxRowsPerRowGroup(groupRows), parquet.Compression(&parquet.Zstd))
	for i, d := range docs {
		if _, err := w.Write([]textRow{{Text: d, ID: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// streamCorpus writes shards of varied row-group sizes (one of them empty)
// into dir and returns the documents in stream order.
func streamCorpus(t testing.TB, dir string, shards int, docsPer int) []string {
	t.Helper()
	var all []string
	for s := 0; s < shards; s++ {
		var docs []string
		n := docsPer + s*3
		if s == 2 {
			n = 0
		}
		for j := 0; j < n; j++ {
			d := fmt.Sprintf("shard %d doc %d %s", s, j, "ünï")
			if j%9 == 4 {
				d = ""
			}
			docs = append(docs, d)
		}
		writeGoShard(t, filepath.Join(dir, fmt.Sprintf("part-%03d.parquet", s)), docs, int64(2+s))
		all = append(all, docs...)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a shard"), 0o644); err != nil {
		t.Fatal(err)
	}
	return all
}

// readN reads up to n documents (n < 0: all) and returns them.
func readN(t testing.TB, s *Stream, n int) []Doc {
	t.Helper()
	var out []Doc
	for n < 0 || len(out) < n {
		d, err := s.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 && d.Pos.Compare(out[len(out)-1].Pos) <= 0 {
			t.Fatalf("position %s after %s", d.Pos, out[len(out)-1].Pos)
		}
		out = append(out, d)
	}
	return out
}

func texts(docs []Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

// roundTrip passes a checkpoint through JSON, as a trainer saves it.
func roundTrip(t testing.TB, c Checkpoint) *Checkpoint {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out Checkpoint
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func openLocal(t testing.TB, dir string, opts StreamOptions) *Stream {
	t.Helper()
	s, err := OpenStream(context.Background(), &LocalShards{Paths: []string{dir}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func equalStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d documents, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: document %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

func TestStreamLocalResumeAtEveryDocument(t *testing.T) {
	dir := t.TempDir()
	want := streamCorpus(t, dir, 5, 7)
	all := readN(t, openLocal(t, dir, StreamOptions{}), -1)
	equalStrings(t, "full read", texts(all), want)
	for k := 0; k <= len(want); k++ {
		first := openLocal(t, dir, StreamOptions{})
		head := readN(t, first, k)
		cp := roundTrip(t, first.Checkpoint())
		rest := readN(t, openLocal(t, dir, StreamOptions{Resume: cp}), -1)
		equalStrings(t, fmt.Sprintf("resume after %d", k), append(texts(head), texts(rest)...), want)
		if len(cp.Generations) != 0 {
			t.Fatalf("after %d: one reader's checkpoint kept %d generations", k, len(cp.Generations))
		}
	}
}

// runRanks reads with world ranks from resume; rank r stops after stop(r)
// documents (<0: all). It checks that each rank gets documents in order and
// returns them all, and the merged checkpoint.
func runRanks(t *testing.T, dir string, world int, unit SplitUnit, resume *Checkpoint, stop func(r int) int) ([]Doc, Checkpoint) {
	t.Helper()
	var got []Doc
	var parts []Checkpoint
	for r := 0; r < world; r++ {
		s := openLocal(t, dir, StreamOptions{Ranks: RankSplit{Rank: r, World: world, Unit: unit}, Resume: resume})
		docs := readN(t, s, stop(r))
		for _, d := range docs {
			if !(RankSplit{Rank: r, World: world, Unit: unit}).Owns(d.Pos.Shard, d.Pos.RowGroup) {
				t.Fatalf("rank %d of %d got %s it does not own", r, world, d.Pos)
			}
		}
		got = append(got, docs...)
		parts = append(parts, *roundTrip(t, s.Checkpoint()))
	}
	cp, err := MergeCheckpoints(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return got, cp
}

// checkOnce checks that the documents are exactly the corpus, each once.
func checkOnce(t *testing.T, got []Doc, want []string, all []Doc) {
	t.Helper()
	seen := map[Position]bool{}
	for _, d := range got {
		d.Pos.Path = ""
		if seen[d.Pos] {
			t.Fatalf("document %s handed out twice", d.Pos)
		}
		seen[d.Pos] = true
	}
	for i, d := range all {
		d.Pos.Path = ""
		if !seen[d.Pos] {
			t.Fatalf("document %d at %s (%q) never handed out", i, d.Pos, want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d documents handed out, want %d", len(got), len(want))
	}
}

func TestStreamSplitAndResumeWithOtherWorld(t *testing.T) {
	dir := t.TempDir()
	want := streamCorpus(t, dir, 6, 9)
	all := readN(t, openLocal(t, dir, StreamOptions{}), -1)
	cases := []struct {
		w1, w2, w3 int
		u1, u2     SplitUnit
	}{
		{3, 2, 1, SplitRowGroups, SplitRowGroups},
		{2, 5, 3, SplitRowGroups, SplitShards},
		{4, 1, 2, SplitShards, SplitRowGroups},
		{1, 3, 4, SplitShards, SplitShards},
		{7, 7, 2, SplitRowGroups, SplitRowGroups},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d%s-%d%s-%d", tc.w1, tc.u1, tc.w2, tc.u2, tc.w3), func(t *testing.T) {
			full, _ := runRanks(t, dir, tc.w1, tc.u1, nil, func(int) int { return -1 })
			checkOnce(t, full, want, all)
			a, cp1 := runRanks(t, dir, tc.w1, tc.u1, nil, func(r int) int { return (r*5 + 3) % 11 })
			b, cp2 := runRanks(t, dir, tc.w2, tc.u2, &cp1, func(r int) int { return (r*3 + 2) % 7 })
			c, cp3 := runRanks(t, dir, tc.w3, tc.u1, &cp2, func(int) int { return -1 })
			checkOnce(t, append(append(a, b...), c...), want, all)
			if end := (Position{Shard: 6}); cp3.Start.Compare(end) != 0 || len(cp3.Generations) != 0 {
				t.Fatalf("final checkpoint %+v, want start at the end and no generations", cp3)
			}
		})
	}
}

func TestStreamCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	streamCorpus(t, dir, 3, 5)
	s := openLocal(t, dir, StreamOptions{Ranks: RankSplit{Rank: 1, World: 2}})
	readN(t, s, 2)
	part := s.Checkpoint()
	good := openLocal(t, dir, StreamOptions{})
	readN(t, good, 4)
	cp := good.Checkpoint()
	otherCommit, badPath, outside := cp, cp, cp
	otherCommit.Commit = "0123456789012345678901234567890123456789"
	badPath.Start.Path = "elsewhere.parquet"
	outside.Start.Shard = 9
	for name, c := range map[string]Checkpoint{"unmerged rank": part, "other commit": otherCommit, "other shard": badPath, "outside": outside} {
		_, err := OpenStream(context.Background(), &LocalShards{Paths: []string{dir}}, StreamOptions{Resume: &c})
		if !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: error %v, want ErrCheckpoint", name, err)
		}
	}
	if _, err := MergeCheckpoints(part); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("merge of one rank of two: error %v, want ErrCheckpoint", err)
	}
	for _, rs := range []RankSplit{{Rank: 2, World: 2}, {Rank: -1, World: 3}, {Rank: 0, World: 2, Unit: "page"}} {
		if _, err := OpenStream(context.Background(), &LocalShards{Paths: []string{dir}}, StreamOptions{Ranks: rs}); err == nil {
			t.Errorf("split %+v accepted", rs)
		}
	}
}

func TestStreamBadShardNamesIt(t *testing.T) {
	dir := t.TempDir()
	streamCorpus(t, dir, 2, 3)
	if err := os.WriteFile(filepath.Join(dir, "part-001.parquet"), []byte("garbage garbage garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, dir, StreamOptions{})
	var err error
	for err == nil {
		_, err = s.Next(context.Background())
	}
	if !errors.Is(err, ErrNotParquet) || !strings.Contains(err.Error(), "part-001.parquet") {
		t.Fatalf("error %v, want ErrNotParquet naming part-001.parquet", err)
	}
}

// TestRankSplitRule pins the documented dealing rule: row group g of shard s
// goes to rank (s+g) mod W, or shard s to rank s mod W.
func TestRankSplitRule(t *testing.T) {
	cases := []struct {
		split     RankSplit
		shard, rg int
		want      bool
	}{
		{RankSplit{}, 5, 7, true},
		{RankSplit{Rank: 0, World: 1}, 3, 2, true},
		{RankSplit{Rank: 1, World: 3}, 0, 1, true},
		{RankSplit{Rank: 1, World: 3}, 1, 0, true},
		{RankSplit{Rank: 1, World: 3}, 2, 2, true},
		{RankSplit{Rank: 1, World: 3}, 1, 1, false},
		{RankSplit{Rank: 2, World: 4, Unit: SplitShards}, 6, 3, true},
		{RankSplit{Rank: 2, World: 4, Unit: SplitShards}, 5, 1, false},
	}
	for _, tc := range cases {
		if got := tc.split.Owns(tc.shard, tc.rg); got != tc.want {
			t.Errorf("%+v owns shard %d row group %d: %v, want %v", tc.split, tc.shard, tc.rg, got, tc.want)
		}
	}
}

// TestStreamLocalCheckpointSurvivesMove resumes after the shard folder moved
// (shards are named relative to the folder given), and refuses two inputs
// whose shards would have the same names.
func TestStreamLocalCheckpointSurvivesMove(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "corpus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	want := streamCorpus(t, dir, 3, 6)
	s := openLocal(t, dir, StreamOptions{})
	head := readN(t, s, 7)
	if p := head[0].Pos.Path; p != "corpus/part-000.parquet" {
		t.Fatalf("shard named %q, want corpus/part-000.parquet", p)
	}
	cp := roundTrip(t, s.Checkpoint())
	s.Close()
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	rest := readN(t, openLocal(t, filepath.Join(root, "b", "corpus"), StreamOptions{Resume: cp}), -1)
	equalStrings(t, "resumed after a move", append(texts(head), texts(rest)...), want)

	other := filepath.Join(root, "c", "corpus")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	streamCorpus(t, other, 1, 2)
	_, err := OpenStream(context.Background(), &LocalShards{Paths: []string{filepath.Join(root, "b", "corpus"), other}}, StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "both named") {
		t.Fatalf("two folders named corpus: error %v", err)
	}
}
