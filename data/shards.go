package data

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coldint/coldint/hf"
)

// Shard is one parquet file of a dataset: its slash-separated name in the
// repo (or its local path) and its size in bytes.
type Shard struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ShardStore lists the parquet shards of a dataset and makes one readable at
// a time.
type ShardStore interface {
	// List returns the resolved commit ("" for local files) and the shards in
	// stream order.
	List(ctx context.Context) (commit string, shards []Shard, err error)
	// Fetch makes shard s of commit readable as a local file, using dir (an
	// empty folder it may fill) for downloads, and returns its path. The
	// caller deletes dir when done with the file.
	Fetch(ctx context.Context, commit string, s Shard, dir string) (string, error)
	// Downloads reports whether Fetch writes the shard to disk (and so counts
	// against a disk budget).
	Downloads() bool
}

// HubFiles is the part of [hf.Hub] a [HubShards] uses: listing a repo's files
// at a revision and downloading some of them.
type HubFiles interface {
	ModelInfo(ctx context.Context, repo hf.RepoID, revision string) (*hf.ModelInfo, error)
	Download(ctx context.Context, repo hf.RepoID, commit string, files []string, cacheDir string, opts hf.DownloadOptions) (string, error)
}

// HubShards is a [ShardStore] over the parquet files of a Hub repo. Each
// shard is downloaded whole (checked against its hash by the hub client) into
// the folder the stream gives it, read, and deleted.
type HubShards struct {
	Hub      HubFiles
	Repo     hf.RepoID
	Revision string // branch or commit; "" means main
	// Glob selects the shards (see [MatchShard]); "" selects every .parquet file.
	Glob string
}

// List implements [ShardStore].
func (h *HubShards) List(ctx context.Context) (string, []Shard, error) {
	info, err := h.Hub.ModelInfo(ctx, h.Repo, h.Revision)
	if err != nil {
		return "", nil, fmt.Errorf("list shards of %q: %w", h.Repo.String(), err)
	}
	var out []Shard
	for _, f := range info.Files {
		ok, err := MatchShard(h.Glob, f.Path)
		if err != nil {
			return "", nil, fmt.Errorf("list shards of %q: %w", h.Repo.String(), err)
		}
		if ok {
			out = append(out, Shard{Path: f.Path, Size: f.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	if len(out) == 0 {
		return "", nil, fmt.Errorf("list shards of %q at %q: no file matches %q", h.Repo.String(), info.SHA, globName(h.Glob))
	}
	return info.SHA, out, nil
}

// Fetch implements [ShardStore].
func (h *HubShards) Fetch(ctx context.Context, commit string, s Shard, dir string) (string, error) {
	snap, err := h.Hub.Download(ctx, h.Repo, commit, []string{s.Path}, dir, hf.DownloadOptions{})
	if err != nil {
		return "", fmt.Errorf("fetch shard %q: %w", s.Path, err)
	}
	return filepath.Join(snap, filepath.FromSlash(s.Path)), nil
}

// Downloads implements [ShardStore].
func (h *HubShards) Downloads() bool { return true }

// LocalShards is a [ShardStore] over local .parquet files and folders (walked
// in sorted order, hidden entries skipped). Paths keep the order given. A
// shard is named by the base name of the path given and, inside a folder,
// its path relative to it ("fineweb/CC-MAIN-2024-10/000_00000.parquet"), so
// checkpoints stay valid when the folder moves.
type LocalShards struct {
	Paths []string
	Glob  string // see [MatchShard], applied to paths relative to each folder

	files map[string]string // shard name -> local file
}

// List implements [ShardStore].
func (l *LocalShards) List(ctx context.Context) (string, []Shard, error) {
	var out []Shard
	l.files = map[string]string{}
	add := func(name, file string, size int64) error {
		if prev, ok := l.files[name]; ok {
			return fmt.Errorf("list shards: %q and %q are both named %q", prev, file, name)
		}
		l.files[name] = file
		out = append(out, Shard{Path: name, Size: size})
		return nil
	}
	for _, p := range l.Paths {
		st, err := os.Stat(p)
		if err != nil {
			return "", nil, fmt.Errorf("list shards: %w", err)
		}
		base := filepath.Base(filepath.Clean(p))
		if !st.IsDir() {
			if err := add(base, p, st.Size()); err != nil {
				return "", nil, err
			}
			continue
		}
		found, err := walkShards(p, l.Glob)
		if err != nil {
			return "", nil, err
		}
		for _, f := range found {
			if err := add(base+"/"+f.Path, filepath.Join(p, filepath.FromSlash(f.Path)), f.Size); err != nil {
				return "", nil, err
			}
		}
	}
	if len(out) == 0 {
		return "", nil, errors.New("list shards: no paths given")
	}
	return "", out, nil
}

// walkShards lists the files under dir selected by glob, by slash-separated
// path relative to dir, sorted.
func walkShards(dir, glob string) ([]Shard, error) {
	var found []Shard
	err := filepath.WalkDir(dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fp != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, fp)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		ok, err := MatchShard(glob, rel)
		if err != nil || !ok {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		found = append(found, Shard{Path: rel, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list shards in %q: %w", dir, err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("list shards in %q: no file matches %q", dir, globName(glob))
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Path < found[j].Path })
	return found, nil
}

// Fetch implements [ShardStore]: the file is read in place.
func (l *LocalShards) Fetch(ctx context.Context, commit string, s Shard, dir string) (string, error) {
	f, ok := l.files[s.Path]
	if !ok {
		return "", fmt.Errorf("fetch shard %q: not listed", s.Path)
	}
	return f, nil
}

// Downloads implements [ShardStore].
func (l *LocalShards) Downloads() bool { return false }

func globName(g string) string {
	if g == "" {
		return "*.parquet"
	}
	return g
}

// MatchShard reports whether the slash-separated file name p is selected by
// glob. An empty glob selects every file ending in ".parquet", at any depth.
// A glob with a "/" is matched against the whole name (path.Match: "*" does
// not cross "/", so FineWeb's dumps are "data/CC-MAIN-*/*.parquet"); one
// without is matched against the base name. Several globs may be given,
// separated by commas.
func MatchShard(glob, p string) (bool, error) {
	if glob == "" {
		return strings.HasSuffix(p, ".parquet"), nil
	}
	for _, g := range strings.Split(glob, ",") {
		g = strings.TrimSpace(g)
		name := p
		if !strings.Contains(g, "/") {
			name = path.Base(p)
		}
		ok, err := path.Match(g, name)
		if err != nil {
			return false, fmt.Errorf("match data files %q: %w", g, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
