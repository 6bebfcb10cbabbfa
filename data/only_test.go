package data

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSplitNamed(t *testing.T) {
	paths, named := SplitNamed([]string{"corpus", "math=m1.jsonl", "dir/a=b.txt", "math=m2", "code-v2=x=y", "=z", "n="})
	if want := []string{"corpus", "dir/a=b.txt", "=z", "n="}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if want := map[string][]string{"math": {"m1.jsonl", "m2"}, "code-v2": {"x=y"}}; !reflect.DeepEqual(named, want) {
		t.Errorf("named %q, want %q", named, want)
	}
}

type onlySplits []Split

func (f onlySplits) Splits(context.Context) ([]Split, error)   { return f, nil }
func (f onlySplits) Rows(context.Context, Page) ([]Row, error) { return nil, nil }

func TestOnly(t *testing.T) {
	src := onlySplits{{Config: "a", Split: "train"}, {Config: "a", Split: "test"}, {Config: "b", Split: "train"}}
	for _, tc := range []struct {
		config, split string
		want          []Split
	}{
		{"", "", src},
		{"a", "", src[:2]},
		{"", "train", []Split{src[0], src[2]}},
		{"b", "train", src[2:]},
	} {
		got, err := Only(src, tc.config, tc.split).Splits(context.Background())
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Only(%q, %q) = %v (%v), want %v", tc.config, tc.split, got, err, tc.want)
		}
	}
	if _, err := Only(src, "c", "").Splits(context.Background()); !errors.Is(err, ErrNoSplits) {
		t.Errorf("Only(c): %v, want ErrNoSplits", err)
	}
}

func FuzzSplitNamed(f *testing.F) {
	f.Add("corpus", "math=m.jsonl")
	f.Add("=x", "a/b=c")
	f.Fuzz(func(t *testing.T, a, b string) {
		paths, named := SplitNamed([]string{a, b})
		n := len(paths)
		for name, ps := range named {
			n += len(ps)
			for _, p := range ps {
				if e := name + "=" + p; e != a && e != b || p == "" || strings.ContainsAny(name, "/=") {
					t.Fatalf("named %q=%q from %q, %q", name, p, a, b)
				}
			}
		}
		if n != 2 {
			t.Fatalf("%q, %q: %d paths and named entries, want 2", a, b, n)
		}
	})
}
