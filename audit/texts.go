package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
)

// maxRun is the most rows fetched in one request.
const maxRun = 100

type splitKey struct{ dataset, config, split string }

// fetchTexts reads every sample's text by its id and checks its hash.
// Samples whose text is missing or differs are returned as mismatches
// (their text is ""); the error is for a dataset without a source.
func fetchTexts(ctx context.Context, samples []evalproof.SampleRef, o Options) ([]string, []TextMismatch, error) {
	texts := make([]string, len(samples))
	groups := map[splitKey][]int{}
	for i, s := range samples {
		k := splitKey{s.Dataset, s.Config, s.Split}
		groups[k] = append(groups[k], i)
	}
	got := make([]bool, len(samples))
	errs := map[int]string{}
	srcs := map[string]data.Source{}
	for k, idx := range groups {
		src, ok := srcs[k.dataset]
		if !ok {
			var err error
			if src, err = o.Texts(ctx, k.dataset); err != nil {
				return nil, nil, fmt.Errorf("open the texts of dataset %q: %w", k.dataset, err)
			}
			srcs[k.dataset] = src
		}
		sort.Slice(idx, func(a, b int) bool { return samples[idx[a]].Row < samples[idx[b]].Row })
		for len(idx) > 0 {
			n := runLength(samples, idx)
			first := samples[idx[0]].Row
			p := data.Page{Config: k.config, Split: k.split, Offset: first, Length: int(samples[idx[n-1]].Row-first) + 1}
			rows, err := src.Rows(ctx, p)
			if err != nil && ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			for _, i := range idx[:n] {
				if err != nil {
					errs[i] = "fetch " + p.String() + ": " + err.Error()
					continue
				}
				if off := int(samples[i].Row - first); off < len(rows) && rows[off].Index == samples[i].Row && !rows[off].Truncated {
					texts[i], got[i] = rows[off].Text, true
				} else {
					errs[i] = fmt.Sprintf("row %d is not in %s", samples[i].Row, k.config+"/"+k.split)
				}
			}
			idx = idx[n:]
		}
	}
	return texts, mismatches(samples, texts, got, errs), nil
}

// runLength is how many of the sorted sample indices idx make one request.
func runLength(samples []evalproof.SampleRef, idx []int) int {
	n := 1
	for n < len(idx) && samples[idx[n]].Row-samples[idx[0]].Row < maxRun {
		n++
	}
	return n
}

func mismatches(samples []evalproof.SampleRef, texts []string, got []bool, errs map[int]string) []TextMismatch {
	var out []TextMismatch
	for i, s := range samples {
		if !got[i] {
			out = append(out, TextMismatch{Index: i, Sample: s, Error: errs[i]})
		} else if h := eval.TextHash(texts[i]); h != s.TextSHA256 {
			out = append(out, TextMismatch{Index: i, Sample: s, Error: "text sha256 differs: ", Got: h})
			texts[i] = ""
		}
	}
	return out
}

func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}
