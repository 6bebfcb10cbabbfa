package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// StreamOptions tune [OpenStream].
type StreamOptions struct {
	// Column is the string column read as text (DefaultTextColumn when empty).
	Column string
	// TempDir is where downloaded shards are kept while they are read; empty
	// means a new folder under os.TempDir. Only folders the stream makes in it
	// are written and deleted.
	TempDir string
	// DiskBudget caps the bytes of downloaded shards on disk at once: a shard
	// is deleted before the next one that would not fit is fetched, and the
	// next shard is fetched in the background while one is read only when
	// both fit. A shard larger than the budget is an error. 0 means no cap
	// (still one shard read and one fetched ahead at a time).
	DiskBudget int64
	// Ranks makes this stream read only its rank's part.
	Ranks RankSplit
	// Resume continues after a checkpoint (from [Stream.Checkpoint] or
	// [MergeCheckpoints]); documents handed out before it are skipped.
	Resume *Checkpoint
	// ShuffleSeed, when not 0, reads the shards in an order drawn from it
	// (the same for every rank and every resume) instead of by name; rows
	// within a shard keep their order.
	ShuffleSeed uint64

	// onShard, set by tests, is called after a shard is opened and the one
	// before it deleted.
	onShard func(index int)
}

// ShardOverhead is what the disk budget counts for a download beyond the
// shard's bytes (the hub client's bookkeeping files).
const ShardOverhead = 64 << 10

// Doc is one document of a stream and where it is.
type Doc struct {
	Text string
	// Null marks a null cell (Text is then empty).
	Null bool
	Pos  Position
}

// Stream yields the documents of a dataset's parquet shards in order (shard
// by sorted name or in a seeded shuffled order, row group, row), fetching shard by shard within a disk
// budget. It is not safe for concurrent use.
type Stream struct {
	store  ShardStore
	opts   StreamOptions
	commit string
	shards []Shard
	resume Checkpoint
	cursor Position // where this rank looks next
	tmp    string
	ownTmp bool

	shard  int // index of the open shard, -1 when none
	file   *ParquetFile
	closer io.Closer
	dir    string // download folder of the open shard
	group  int
	rg     *RowGroupReader
	ahead  *prefetch
	seq    int
	// prefetched counts shards that were fetched in the background (tests).
	prefetched int
}

// prefetch is a shard being fetched in the background.
type prefetch struct {
	index  int
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
	path   string
	err    error
}

// OpenStream lists the shards of store and prepares to read them. Nothing is
// downloaded before the first [Stream.Next].
func OpenStream(ctx context.Context, store ShardStore, opts StreamOptions) (*Stream, error) {
	opts.Ranks = opts.Ranks.normal()
	if err := opts.Ranks.Validate(); err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	if opts.DiskBudget < 0 {
		return nil, fmt.Errorf("open stream: disk budget %d is negative", opts.DiskBudget)
	}
	commit, shards, err := store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	if opts.ShuffleSeed != 0 {
		shards = ShuffleShards(shards, opts.ShuffleSeed)
	}
	s := &Stream{store: store, opts: opts, commit: commit, shards: shards, shard: -1}
	if opts.Resume != nil {
		if err := s.checkResume(*opts.Resume); err != nil {
			return nil, fmt.Errorf("open stream: %w", err)
		}
		s.resume = *opts.Resume
		s.resume.Generations = append([]Generation(nil), opts.Resume.Generations...)
	}
	s.resume.Commit, s.resume.ShuffleSeed = commit, opts.ShuffleSeed
	if st := &s.resume.Start; st.Shard < len(shards) {
		st.Path = shards[st.Shard].Path
	}
	s.cursor = s.resume.Start
	if err := s.checkBudget(); err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	return s, nil
}

// checkResume refuses a checkpoint of another commit, with other shard
// names, or with missing ranks.
func (s *Stream) checkResume(c Checkpoint) error {
	if c.Commit != s.commit {
		return fmt.Errorf("%w: it is for commit %q, the dataset is at %q (resume with that revision)", ErrCheckpoint, c.Commit, s.commit)
	}
	if c.ShuffleSeed != s.opts.ShuffleSeed {
		return fmt.Errorf("%w: it read the shards in the order of shuffle seed %d, this stream uses %d (resume with the same shard order)", ErrCheckpoint, c.ShuffleSeed, s.opts.ShuffleSeed)
	}
	if err := c.complete(); err != nil {
		return err
	}
	check := func(p Position) error {
		if p.Shard < 0 || p.RowGroup < 0 || p.Row < 0 || p.Shard > len(s.shards) {
			return fmt.Errorf("%w: position %s is outside the %d shards", ErrCheckpoint, p, len(s.shards))
		}
		if p.Shard < len(s.shards) && p.Path != s.shards[p.Shard].Path && p != (Position{}) {
			return fmt.Errorf("%w: shard %d is %q in the checkpoint and %q in the dataset", ErrCheckpoint, p.Shard, p.Path, s.shards[p.Shard].Path)
		}
		return nil
	}
	if err := check(c.Start); err != nil {
		return err
	}
	for _, g := range c.Generations {
		for _, p := range g.Next {
			if err := check(*p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Stream) checkBudget() error {
	if s.opts.DiskBudget == 0 || !s.store.Downloads() {
		return nil
	}
	for i, sh := range s.shards {
		if i >= s.cursor.Shard && s.opts.Ranks.OwnsShard(i) && sh.Size+ShardOverhead > s.opts.DiskBudget {
			return fmt.Errorf("shard %q is %d bytes, more than the disk budget of %d bytes (less %d for bookkeeping)", sh.Path, sh.Size, s.opts.DiskBudget, ShardOverhead)
		}
	}
	return nil
}

// Commit returns the resolved dataset commit ("" for local files).
func (s *Stream) Commit() string { return s.commit }

// Shards returns the shards in stream order.
func (s *Stream) Shards() []Shard { return append([]Shard(nil), s.shards...) }

// Checkpoint returns where this stream stands: resuming from it continues
// with the first document after the last one [Stream.Next] returned. With a
// split of more than one rank it names only this rank; join those of all
// ranks with [MergeCheckpoints].
func (s *Stream) Checkpoint() Checkpoint {
	c := s.resume
	c.Generations = append([]Generation(nil), s.resume.Generations...)
	g := Generation{World: s.opts.Ranks.World, Unit: s.opts.Ranks.Unit, Next: make([]*Position, s.opts.Ranks.World)}
	cur := s.cursor
	g.Next[s.opts.Ranks.Rank] = &cur
	c.Generations = append(c.Generations, g)
	if s.opts.Ranks.World == 1 {
		c.compact()
	}
	return c
}

// CheckpointBefore is [Stream.Checkpoint] as if the document at p, one that
// [Stream.Next] returned, and those after it had not been handed out:
// resuming from it yields that document again. A trainer that used only
// part of a document's tokens records this and how many it used.
func (s *Stream) CheckpointBefore(p Position) Checkpoint {
	cur := s.cursor
	if p.Compare(cur) < 0 {
		s.cursor = p
	}
	c := s.Checkpoint()
	s.cursor = cur
	return c
}

// Next returns the next document of this rank, or io.EOF after the last.
func (s *Stream) Next(ctx context.Context) (Doc, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Doc{}, err
		}
		if s.rg != nil {
			r, err := s.rg.Next()
			if err == nil {
				pos := Position{Shard: s.shard, Path: s.shards[s.shard].Path, RowGroup: s.group, Row: r.Row}
				if s.resume.Seen(pos) {
					continue
				}
				s.cursor = pos.after()
				return Doc{Text: r.Text, Null: r.Null, Pos: pos}, nil
			}
			s.rg.Close()
			s.rg = nil
			if err != io.EOF {
				return Doc{}, err
			}
		}
		more, err := s.advance(ctx)
		if err != nil {
			return Doc{}, err
		}
		if !more {
			s.cursor = Position{Shard: len(s.shards)}
			return Doc{}, io.EOF
		}
	}
}

// advance opens the next row group of this rank, opening shards as needed.
func (s *Stream) advance(ctx context.Context) (bool, error) {
	for {
		if s.file == nil || s.group+1 >= s.file.NumRowGroups() {
			ok, err := s.nextShard(ctx)
			if err != nil || !ok {
				return false, err
			}
		} else {
			s.group++
		}
		if s.group >= s.file.NumRowGroups() || !s.opts.Ranks.Owns(s.shard, s.group) {
			continue
		}
		from := int64(0)
		if st := s.resume.Start; s.shard == st.Shard && s.group == st.RowGroup {
			from = min(st.Row, s.file.RowGroupRows(s.group))
		}
		rg, err := s.file.OpenRowGroup(s.group, from)
		if err != nil {
			return false, err
		}
		s.rg = rg
		return true, nil
	}
}

// nextShard closes the open shard and opens the next one this rank reads,
// starting with the first that holds unseen documents.
func (s *Stream) nextShard(ctx context.Context) (bool, error) {
	next := s.shard + 1
	if s.shard < 0 {
		next = s.resume.Start.Shard
	}
	s.closeShard()
	for ; next < len(s.shards) && !s.opts.Ranks.OwnsShard(next); next++ {
	}
	if next >= len(s.shards) {
		return false, nil
	}
	path, dir, err := s.fetch(ctx, next)
	if err != nil {
		return false, err
	}
	pf, closer, err := OpenParquetFile(path, s.opts.Column)
	if err != nil {
		os.RemoveAll(dir)
		return false, fmt.Errorf("stream shard %d %q: %w", next, s.shards[next].Path, err)
	}
	s.shard, s.file, s.closer, s.dir, s.group = next, pf, closer, dir, 0
	if st := s.resume.Start; st.Shard == next {
		s.group = st.RowGroup
	}
	s.startPrefetch(ctx)
	if s.opts.onShard != nil {
		s.opts.onShard(next)
	}
	return true, nil
}

// fetch returns shard i, taking it from the background fetch when that is it.
func (s *Stream) fetch(ctx context.Context, i int) (string, string, error) {
	if p := s.ahead; p != nil {
		s.ahead = nil
		if p.index == i {
			<-p.done
			if p.err == nil {
				s.prefetched++
				return p.path, p.dir, nil
			}
			os.RemoveAll(p.dir)
			if ctx.Err() != nil {
				return "", "", ctx.Err()
			}
		} else {
			p.stop()
		}
	}
	dir, err := s.newDir()
	if err != nil {
		return "", "", err
	}
	path, err := s.store.Fetch(ctx, s.commit, s.shards[i], dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("stream shard %d: %w", i, err)
	}
	return path, dir, nil
}

// startPrefetch fetches the next shard of this rank in the background when
// it fits the disk budget beside the open one.
func (s *Stream) startPrefetch(ctx context.Context) {
	next := s.shard + 1
	for ; next < len(s.shards) && !s.opts.Ranks.OwnsShard(next); next++ {
	}
	if next >= len(s.shards) {
		return
	}
	if s.store.Downloads() && s.opts.DiskBudget > 0 &&
		s.shards[s.shard].Size+s.shards[next].Size+2*ShardOverhead > s.opts.DiskBudget {
		return
	}
	dir, err := s.newDir()
	if err != nil {
		return
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &prefetch{index: next, dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.path, p.err = s.store.Fetch(pctx, s.commit, s.shards[next], dir)
	}()
	s.ahead = p
}

func (p *prefetch) stop() {
	p.cancel()
	<-p.done
	os.RemoveAll(p.dir)
}

// newDir makes an empty download folder under the stream's temp folder.
func (s *Stream) newDir() (string, error) {
	if s.tmp == "" {
		if s.opts.TempDir != "" {
			s.tmp = s.opts.TempDir
			if err := os.MkdirAll(s.tmp, 0o755); err != nil {
				return "", fmt.Errorf("stream: %w", err)
			}
		} else {
			d, err := os.MkdirTemp("", "coldint-stream-")
			if err != nil {
				return "", fmt.Errorf("stream: %w", err)
			}
			s.tmp, s.ownTmp = d, true
		}
	}
	s.seq++
	d, err := os.MkdirTemp(s.tmp, "shard-"+strconv.Itoa(s.seq)+"-")
	if err != nil {
		return "", fmt.Errorf("stream: %w", err)
	}
	return d, nil
}

func (s *Stream) closeShard() {
	if s.rg != nil {
		s.rg.Close()
		s.rg = nil
	}
	if s.closer != nil {
		s.closer.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	s.file, s.closer, s.dir = nil, nil, ""
}

// Close stops a background fetch and deletes every downloaded shard.
func (s *Stream) Close() error {
	if s.ahead != nil {
		s.ahead.stop()
		s.ahead = nil
	}
	s.closeShard()
	var err error
	if s.ownTmp {
		err = os.RemoveAll(s.tmp)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("close stream: %w", err)
	}
	return nil
}

// TempDir returns the folder downloads go to ("" before the first download).
func (s *Stream) TempDir() string { return s.tmp }
