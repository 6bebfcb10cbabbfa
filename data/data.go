// Package data provides the text documents that models are validated and
// trained on, as random pages of rows in the way the coldint validator reads
// FineWeb-edu-score-2 (docs/hub.md#datasets-server, docs/hub.md#datasets-server).
//
// A [Source] has splits (one per dataset config, like the CommonCrawl dumps of
// FineWeb) with a row count each, and returns pages of rows by offset and
// length. Two sources exist: [Server], a client of the Hugging Face
// datasets-server (/size and /rows), and [Local], which reads .txt, .jsonl and
// .jsonl.gz files or folders. A .jsonl record is one document (field "text");
// a .txt file is cut into documents by [TextMode]: blank-line-separated
// paragraphs by default, or one per line, or the whole file (for folders of
// documents). [Handler] serves any Source as a datasets-server, so a private
// competition can use the same client. [RandomPages] picks pages exactly as
// the validator does (a uniform config, then a uniform offset),
// deterministically for a seed, and [Fetch] loads them, skipping pages that
// fail.
//
// [CapSample] and [WithEOS] prepare a document for scoring (docs/scoring.md#per-sample-loss), and
// [BuildCorpus] writes a public-domain corpus from Debian text packages.
//
// For training on web-scale text, [OpenStream] reads the string column of
// parquet shards (a Hub repo's files through [HubShards], or local files and
// folders through [LocalShards]; [OpenShardStore] picks one from
// "REPO[@REVISION]" or a path) in a fixed order, fetching one shard at a time
// within a disk budget. Every document carries its [Position]; a
// [Checkpoint] saved from a stream (or merged from the ranks of a split run
// with [MergeCheckpoints]) resumes at the first document not handed out,
// under any number of ranks. [ParquetFile] is the row-group reader beneath.
package data

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
)

// Split is one config/split of a dataset with its number of rows.
type Split struct {
	// Config is the dataset config (for FineWeb a CommonCrawl dump such as
	// CC-MAIN-2013-20).
	Config string `json:"config"`
	// Split is the split name, "train" for FineWeb.
	Split string `json:"split"`
	// NumRows is the number of rows (documents) in the split.
	NumRows int64 `json:"num_rows"`
}

// Page names a range of rows of one split.
type Page struct {
	Config string `json:"config"`
	Split  string `json:"split"`
	Offset int64  `json:"offset"`
	Length int    `json:"length"`
}

// String formats the page as config/split@offset+length.
func (p Page) String() string {
	return fmt.Sprintf("%s/%s@%d+%d", p.Config, p.Split, p.Offset, p.Length)
}

// Row is one document.
type Row struct {
	// Index is the row index within its split.
	Index int64 `json:"row_idx"`
	// Text is the document text.
	Text string `json:"text"`
	// Truncated reports that the server cut the text cell (datasets-server
	// truncated_cells); the text is then incomplete.
	Truncated bool `json:"truncated,omitempty"`
}

// Source gives pages of rows of a dataset.
type Source interface {
	// Splits returns the splits with their sizes, in a stable order.
	Splits(ctx context.Context) ([]Split, error)
	// Rows returns the rows [p.Offset, p.Offset+p.Length) of a split; fewer
	// when the split ends first.
	Rows(ctx context.Context, p Page) ([]Row, error)
}

// Errors shared by the sources.
var (
	// ErrSkipPage marks a page the validator skips without retrying (the
	// datasets-server answers HTTP 500 for some pages).
	ErrSkipPage = errors.New("page skipped")
	// ErrInvalidResponse means a server answer could not be decoded; the
	// validator gives up on such a page.
	ErrInvalidResponse = errors.New("invalid response")
	// ErrNoSplits means a source has no usable split.
	ErrNoSplits = errors.New("no splits")
	// ErrUnknownSplit means a page names a config/split the source lacks.
	ErrUnknownSplit = errors.New("unknown config/split")
)

// NewRand returns the deterministic random generator used for page choice.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// RandomPages picks n pages of rowsPerPage rows like the validator's
// get_random_pages: a uniformly chosen split, then an offset uniform in
// [0, NumRows−1−rowsPerPage]. Where a split has no more than rowsPerPage+1
// rows (Python raises there) the offset is 0 and the page is the whole split.
func RandomPages(rng *rand.Rand, splits []Split, n, rowsPerPage int) ([]Page, error) {
	if len(splits) == 0 {
		return nil, ErrNoSplits
	}
	if rowsPerPage <= 0 {
		return nil, fmt.Errorf("pick pages: rows per page %d must be positive", rowsPerPage)
	}
	pages := make([]Page, 0, n)
	for i := 0; i < n; i++ {
		s := splits[rng.IntN(len(splits))]
		var off int64
		if max := s.NumRows - 1 - int64(rowsPerPage); max > 0 {
			off = rng.Int64N(max + 1)
		}
		pages = append(pages, Page{Config: s.Config, Split: s.Split, Offset: off, Length: rowsPerPage})
	}
	return pages, nil
}

// MaxConsecutiveFailures is the number of pages in a row that may fail
// before [Fetch] gives up.
const MaxConsecutiveFailures = 10

// Fetched is one page that was read and its texts (at most Length).
type Fetched struct {
	Page  Page     `json:"page"`
	Texts []string `json:"texts"`
}

// Texts returns the texts of all pages in order.
func Texts(pages []Fetched) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p.Texts...)
	}
	return out
}

// Pages returns the pages, for replay with [FetchPages].
func Pages(pages []Fetched) []Page {
	out := make([]Page, len(pages))
	for i, p := range pages {
		out[i] = p.Page
	}
	return out
}

// Fetch loads numPages random pages of rowsPerPage rows, as the validator's
// fetch_data_to_rows: it keeps picking random pages until numPages pages were
// read, skipping (and logging) pages that fail. Unlike Python it gives up
// after 3·numPages+10 attempts or [MaxConsecutiveFailures] failures in a row
// (a server that is down), returning what it read and an error.
func Fetch(ctx context.Context, src Source, rng *rand.Rand, numPages, rowsPerPage int) ([]Fetched, error) {
	splits, err := src.Splits(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch pages: %w", err)
	}
	var out []Fetched
	maxAttempts := 3*numPages + 10
	failures := 0
	for attempt := 0; len(out) < numPages; attempt++ {
		if attempt >= maxAttempts || failures >= MaxConsecutiveFailures {
			return out, fmt.Errorf("fetch pages: only %d of %d pages after %d attempts (%d failed in a row)", len(out), numPages, attempt, failures)
		}
		pp, err := RandomPages(rng, splits, 1, rowsPerPage)
		if err != nil {
			return nil, fmt.Errorf("fetch pages: %w", err)
		}
		rows, err := src.Rows(ctx, pp[0])
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			slog.Warn("skipping page", "page", pp[0].String(), "err", err)
			failures++
			continue
		}
		failures = 0
		f := Fetched{Page: pp[0]}
		for i, r := range rows {
			if i >= rowsPerPage {
				break
			}
			f.Texts = append(f.Texts, r.Text)
		}
		out = append(out, f)
	}
	return out, nil
}

// FetchPages loads the given pages in order and returns their texts (each
// page cut to its Length). A page that fails is an error.
func FetchPages(ctx context.Context, src Source, pages []Page) ([]string, error) {
	var texts []string
	for _, p := range pages {
		rows, err := src.Rows(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("fetch page %s: %w", p, err)
		}
		for i, r := range rows {
			if i >= p.Length {
				break
			}
			texts = append(texts, r.Text)
		}
	}
	return texts, nil
}
