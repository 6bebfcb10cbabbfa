package commands

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/data"
)

func TestValidateSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range []string{"own.jsonl", "math.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(`{"text": "one two three"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, tasks, err := validateSources(ctx, []string{filepath.Join(dir, "own.jsonl"), "math=" + filepath.Join(dir, "math.jsonl")}, "x/y")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*data.Local); !ok || len(tasks) != 1 || tasks["math"] == nil {
		t.Errorf("own source %T, task sources %v: want a local source and task math", src, tasks)
	}
	src, tasks, err = validateSources(ctx, []string{"math=" + filepath.Join(dir, "math.jsonl")}, "x/y")
	if s, ok := src.(*data.Server); err != nil || !ok || s.Dataset != "x/y" || tasks["math"] == nil {
		t.Errorf("only a task path: own source %T (%v), tasks %v: want the datasets-server for x/y", src, err, tasks)
	}
	if _, _, err := validateSources(ctx, []string{"math=" + filepath.Join(dir, "missing")}, "x/y"); err == nil || !strings.Contains(err.Error(), `task "math"`) {
		t.Errorf("missing task path: %v, want an error naming task \"math\"", err)
	}
}
