package data

import (
	"context"
	"fmt"
	"strings"
)

// only is a Source limited to some of its splits.
type only struct {
	Source
	config, split string
}

// Only returns src limited to the splits of one config and one split name;
// "" matches any. Its Splits fails (wrapping [ErrNoSplits]) when none is
// left.
func Only(src Source, config, split string) Source {
	if config == "" && split == "" {
		return src
	}
	return &only{Source: src, config: config, split: split}
}

// Splits returns the matching splits in the source's order.
func (o *only) Splits(ctx context.Context) ([]Split, error) {
	all, err := o.Source.Splits(ctx)
	if err != nil {
		return nil, err
	}
	var out []Split
	for _, s := range all {
		if (o.config == "" || s.Config == o.config) && (o.split == "" || s.Split == o.split) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("config %q split %q: %w", o.config, o.split, ErrNoSplits)
	}
	return out, nil
}

// SplitNamed separates plain paths from NAME=PATH entries (a name of
// letters, digits, '_', '-' and '.', before the first '='), as validate
// --data takes them: the named paths give evaluation task NAME its text.
func SplitNamed(entries []string) (paths []string, named map[string][]string) {
	named = map[string][]string{}
	for _, e := range entries {
		name, path, ok := strings.Cut(e, "=")
		if !ok || name == "" || path == "" || strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
		}) >= 0 {
			paths = append(paths, e)
			continue
		}
		named[name] = append(named[name], path)
	}
	return paths, named
}
