package eval

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/coldint/coldint/internal/atomicfile"
)

// ---- disk management (docs/validator.md#disk-policy) ----

// cleanModels deletes model snapshots that no active UID references when
// the disk policy needs space; only folders untouched for 300 s go, only
// snapshots the validator downloaded (the model folder may be a cache other
// tools share), and a blob only when no other snapshot links it.
func (v *Validator) cleanModels() {
	free, err := v.freeDisk()
	if err != nil {
		return
	}
	var inUse int64
	filepath.WalkDir(v.opts.ModelDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				inUse += fi.Size()
			}
		}
		return nil
	})
	need := BytesToDelete(inUse, free, v.opts.StoreSizeGB)
	if need <= 0 {
		return
	}
	keep := map[string]bool{}
	for _, u := range ActiveUIDs(v.state.CState) {
		if m := v.models[u]; m != nil {
			keep[filepath.Clean(m.Dir)] = true
		}
		if int(u) < len(v.hotkeys) {
			if meta := v.state.HKMetadata[v.hotkeys[u]]; meta != nil {
				if parts := strings.SplitN(meta.ID.RepoID(), "/", 2); len(parts) == 2 {
					keep[filepath.Join(v.opts.ModelDir, "models--"+parts[0]+"--"+parts[1], "snapshots", meta.ID.Commit)] = true
				}
			}
		}
	}
	var cands []storeSnapshot
	repos, _ := filepath.Glob(filepath.Join(v.opts.ModelDir, "models--*", "snapshots", "*"))
	for _, d := range repos {
		if keep[filepath.Clean(d)] {
			continue
		}
		c, own := ownSnapshot(v.opts.ModelDir, d)
		if !own || v.now().Sub(c.mtime) < 300*time.Second {
			continue
		}
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mtime.Before(cands[j].mtime) })
	var freed int64
	for _, c := range cands {
		if freed >= need {
			break
		}
		n, err := removeSnapshot(context.Background(), v.opts.ModelDir, c)
		if err != nil {
			v.log.Warn("delete unreferenced model", "dir", c.dir, "err", err)
			continue
		}
		freed += n
		v.log.Info("deleted unreferenced model", "dir", c.dir, "bytes", n)
	}
}

func writeJSONFile(path string, x any) error {
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}
