package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/internal/atomicfile"
)

const stateVersion = 1

// Checkpoint folder names under the run folder.
const (
	CheckpointDir = "checkpoint"
	// PrevCheckpointDir holds the previous checkpoint while a new one is
	// renamed into place; it is used when CheckpointDir is missing.
	PrevCheckpointDir = "checkpoint.prev"
	// StateFile is the run state inside a checkpoint, written last.
	StateFile = "state.json"
)

// ErrNoCheckpoint means the run folder holds no complete checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

func checkpointExists(out string) bool {
	_, err := os.Stat(filepath.Join(out, CheckpointDir, StateFile))
	return err == nil
}

// SaveCheckpoint writes m and st as out/checkpoint atomically: everything
// goes to a temporary folder (state.json last, all fsynced), the old
// checkpoint is moved to checkpoint.prev, the new one renamed into place and
// the old one removed. It returns the checkpoint folder.
func SaveCheckpoint(ctx context.Context, out string, m Model, st *State) (string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(out, ".checkpoint.tmp-*")
	if err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := m.SaveCheckpoint(ctx, tmp); err != nil {
		return "", fmt.Errorf("save checkpoint at step %d: %w", st.Step, err)
	}
	data, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, StateFile), data, 0o644); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	dst := filepath.Join(out, CheckpointDir)
	prev := filepath.Join(out, PrevCheckpointDir)
	if err := os.RemoveAll(prev); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, prev); err != nil {
			return "", fmt.Errorf("save checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	ok = true
	if err := atomicfile.SyncDir(out); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	_ = os.RemoveAll(prev)
	return dst, nil
}

// LoadState reads the latest complete checkpoint of the run folder out and
// returns its state and folder (whose model and optimizer files the caller
// opens). It wraps ErrNoCheckpoint when there is none.
func LoadState(out string) (*State, string, error) {
	for _, name := range []string{CheckpointDir, PrevCheckpointDir} {
		dir := filepath.Join(out, name)
		data, err := os.ReadFile(filepath.Join(dir, StateFile))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("load checkpoint: %w", err)
		}
		var st State
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, "", fmt.Errorf("load checkpoint %q: %w", dir, err)
		}
		if st.Version != stateVersion {
			return nil, "", fmt.Errorf("load checkpoint %q: state version %d, want %d", dir, st.Version, stateVersion)
		}
		return &st, dir, nil
	}
	return nil, "", fmt.Errorf("load checkpoint from %q: %w", out, ErrNoCheckpoint)
}
