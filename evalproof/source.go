package evalproof

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coldint/coldint/hf"
)

// Source is an opened published step: its files, and the manifests of the
// publication's other steps (to follow a later commitment back).
type Source struct {
	// Where names the step for people (a folder or repo@commit/step-N).
	Where string
	Step  uint64
	Get   GetFunc
	// Manifest reads another step's manifest of the same publication.
	Manifest func(ctx context.Context, step uint64) (*Manifest, error)
}

// Open opens a published step. arg is a step folder (holding
// manifest.json), a publication folder (holding step-N/ and latest.json),
// or a Hub dataset repo "[datasets/]namespace/name[@revision]"; step picks
// the step of a publication (0: the one latest.json names). h is needed for
// a repo only.
func Open(ctx context.Context, arg string, step uint64, h hf.Hub) (*Source, error) {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		return openDir(arg, step)
	}
	name, rev, _ := strings.Cut(arg, "@")
	repo, err := hf.ParseTypedRepo(name, hf.DatasetRepo)
	if err != nil {
		return nil, fmt.Errorf("open published step %q: not a folder, and %w", arg, err)
	}
	if h == nil {
		return nil, fmt.Errorf("open published step %q: no hub client", arg)
	}
	get, n, sha, err := HubGetter(ctx, h, repo, rev, step)
	if err != nil {
		return nil, err
	}
	src := &Source{Where: fmt.Sprintf("%s@%s/%s", repo, sha, StepDir(n)), Step: n, Get: get}
	src.Manifest = func(ctx context.Context, k uint64) (*Manifest, error) {
		get, _, _, err := HubGetter(ctx, h, repo, sha, k)
		if err != nil {
			return nil, err
		}
		return readManifest(ctx, get)
	}
	return src, nil
}

func openDir(dir string, step uint64) (*Source, error) {
	var pub string
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		if step != 0 {
			return nil, fmt.Errorf("open published step %q: a step folder; the step number applies to a publication folder", dir)
		}
		pub = filepath.Dir(dir)
		n, err := strconv.ParseUint(strings.TrimPrefix(filepath.Base(dir), "step-"), 10, 64)
		if err != nil {
			n = 0
		}
		step = n
	} else {
		pub = dir
		if step == 0 {
			b, err := os.ReadFile(filepath.Join(dir, LatestFile))
			if err != nil {
				return nil, fmt.Errorf("open published step %q: neither a step folder (%s) nor a publication (%s): %w", dir, ManifestFile, LatestFile, missing(err))
			}
			l, err := ParseLatest(b)
			if err != nil {
				return nil, fmt.Errorf("open published step %q: %w", dir, err)
			}
			step = l.Step
		}
		dir = filepath.Join(dir, StepDir(step))
	}
	src := &Source{Where: dir, Step: step, Get: DirGetter(dir)}
	src.Manifest = func(ctx context.Context, k uint64) (*Manifest, error) {
		return readManifest(ctx, DirGetter(filepath.Join(pub, StepDir(k))))
	}
	return src, nil
}

func readManifest(ctx context.Context, get GetFunc) (*Manifest, error) {
	b, err := get(ctx, ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestFile, missing(err))
	}
	return ParseManifest(b)
}
