package data

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// shardOrder is the order in which docs came from their shards (each shard
// named once, by file name).
func shardOrder(docs []Doc) []string {
	var out []string
	for _, d := range docs {
		if n := filepath.Base(d.Pos.Path); len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

// TestStreamShuffleShards: a shuffle seed reads the shards in one seeded
// order (not by name, the same on every open), resumes in it at every
// document, refuses a checkpoint of another order, and splits over ranks
// and other world sizes without losing or repeating a document.
func TestStreamShuffleShards(t *testing.T) {
	dir := t.TempDir()
	streamCorpus(t, dir, 6, 5)
	byName := readN(t, openLocal(t, dir, StreamOptions{}), -1)
	const seed = 7
	full := readN(t, openLocal(t, dir, StreamOptions{ShuffleSeed: seed}), -1)
	if slices.Equal(shardOrder(full), shardOrder(byName)) {
		t.Fatalf("seed %d reads the shards by name: %v", seed, shardOrder(full))
	}
	if again := readN(t, openLocal(t, dir, StreamOptions{ShuffleSeed: seed}), -1); !slices.Equal(texts(again), texts(full)) {
		t.Fatal("two opens with one seed read different orders")
	}
	if other := readN(t, openLocal(t, dir, StreamOptions{ShuffleSeed: seed + 1}), -1); slices.Equal(shardOrder(other), shardOrder(full)) {
		t.Fatalf("seeds %d and %d give one order %v", seed, seed+1, shardOrder(full))
	}
	for k := 0; k <= len(full); k++ {
		first := openLocal(t, dir, StreamOptions{ShuffleSeed: seed})
		head := readN(t, first, k)
		cp := roundTrip(t, first.Checkpoint())
		rest := readN(t, openLocal(t, dir, StreamOptions{ShuffleSeed: seed, Resume: cp}), -1)
		equalStrings(t, fmt.Sprintf("resume after %d", k), append(texts(head), texts(rest)...), texts(full))
	}
	first := openLocal(t, dir, StreamOptions{ShuffleSeed: seed})
	readN(t, first, 3)
	cp := first.Checkpoint()
	for _, s := range []uint64{0, seed + 1} {
		if _, err := OpenStream(t.Context(), &LocalShards{Paths: []string{dir}}, StreamOptions{ShuffleSeed: s, Resume: &cp}); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("resume with seed %d of a seed-%d checkpoint: %v, want ErrCheckpoint", s, seed, err)
		}
	}
	var got []Doc
	var parts []Checkpoint
	for r := 0; r < 3; r++ {
		s := openLocal(t, dir, StreamOptions{ShuffleSeed: seed, Ranks: RankSplit{Rank: r, World: 3, Unit: SplitShards}})
		got = append(got, readN(t, s, 2+r)...)
		parts = append(parts, *roundTrip(t, s.Checkpoint()))
	}
	merged, err := MergeCheckpoints(parts...)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, readN(t, openLocal(t, dir, StreamOptions{ShuffleSeed: seed, Resume: &merged}), -1)...)
	checkOnce(t, got, texts(full), full)
}
