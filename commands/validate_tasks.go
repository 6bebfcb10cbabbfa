package commands

import (
	"context"
	"fmt"
	"sort"

	"github.com/coldint/coldint/data"
)

// validateSources opens validate's --data entries: plain paths make the
// validator's own text source (none: the datasets-server of dataset), and
// NAME=PATH entries give evaluation task NAME local text instead of its
// dataset on the datasets-server.
func validateSources(ctx context.Context, entries []string, dataset string) (data.Source, map[string]data.Source, error) {
	paths, named := data.SplitNamed(entries)
	var src data.Source = data.NewServer(dataset)
	if len(paths) > 0 {
		local, err := data.OpenLocal(ctx, paths, data.LocalOptions{})
		if err != nil {
			return nil, nil, err
		}
		src = local
	}
	tasks := map[string]data.Source{}
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		local, err := data.OpenLocal(ctx, named[n], data.LocalOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("open text of task %q: %w", n, err)
		}
		tasks[n] = local
	}
	return src, tasks, nil
}
