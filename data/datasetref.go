package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/coldint/coldint/hf"
)

// ErrDatasetRef marks a dataset reference that is neither a local path nor
// REPO[@REVISION].
var ErrDatasetRef = errors.New("invalid dataset reference")

// DatasetRef names a Hub dataset repo at a revision.
type DatasetRef struct {
	Repo     hf.RepoID // a dataset repo, or a model repo holding data files
	Revision string    // "" means main
}

// String formats the reference as REPO or REPO@REVISION, REPO being
// "namespace/name" for a dataset repo and "models/namespace/name" for a
// model repo, the forms [ParseDatasetRef] reads back.
func (r DatasetRef) String() string {
	s := r.Repo.Bare()
	if r.Repo.Type != hf.DatasetRepo {
		s = "models/" + s
	}
	if r.Revision == "" {
		return s
	}
	return s + "@" + r.Revision
}

// ParseDatasetRef parses "namespace/name" or "namespace/name@revision"
// (a branch, tag or commit; "refs/convert/parquet" style revisions with
// slashes are allowed). The repo is a Hub dataset repo, as with the datasets
// library's load_dataset; "datasets/namespace/name" says the same, and
// "models/namespace/name" reads the files of a model repo instead.
func ParseDatasetRef(s string) (DatasetRef, error) {
	repo, rev, hasRev := strings.Cut(s, "@")
	var id hf.RepoID
	var err error
	if strings.HasPrefix(repo, "models/") && strings.Count(repo, "/") == 2 {
		id, err = hf.ParseRepo(repo)
	} else {
		id, err = hf.ParseTypedRepo(repo, hf.DatasetRepo)
	}
	if err != nil {
		return DatasetRef{}, fmt.Errorf("parse dataset %q: %w: %w", s, ErrDatasetRef, err)
	}
	if hasRev {
		if err := hf.ValidateRevision(rev); err != nil {
			return DatasetRef{}, fmt.Errorf("parse dataset %q: %w: %w", s, ErrDatasetRef, err)
		}
	}
	return DatasetRef{Repo: id, Revision: rev}, nil
}

// OpenShardStore returns the [ShardStore] named by ref: an existing local
// .parquet file or folder (comma-separated paths allowed), or else a Hub repo
// REPO[@REVISION] read through hub. glob selects the files (see [MatchShard]).
func OpenShardStore(ctx context.Context, ref string, hub HubFiles, glob string) (ShardStore, error) {
	if ref == "" {
		return nil, fmt.Errorf("open dataset: %w: empty", ErrDatasetRef)
	}
	paths := strings.Split(ref, ",")
	local := true
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			local = false
		}
	}
	if local {
		return &LocalShards{Paths: paths, Glob: glob}, nil
	}
	r, err := ParseDatasetRef(ref)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w (and no such local file)", err)
	}
	if hub == nil {
		return nil, fmt.Errorf("open dataset %q: no hub client given", ref)
	}
	if _, err := MatchShard(glob, "x"); err != nil {
		return nil, fmt.Errorf("open dataset %q: %w", ref, err)
	}
	return &HubShards{Hub: hub, Repo: r.Repo, Revision: r.Revision, Glob: glob}, nil
}
