package data

import (
	"errors"
	"fmt"
	"slices"
)

// Position names one document of a parquet stream: the row Row of row group
// RowGroup of shard number Shard (its index in the sorted shard list, Path
// its name there). Positions order the stream: by shard, then row group,
// then row. A position may point one past the last row of a row group (the
// same place as the next row group's row 0); Shard equal to the number of
// shards is the end of the stream.
type Position struct {
	Shard    int    `json:"shard"`
	Path     string `json:"path,omitempty"`
	RowGroup int    `json:"row_group"`
	Row      int64  `json:"row"`
}

// String formats the position as shard:path/row-group:row.
func (p Position) String() string {
	return fmt.Sprintf("%d:%s/%d:%d", p.Shard, p.Path, p.RowGroup, p.Row)
}

// Compare orders positions: -1 when p comes before q, 0 when equal, +1 after.
// Paths are not compared.
func (p Position) Compare(q Position) int {
	switch {
	case p.Shard != q.Shard:
		return cmpInt(p.Shard, q.Shard)
	case p.RowGroup != q.RowGroup:
		return cmpInt(p.RowGroup, q.RowGroup)
	case p.Row < q.Row:
		return -1
	case p.Row > q.Row:
		return 1
	}
	return 0
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// after returns the position just after p in its row group.
func (p Position) after() Position { p.Row++; return p }

// SplitUnit is the block of documents that [RankSplit] hands to one rank.
type SplitUnit string

// RankSplit units.
const (
	// SplitRowGroups (the default) deals row groups: row group g of shard s
	// belongs to rank (s+g) mod World. Every rank reads every shard's footer,
	// so with downloaded shards every rank downloads every shard.
	SplitRowGroups SplitUnit = "row-group"
	// SplitShards deals whole shards: shard s belongs to rank s mod World, and
	// a rank downloads only its own shards (best for datasets with many more
	// shards than ranks, such as FineWeb).
	SplitShards SplitUnit = "shard"
)

// RankSplit cuts a stream into World disjoint parts, one per Rank (0-based).
// The zero value is one reader that gets every document.
type RankSplit struct {
	Rank  int       `json:"rank"`
	World int       `json:"world"`
	Unit  SplitUnit `json:"unit,omitempty"`
}

func (s RankSplit) normal() RankSplit {
	if s.World <= 0 {
		s.World = 1
	}
	if s.Unit == "" {
		s.Unit = SplitRowGroups
	}
	return s
}

// Validate checks the rank, world size and unit.
func (s RankSplit) Validate() error {
	n := s.normal()
	if n.Rank < 0 || n.Rank >= n.World {
		return fmt.Errorf("check split: rank %d is not in [0, %d)", s.Rank, n.World)
	}
	if n.Unit != SplitRowGroups && n.Unit != SplitShards {
		return fmt.Errorf("check split: unit %q must be %q or %q", s.Unit, SplitRowGroups, SplitShards)
	}
	return nil
}

// owner returns the rank that reads row group g of shard s.
func owner(world int, unit SplitUnit, s, g int) int {
	if world <= 1 {
		return 0
	}
	if unit == SplitShards {
		return s % world
	}
	return (s + g) % world
}

// Owns reports whether this rank reads row group g of shard s.
func (s RankSplit) Owns(shard, g int) bool {
	n := s.normal()
	return owner(n.World, n.Unit, shard, g) == n.Rank
}

// OwnsShard reports whether any row group of shard s can belong to this rank
// (always true when row groups are dealt).
func (s RankSplit) OwnsShard(shard int) bool {
	n := s.normal()
	return n.Unit != SplitShards || owner(n.World, n.Unit, shard, 0) == n.Rank
}

// Generation is the progress of one run of World ranks: Next[r] is the
// position where rank r would look next; every document of rank r's blocks
// before it was handed out.
type Generation struct {
	World int         `json:"world"`
	Unit  SplitUnit   `json:"unit"`
	Next  []*Position `json:"next"`
}

// Checkpoint is where a stream, or a set of ranks reading it, stopped. Every
// document before Start was handed out, and so was every document d after
// it for which some generation has d < Next[owner(d)]. A reader resumed
// from a checkpoint, with any split, yields exactly the documents not handed
// out, in order, so a job can change its number of ranks between runs
// without losing or repeating a document.
//
// A rank's own [Stream.Checkpoint] knows only its own Next; [MergeCheckpoints]
// joins those of all ranks into one that can be resumed from.
type Checkpoint struct {
	// Commit is the dataset commit the positions refer to ("" for local files).
	Commit string `json:"commit,omitempty"`
	// ShuffleSeed is the seed of the shard order (0: by name).
	ShuffleSeed uint64       `json:"shuffle_seed,omitempty"`
	Start       Position     `json:"start"`
	Generations []Generation `json:"generations,omitempty"`
}

// ErrCheckpoint marks a checkpoint that cannot be used.
var ErrCheckpoint = errors.New("unusable checkpoint")

// complete checks that every generation names every rank.
func (c *Checkpoint) complete() error {
	for i, g := range c.Generations {
		if g.World < 1 || len(g.Next) != g.World {
			return fmt.Errorf("%w: generation %d has %d positions for %d ranks", ErrCheckpoint, i, len(g.Next), g.World)
		}
		if g.Unit != SplitRowGroups && g.Unit != SplitShards {
			return fmt.Errorf("%w: generation %d has split unit %q", ErrCheckpoint, i, g.Unit)
		}
		for r, p := range g.Next {
			if p == nil {
				return fmt.Errorf("%w: generation %d lacks rank %d (merge the checkpoints of all ranks)", ErrCheckpoint, i, r)
			}
		}
	}
	return nil
}

// Seen reports whether the document at p was handed out before c.
func (c *Checkpoint) Seen(p Position) bool {
	if p.Compare(c.Start) < 0 {
		return true
	}
	for _, g := range c.Generations {
		n := g.Next[owner(g.World, g.Unit, p.Shard, p.RowGroup)]
		if n != nil && p.Compare(*n) < 0 {
			return true
		}
	}
	return false
}

// compact moves Start up to the smallest position of the latest complete
// generation and drops generations that say nothing past Start.
func (c *Checkpoint) compact() {
	for _, g := range c.Generations {
		lo := minNext(g)
		if lo != nil && lo.Compare(c.Start) > 0 {
			c.Start = *lo
		}
	}
	c.Generations = slices.DeleteFunc(c.Generations, func(g Generation) bool {
		for _, p := range g.Next {
			if p == nil || p.Compare(c.Start) > 0 {
				return false
			}
		}
		return true
	})
}

func minNext(g Generation) *Position {
	var lo *Position
	for _, p := range g.Next {
		if p == nil {
			return nil
		}
		if lo == nil || p.Compare(*lo) < 0 {
			lo = p
		}
	}
	return lo
}

// MergeCheckpoints joins the checkpoints of the ranks of one run (each from
// [Stream.Checkpoint]) into one checkpoint that any later run can resume
// from. The parts must come from streams opened with the same resume
// checkpoint and world size.
func MergeCheckpoints(parts ...Checkpoint) (Checkpoint, error) {
	if len(parts) == 0 {
		return Checkpoint{}, fmt.Errorf("merge checkpoints: %w: none given", ErrCheckpoint)
	}
	out := parts[0]
	out.Generations = slices.Clone(out.Generations)
	if len(out.Generations) == 0 {
		return out, nil
	}
	last := len(out.Generations) - 1
	out.Generations[last].Next = slices.Clone(out.Generations[last].Next)
	for i, p := range parts[1:] {
		if p.Commit != out.Commit || p.ShuffleSeed != out.ShuffleSeed || len(p.Generations) != len(out.Generations) || p.Start != parts[0].Start {
			return Checkpoint{}, fmt.Errorf("merge checkpoints: %w: part %d is from another run", ErrCheckpoint, i+1)
		}
		g := p.Generations[last]
		if g.World != out.Generations[last].World || g.Unit != out.Generations[last].Unit || len(g.Next) != g.World {
			return Checkpoint{}, fmt.Errorf("merge checkpoints: %w: part %d has another split", ErrCheckpoint, i+1)
		}
		for r, n := range g.Next {
			if n == nil {
				continue
			}
			if have := out.Generations[last].Next[r]; have != nil && *have != *n {
				return Checkpoint{}, fmt.Errorf("merge checkpoints: %w: rank %d given twice (%s and %s)", ErrCheckpoint, r, have, n)
			}
			out.Generations[last].Next[r] = n
		}
	}
	if err := out.complete(); err != nil {
		return Checkpoint{}, fmt.Errorf("merge checkpoints: %w", err)
	}
	out.compact()
	return out, nil
}
