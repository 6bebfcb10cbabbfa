package miner

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/data"
)

func TestFiniteMean(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{1, 2, 3}, 2},
		{[]float64{1, inf, 3, nan}, 2},
		{[]float64{inf, nan}, inf},
		{nil, inf},
	}
	for _, tc := range tests {
		if got := finiteMean(tc.in); got != tc.want {
			t.Errorf("finiteMean(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestPrecheckSamples draws whole pages from a local source and keeps the
// first n texts; the same seed draws the same texts.
func TestPrecheckSamples(t *testing.T) {
	ctx := context.Background()
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf(`{"text": "document %d"}`, i))
	}
	file := filepath.Join(t.TempDir(), "docs.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := data.OpenLocal(ctx, []string{file}, data.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		samples, rowsPerPage, want int
	}{
		{7, 5, 7}, {10, 5, 10}, {1, 0, 1}, {30, 25, 30},
	}
	for _, tc := range tests {
		o := PrecheckOptions{Source: src, Samples: tc.samples, Seed: 3}
		texts, err := o.samples(ctx, tc.rowsPerPage)
		if err != nil || len(texts) != tc.want {
			t.Fatalf("%d samples in pages of %d: %d texts (%v), want %d", tc.samples, tc.rowsPerPage, len(texts), err, tc.want)
		}
		again, _ := o.samples(ctx, tc.rowsPerPage)
		if strings.Join(again, "|") != strings.Join(texts, "|") {
			t.Fatalf("seed 3 drew %v, then %v", texts, again)
		}
		for _, s := range texts {
			if !strings.HasPrefix(s, "document ") {
				t.Fatalf("text %q is not a document of the source", s)
			}
		}
	}
}
