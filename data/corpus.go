package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// CorpusSource is one public-domain text from a Debian package (docs/hub.md#text-corpus).
type CorpusSource struct {
	// Name is the short name used in --sources, record ids and the manifest.
	Name string `json:"name"`
	// Packages are the Debian packages that hold it.
	Packages []string `json:"packages"`
	// License of the text.
	License string `json:"license"`
	// Document says what one document (row) is.
	Document string `json:"document"`
	extract  func(ctx context.Context, opts CorpusOptions) ([]string, error)
}

// CorpusSources returns the known sources, in build order.
func CorpusSources() []CorpusSource {
	return []CorpusSource{
		{Name: "jargon", Packages: []string{"jargon-text"}, License: "public domain",
			Document: "one Jargon File 4.4.7 entry, paragraphs re-flowed to single lines", extract: extractJargon},
		{Name: "devil", Packages: []string{"dict-devil"}, License: "public domain",
			Document: "one Devil's Dictionary entry (line breaks kept, for the verse)", extract: extractDevil},
		{Name: "kjv", Packages: []string{"bible-kjv", "bible-kjv-text"}, License: "public domain (text)",
			Document: "one King James Bible chapter, verses joined by spaces", extract: extractKJV},
	}
}

// CorpusOptions tunes [BuildCorpus].
type CorpusOptions struct {
	// Out is the output folder (created when missing).
	Out string
	// Sources are the names of the sources to include; empty means all.
	Sources []string
	// ShardDocs is the number of documents per shard (default 1000).
	ShardDocs int
	// Seed of the shuffle that mixes the sources across shards.
	Seed uint64
	// Root is the file-system root where the packages are installed
	// (default "/"; tests point it elsewhere).
	Root string
}

// ShardInfo describes one written shard.
type ShardInfo struct {
	Name string `json:"name"`
	Docs int    `json:"docs"`
	// Bytes is the compressed size; SHA256 the B64 sha256 of the file.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// SourceInfo describes one source in the manifest.
type SourceInfo struct {
	CorpusSource
	Docs      int   `json:"docs"`
	TextBytes int64 `json:"text_bytes"`
}

// CorpusManifest is written as manifest.json beside the shards.
type CorpusManifest struct {
	Seed      uint64       `json:"seed"`
	ShardDocs int          `json:"shard_docs"`
	Docs      int          `json:"docs"`
	Sources   []SourceInfo `json:"sources"`
	Shards    []ShardInfo  `json:"shards"`
}

// ErrMissingPackage means a source's Debian package is not installed.
var ErrMissingPackage = errors.New("debian package not installed")

// ManifestFile is the name of the manifest in the corpus folder.
const ManifestFile = "manifest.json"

// BuildCorpus extracts the chosen sources from their installed Debian
// packages, shuffles all documents with a PCG generator seeded by opts.Seed,
// and writes them as shard-NNNNN.jsonl.gz files of opts.ShardDocs records
// ({"text","id","source"}) plus manifest.json. The output is byte-identical
// for the same packages, sources and options. Files are written atomically;
// stale shards of an earlier build are removed.
func BuildCorpus(ctx context.Context, opts CorpusOptions) (*CorpusManifest, error) {
	if opts.Out == "" {
		return nil, errors.New("build corpus: no output folder")
	}
	if opts.ShardDocs <= 0 {
		opts.ShardDocs = 1000
	}
	if opts.Root == "" {
		opts.Root = "/"
	}
	chosen, err := chooseSources(opts.Sources)
	if err != nil {
		return nil, err
	}
	man := &CorpusManifest{Seed: opts.Seed, ShardDocs: opts.ShardDocs}
	var recs []Record
	for _, src := range chosen {
		docs, err := src.extract(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("build corpus: source %q: %w", src.Name, err)
		}
		info := SourceInfo{CorpusSource: src, Docs: len(docs)}
		for i, d := range docs {
			info.TextBytes += int64(len(d))
			recs = append(recs, Record{Text: d, ID: fmt.Sprintf("%s/%05d", src.Name, i), Source: src.Name})
		}
		slog.Info("extracted corpus source", "source", src.Name, "docs", len(docs), "bytes", info.TextBytes)
		man.Sources = append(man.Sources, info)
	}
	rng := NewRand(opts.Seed)
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	man.Docs = len(recs)

	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("build corpus: %w", err)
	}
	keep := map[string]bool{}
	for start, n := 0, 0; start < len(recs); start, n = start+opts.ShardDocs, n+1 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+opts.ShardDocs, len(recs))
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err := WriteJSONL(zw, recs[start:end]); err != nil {
			return nil, fmt.Errorf("build corpus: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("build corpus: %w", err)
		}
		name := fmt.Sprintf("shard-%05d.jsonl.gz", n)
		if err := writeAtomic(filepath.Join(opts.Out, name), buf.Bytes()); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(buf.Bytes())
		man.Shards = append(man.Shards, ShardInfo{Name: name, Docs: end - start, Bytes: int64(buf.Len()),
			SHA256: base64.StdEncoding.EncodeToString(sum[:])})
		keep[name] = true
	}
	old, _ := filepath.Glob(filepath.Join(opts.Out, "shard-*.jsonl.gz"))
	for _, o := range old {
		if !keep[filepath.Base(o)] {
			if err := os.Remove(o); err != nil {
				return nil, fmt.Errorf("build corpus: remove stale shard: %w", err)
			}
		}
	}
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(opts.Out, ManifestFile), append(mj, '\n')); err != nil {
		return nil, err
	}
	return man, nil
}

func chooseSources(names []string) ([]CorpusSource, error) {
	all := CorpusSources()
	if len(names) == 0 {
		return all, nil
	}
	var out []CorpusSource
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("build corpus: unknown source %q", n)
		}
	}
	return out, nil
}

// writeAtomic writes data to a temp file, syncs it and renames it over name.
func writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %q: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", name, err)
	}
	return nil
}

// openInstalled opens a file of an installed package, or returns
// ErrMissingPackage naming the package to install.
func openInstalled(opts CorpusOptions, rel, pkg string) (*os.File, error) {
	p := filepath.Join(opts.Root, rel)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q is missing (apt-get install %s)", ErrMissingPackage, p, pkg)
	}
	return f, err
}

func gunzipFile(opts CorpusOptions, rel, pkg string) ([]byte, error) {
	f, err := openInstalled(opts, rel, pkg)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", rel, err)
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

func extractJargon(ctx context.Context, opts CorpusOptions) ([]string, error) {
	b, err := gunzipFile(opts, "usr/share/doc/jargon-text/jargon.txt.gz", "jargon-text")
	if err != nil {
		return nil, err
	}
	return ParseJargon(bytes.NewReader(b))
}

var (
	jargonEntry   = regexp.MustCompile(`^   :[^:]+:`)
	jargonLetter  = regexp.MustCompile(`^  [A-Z]$`)
	jargonAppendx = regexp.MustCompile(`^\s+Part[\s\x{00A0}]+[IVX]+\.[\s\x{00A0}]`)
)

// ParseJargon cuts the text Jargon File into entries. An entry starts at a
// line "   :headword: ..." and runs to the next entry, the letter heading of
// the next section ("  B"), or the appendices; text before the first entry
// is skipped. Each paragraph is re-flowed onto one line; paragraphs are
// separated by a blank line.
func ParseJargon(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var (
		docs   []string
		paras  []string
		cur    []string
		inside bool
	)
	endPara := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	endDoc := func() {
		endPara()
		if len(paras) > 0 {
			docs = append(docs, strings.Join(paras, "\n\n"))
		}
		paras = nil
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case jargonEntry.MatchString(line):
			endDoc()
			inside = true
		case jargonLetter.MatchString(line), jargonAppendx.MatchString(line):
			endDoc()
			inside = false
			continue
		}
		if !inside {
			continue
		}
		if strings.TrimSpace(line) == "" {
			endPara()
			continue
		}
		cur = append(cur, strings.TrimSpace(line))
	}
	endDoc()
	return docs, sc.Err()
}

func extractDevil(ctx context.Context, opts CorpusOptions) ([]string, error) {
	data, err := gunzipFile(opts, "usr/share/dictd/devil.dict.dz", "dict-devil")
	if err != nil {
		return nil, err
	}
	f, err := openInstalled(opts, "usr/share/dictd/devil.index", "dict-devil")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseDict(data, f)
}

// dictNumber decodes a dictd index number (base 64, digits A–Z a–z 0–9 + /).
func dictNumber(s string) (int64, error) {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("bad dictd number %q", s)
	}
	var v int64
	for _, c := range s {
		i := strings.IndexRune(digits, c)
		if i < 0 {
			return 0, fmt.Errorf("bad dictd number %q", s)
		}
		v = v*64 + int64(i)
	}
	return v, nil
}

// ParseDict returns the entries of a dictd database (uncompressed data and
// its .index), in data order, each once even when several headwords point
// to it, without the 00database* meta entries. Trailing spaces are trimmed.
func ParseDict(data []byte, index io.Reader) ([]string, error) {
	type span struct{ off, n int64 }
	seen := map[span]bool{}
	var spans []span
	sc := bufio.NewScanner(index)
	for ln := 1; sc.Scan(); ln++ {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) < 3 {
			return nil, fmt.Errorf("parse dict index line %d: want 3 tab-separated fields", ln)
		}
		if strings.HasPrefix(parts[0], "00database") || strings.HasPrefix(parts[0], "00-database") {
			continue
		}
		off, err1 := dictNumber(parts[1])
		n, err2 := dictNumber(parts[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("parse dict index line %d: %w", ln, err)
		}
		if off+n > int64(len(data)) {
			return nil, fmt.Errorf("parse dict index line %d: entry past the end of the data", ln)
		}
		s := span{off, n}
		if !seen[s] {
			seen[s] = true
			spans = append(spans, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Data order.
	sortSpans := func(a, b span) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	}
	slices.SortFunc(spans, sortSpans)
	var docs []string
	for _, s := range spans {
		lines := strings.Split(string(data[s.off:s.off+s.n]), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " \t\r")
		}
		if d := strings.Trim(strings.Join(lines, "\n"), "\n"); d != "" {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

func extractKJV(ctx context.Context, opts CorpusOptions) ([]string, error) {
	prog := filepath.Join(opts.Root, "usr/bin/bible")
	lib := filepath.Join(opts.Root, "usr/lib")
	if _, err := os.Stat(prog); err != nil {
		return nil, fmt.Errorf("%w: %q is missing (apt-get install bible-kjv bible-kjv-text)", ErrMissingPackage, prog)
	}
	if _, err := os.Stat(filepath.Join(lib, "bible.data")); err != nil {
		return nil, fmt.Errorf("%w: %q is missing (apt-get install bible-kjv-text)", ErrMissingPackage, filepath.Join(lib, "bible.data"))
	}
	cmd := exec.CommandContext(ctx, prog, "-f", "-p", lib, "gen1:1-rev22:21")
	cmd.Stdin = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %q: %w: %s", prog, err, strings.TrimSpace(stderr.String()))
	}
	return ParseKJV(bytes.NewReader(out))
}

var kjvVerse = regexp.MustCompile(`^(\S*?[A-Za-z])(\d+):(\d+) (.*)$`)

// ParseKJV groups the output of `bible -f` ("Ge1:1 In the beginning ...",
// one verse per line) into chapters, the verses of a chapter joined by one
// space. A line that is not a verse is an error.
func ParseKJV(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var (
		docs   []string
		cur    []string
		curKey string
	)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		m := kjvVerse.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("parse bible output line %d: not a verse: %q", ln, line)
		}
		key := m[1] + m[2]
		if key != curKey && len(cur) > 0 {
			docs = append(docs, strings.Join(cur, " "))
			cur = nil
		}
		curKey = key
		cur = append(cur, strings.TrimSpace(m[4]))
	}
	if len(cur) > 0 {
		docs = append(docs, strings.Join(cur, " "))
	}
	return docs, sc.Err()
}
