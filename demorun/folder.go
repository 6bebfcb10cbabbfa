package demorun

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/coldint/coldint/internal/atomicfile"
)

// MarkerFile is the file that marks a folder as one the demo made. Only a
// folder holding it (or a new or empty one) is ever written or cleared.
const MarkerFile = ".coldint-demo"

const markerText = "This folder was made by `coldint demo`; a new demo run replaces its contents.\n"

// ErrNotDemoFolder is returned when --dir names a folder the demo did not make.
var ErrNotDemoFolder = errors.New("not a demo folder")

// claimDir makes dir the demo's own: it creates it (or accepts an empty one)
// and writes the marker, or accepts a folder that already holds the marker and
// clears the demo's earlier parts in it. Any other folder is refused before
// anything in it is touched.
func claimDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create demo folder %q: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("read demo folder %q: %w", dir, err)
	case len(entries) > 0 && !hasMarker(dir):
		names := make([]string, 0, 3)
		for i, e := range entries {
			if i == 3 {
				names = append(names, "…")
				break
			}
			names = append(names, e.Name())
		}
		return fmt.Errorf("use demo folder %q: %w: it holds %s and no %s marker, so the demo will not write or delete anything in it; choose a new or empty folder",
			dir, ErrNotDemoFolder, strings.Join(names, ", "), MarkerFile)
	case len(entries) > 0:
		for _, p := range demoParts {
			if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
				return fmt.Errorf("clear %q of demo folder %q: %w", p, dir, err)
			}
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MarkerFile), []byte(markerText), 0o644); err != nil {
		return fmt.Errorf("mark demo folder %q: %w", dir, err)
	}
	return nil
}

// hasMarker reports whether dir holds the demo's marker as a regular file
// (a symlink planted under the marker's name does not count).
func hasMarker(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, MarkerFile))
	return err == nil && fi.Mode().IsRegular()
}
