package competition

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestParseGolden loads every testdata/config/*.json. Files named accept_*
// are ones the reference validator loads: they must load here, and the
// golden file records the competitions, the globals and the warnings that
// name what was ignored. Files named reject_* are ones the reference
// refuses: they must fail with ErrInvalidConfig, and the golden file records
// the error.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(data)
			var got []byte
			switch {
			case strings.HasPrefix(name, "accept_"):
				if err != nil {
					t.Fatalf("the reference loads this file, here: %v", err)
				}
				got, _ = json.MarshalIndent(struct {
					Competitions []Competition `json:"competitions"`
					Defaults     Defaults      `json:"defaults"`
					Warnings     []string      `json:"warnings"`
				}{cfg.Competitions, cfg.Defaults, cfg.Warnings}, "", "  ")
			case strings.HasPrefix(name, "reject_"):
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("the reference rejects this file, here: %v", err)
				}
				got = []byte("error: " + err.Error())
			default:
				t.Fatalf("name %q starts with neither accept_ nor reject_", name)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
