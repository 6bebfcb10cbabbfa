package evalproof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/internal/atomicfile"
)

// MaxFileSize bounds a file of a published step that is read.
const MaxFileSize = 256 << 20

// ErrMissing means a file of a published step is absent.
var ErrMissing = errors.New("missing file")

// StepDir is the folder name of step n.
func StepDir(n uint64) string { return fmt.Sprintf("step-%d", n) }

// Files encodes the step's files, by path relative to the publication
// root: step-N/competition-<i>.json, step-N/manifest.json (last) and
// latest.json. The step must be sealed.
func (s *Step) Files() ([]string, [][]byte, error) {
	var names []string
	var datas [][]byte
	dir := StepDir(s.Manifest.Step)
	for i := range s.Competitions {
		b, err := json.MarshalIndent(&s.Competitions[i], "", " ")
		if err != nil {
			return nil, nil, fmt.Errorf("encode competition %q: %w", s.Competitions[i].Name, err)
		}
		names, datas = append(names, dir+"/"+CompetitionFile(i)), append(datas, append(b, '\n'))
	}
	mb, err := json.MarshalIndent(&s.Manifest, "", " ")
	if err != nil {
		return nil, nil, fmt.Errorf("encode manifest: %w", err)
	}
	lb, _ := json.Marshal(Link{Step: s.Manifest.Step, Root: s.Manifest.Root})
	names = append(names, dir+"/"+ManifestFile, LatestFile)
	datas = append(datas, append(mb, '\n'), append(lb, '\n'))
	return names, datas, nil
}

// WriteDir writes the sealed step under root (step-N/ and latest.json),
// each file atomically, the manifest after the competition files.
func WriteDir(root string, s *Step) error {
	names, datas, err := s.Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, StepDir(s.Manifest.Step)), 0o755); err != nil {
		return fmt.Errorf("write step %d: %w", s.Manifest.Step, err)
	}
	for i, n := range names {
		if err := atomicfile.WriteFile(filepath.Join(root, filepath.FromSlash(n)), datas[i], 0o644); err != nil {
			return fmt.Errorf("write step %d: %w", s.Manifest.Step, err)
		}
	}
	return nil
}

// GetFunc reads one file of a published step by its name in the step
// folder; an absent file is an error wrapping [fs.ErrNotExist] or [ErrMissing].
type GetFunc func(ctx context.Context, name string) ([]byte, error)

// DirGetter reads the files of the step folder dir.
func DirGetter(dir string) GetFunc {
	return func(ctx context.Context, name string) ([]byte, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if err == nil && len(b) > MaxFileSize {
			err = fmt.Errorf("over %d bytes", MaxFileSize)
		}
		return b, err
	}
}

// Load reads and parses a published step through get: the manifest, then
// every competition file it lists. It does not check the roots (see
// [Step.Verify]).
func Load(ctx context.Context, get GetFunc) (*Step, error) {
	b, err := get(ctx, ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestFile, missing(err))
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, err
	}
	s := &Step{Manifest: *m}
	for _, ref := range m.Competitions {
		b, err := get(ctx, ref.File)
		if err != nil {
			return nil, fmt.Errorf("read %s of competition %q: %w", ref.File, ref.Name, missing(err))
		}
		c, err := ParseCompetition(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref.File, err)
		}
		s.Competitions = append(s.Competitions, *c)
	}
	return s, nil
}

func missing(err error) error {
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrMissing) {
		return fmt.Errorf("%w: %w", ErrMissing, err)
	}
	return err
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// ParseManifest parses manifest.json: known fields only, this format,
// hex roots and safe competition file names.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeStrict(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", ManifestFile, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("parse %s: format %q, want %q", ManifestFile, m.Format, FormatVersion)
	}
	if _, err := ParseHash(m.Root); err != nil {
		return nil, fmt.Errorf("parse %s: root: %w", ManifestFile, err)
	}
	for i, c := range m.Competitions {
		if c.File != CompetitionFile(i) {
			return nil, fmt.Errorf("parse %s: competition %q: file %q, want %q", ManifestFile, c.Name, c.File, CompetitionFile(i))
		}
		if _, err := ParseHash(c.Root); err != nil {
			return nil, fmt.Errorf("parse %s: competition %q root: %w", ManifestFile, c.Name, err)
		}
	}
	for _, w := range m.Weights {
		if bad(w.Weight) {
			return nil, fmt.Errorf("parse %s: weight of uid %d is not finite", ManifestFile, w.UID)
		}
	}
	return &m, nil
}

// ParseCompetition parses a competition file.
func ParseCompetition(b []byte) (*Competition, error) {
	var c Competition
	if err := decodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("parse competition file: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("parse competition %q: %w", c.Name, err)
	}
	return &c, nil
}

// ParseLatest parses latest.json.
func ParseLatest(b []byte) (*Link, error) {
	var l Link
	if err := decodeStrict(b, &l); err != nil {
		return nil, fmt.Errorf("parse %s: %w", LatestFile, err)
	}
	if _, err := ParseHash(l.Root); err != nil {
		return nil, fmt.Errorf("parse %s: %w", LatestFile, err)
	}
	return &l, nil
}
