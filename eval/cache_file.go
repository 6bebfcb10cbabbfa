package eval

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/internal/atomicfile"
)

// ErrIncompatibleState means a state file has another major.minor version
// (or format): the caller starts clean.
var ErrIncompatibleState = errors.New("incompatible state version")

// CompatibleVersion is the version rule (docs/validator.md#state): state written by stored is
// loaded by current only when major.minor match (stored/100 == current/100).
func CompatibleVersion(stored, current int) bool { return stored/100 == current/100 }

// cacheFormat is bumped when the on-disk layout of the cache changes.
const cacheFormat = 1

// cacheFile is the JSON part of a saved cache.
type cacheFile struct {
	Version        int                  `json:"version"`
	Format         int                  `json:"format"`
	Samples        []Sample             `json:"samples"`
	Models         []string             `json:"models"`
	ModelDirHashes map[string]string    `json:"model_dir_hashes"`
	LastExtendTS   float64              `json:"last_extend_ts"`
	FirstSeen      map[string]FirstSeen `json:"first_seen"`
	LossesFile     string               `json:"losses_file"`
	Rows           int                  `json:"rows"`
	Cols           int                  `json:"cols"`
}

// CacheStateFile is the JSON file of a saved cache inside its directory.
const CacheStateFile = "eval_state.json"

// Save writes the cache into dir atomically: the losses go to a new
// eval_losses-<n>.f64 (little-endian float64, row-major), then
// eval_state.json, naming that file, replaces the old one (the commit point),
// then older loss files are removed. A crash at any moment leaves the old or
// the new cache, never a mix.
func (c *Cache) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save eval cache: %w", err)
	}
	if err := c.check(); err != nil {
		return fmt.Errorf("save eval cache: %w", err)
	}
	name := "eval_losses-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".f64"
	err := atomicfile.Write(filepath.Join(dir, name), 0o644, func(w io.Writer) error {
		buf := make([]byte, 8*len(c.Samples))
		for _, row := range c.Losses {
			for j, v := range row {
				binary.LittleEndian.PutUint64(buf[8*j:], math.Float64bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save eval cache: %w", err)
	}
	f := cacheFile{
		Version: SpecVersion, Format: cacheFormat, Samples: c.Samples, Models: c.Models,
		ModelDirHashes: c.ModelDirHashes, FirstSeen: map[string]FirstSeen{},
		LossesFile: name, Rows: len(c.Models), Cols: len(c.Samples),
	}
	if !c.LastExtend.IsZero() {
		f.LastExtendTS = float64(c.LastExtend.UnixNano()) / 1e9
	}
	for k, v := range c.FirstSeen {
		f.FirstSeen[strconv.Itoa(k)] = v
	}
	if f.Samples == nil {
		f.Samples = []Sample{}
	}
	if f.Models == nil {
		f.Models = []string{}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save eval cache: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, CacheStateFile), b, 0o644); err != nil {
		os.Remove(filepath.Join(dir, name))
		return fmt.Errorf("save eval cache: %w", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); n != name && strings.HasPrefix(n, "eval_losses-") && strings.HasSuffix(n, ".f64") {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

func (c *Cache) check() error {
	if len(c.Losses) != len(c.Models) {
		return fmt.Errorf("%d loss rows for %d models", len(c.Losses), len(c.Models))
	}
	for i, r := range c.Losses {
		if len(r) != len(c.Samples) {
			return fmt.Errorf("row %d has %d losses for %d samples", i, len(r), len(c.Samples))
		}
	}
	return nil
}

// LoadCache reads a cache saved by [Cache.Save]. A missing directory gives an
// empty cache. A file from another major.minor version or format gives
// [ErrIncompatibleState]. The shape is validated (rows = models, cols =
// samples). The reference loads its eval state with no version check; the Go
// files carry one so a layout change can never be misread.
func LoadCache(dir string) (*Cache, error) {
	b, err := os.ReadFile(filepath.Join(dir, CacheStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return NewCache(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load eval cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("load eval cache %q: %w", dir, err)
	}
	if !CompatibleVersion(f.Version, SpecVersion) || f.Format != cacheFormat {
		return nil, fmt.Errorf("load eval cache %q: version %d format %d, want %d.%d.x format %d: %w",
			dir, f.Version, f.Format, SpecVersion/1000, SpecVersion/100%10, cacheFormat, ErrIncompatibleState)
	}
	if f.Rows != len(f.Models) || f.Cols != len(f.Samples) || filepath.Base(f.LossesFile) != f.LossesFile || f.LossesFile == "" {
		return nil, fmt.Errorf("load eval cache %q: shape %d×%d for %d models × %d samples", dir, f.Rows, f.Cols, len(f.Models), len(f.Samples))
	}
	raw, err := os.ReadFile(filepath.Join(dir, f.LossesFile))
	if err != nil {
		return nil, fmt.Errorf("load eval cache: %w", err)
	}
	if len(raw) != 8*f.Rows*f.Cols {
		return nil, fmt.Errorf("load eval cache %q: %d bytes of losses, want %d", dir, len(raw), 8*f.Rows*f.Cols)
	}
	c := NewCache()
	c.Samples, c.Models = f.Samples, f.Models
	if f.ModelDirHashes != nil {
		c.ModelDirHashes = f.ModelDirHashes
	}
	if f.LastExtendTS > 0 {
		c.LastExtend = time.Unix(0, int64(f.LastExtendTS*1e9))
	}
	for k, v := range f.FirstSeen {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(c.Models) {
			return nil, fmt.Errorf("load eval cache %q: first_seen key %q is not a model index", dir, k)
		}
		c.FirstSeen[i] = v
	}
	c.Losses = make([][]float64, f.Rows)
	for i := range c.Losses {
		row := make([]float64, f.Cols)
		for j := range row {
			row[j] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*(i*f.Cols+j):]))
		}
		c.Losses[i] = row
	}
	return c, nil
}
