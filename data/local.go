package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TextMode says how a .txt file is cut into documents.
type TextMode int

// Text modes of [LocalOptions].
const (
	// Paragraphs (the default): documents are separated by one or more blank
	// (whitespace-only) lines; the lines of a paragraph keep their newlines.
	Paragraphs TextMode = iota
	// Lines: every non-blank line is a document.
	Lines
	// WholeFile: every file is one document (for folders of documents).
	WholeFile
)

// ParseTextMode parses "paragraph", "line" or "file".
func ParseTextMode(s string) (TextMode, error) {
	switch s {
	case "paragraph", "paragraphs", "":
		return Paragraphs, nil
	case "line", "lines":
		return Lines, nil
	case "file", "whole-file":
		return WholeFile, nil
	}
	return 0, fmt.Errorf("parse text mode %q: must be paragraph, line or file", s)
}

// LocalOptions tunes [OpenLocal].
type LocalOptions struct {
	// TextMode cuts .txt files into documents.
	TextMode TextMode
	// PerFile makes every data file its own config (named by its path
	// relative to the input); by default each input path (file or folder) is
	// one config named by its base name.
	PerFile bool
	// Split is the split name of every config ("train" when empty).
	Split string
}

// Local is a [Source] over local files, read into memory once. Supported:
// .txt and .txt.gz (cut by TextMode), .jsonl and .jsonl.gz (one document per
// record, field "text"). Folders are walked in sorted order; other files in
// them are ignored. Documents keep file order, so pages are deterministic.
type Local struct {
	splits []Split
	docs   map[string][]string // key config+"\x00"+split
}

var _ Source = (*Local)(nil)

// Supported reports whether name has an extension [OpenLocal] reads.
func Supported(name string) bool {
	for _, ext := range []string{".txt", ".txt.gz", ".jsonl", ".jsonl.gz"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// OpenLocal reads the documents of the given files and folders.
func OpenLocal(ctx context.Context, paths []string, opts LocalOptions) (*Local, error) {
	split := opts.Split
	if split == "" {
		split = "train"
	}
	l := &Local{docs: map[string][]string{}}
	add := func(config string, docs []string) error {
		if len(docs) == 0 {
			return nil
		}
		key := config + "\x00" + split
		if _, ok := l.docs[key]; !ok {
			l.splits = append(l.splits, Split{Config: config, Split: split})
		}
		l.docs[key] = append(l.docs[key], docs...)
		return nil
	}
	for _, p := range paths {
		files, err := dataFiles(p)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(filepath.Clean(p))
		for _, f := range files {
			docs, err := readFile(ctx, f, opts.TextMode)
			if err != nil {
				return nil, err
			}
			config := base
			if opts.PerFile {
				if rel, err := filepath.Rel(p, f); err == nil && rel != "." {
					config = filepath.ToSlash(filepath.Join(base, rel))
				}
			}
			if err := add(config, docs); err != nil {
				return nil, err
			}
		}
	}
	for i, s := range l.splits {
		l.splits[i].NumRows = int64(len(l.docs[s.Config+"\x00"+s.Split]))
	}
	if len(l.splits) == 0 {
		return nil, fmt.Errorf("open local data %q: %w (no documents)", paths, ErrNoSplits)
	}
	return l, nil
}

// dataFiles lists the supported files of a path: itself, or a folder's
// supported files in sorted walk order.
func dataFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("open local data: %w", err)
	}
	if !st.IsDir() {
		if !Supported(p) {
			return nil, fmt.Errorf("open local data %q: unsupported file type (want .txt, .txt.gz, .jsonl or .jsonl.gz)", p)
		}
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && Supported(d.Name()) && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open local data %q: %w", p, err)
	}
	sort.Strings(out)
	return out, nil
}

func readFile(ctx context.Context, name string, mode TextMode) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read data file: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read data file %q: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	var docs []string
	if strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".jsonl.gz") {
		err := ReadJSONL(ctx, r, name, func(t string) error {
			docs = append(docs, t)
			return nil
		})
		return docs, err
	}
	docs, err = SplitText(r, mode)
	if err != nil {
		return nil, fmt.Errorf("read data file %q: %w", name, err)
	}
	return docs, nil
}

// SplitText cuts plain text into documents by mode (see [TextMode]).
// Carriage returns before newlines are dropped.
func SplitText(r io.Reader, mode TextMode) ([]string, error) {
	if mode == WholeFile {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		s := strings.ReplaceAll(string(b), "\r\n", "\n")
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return []string{strings.TrimRight(s, "\n")}, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), MaxLine)
	var (
		docs []string
		para bytes.Buffer
	)
	flush := func() {
		if para.Len() > 0 {
			docs = append(docs, para.String())
			para.Reset()
		}
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		blank := strings.TrimSpace(line) == ""
		switch {
		case mode == Lines:
			if !blank {
				docs = append(docs, line)
			}
		case blank:
			flush()
		default:
			if para.Len() > 0 {
				para.WriteByte('\n')
			}
			para.WriteString(line)
		}
	}
	flush()
	return docs, sc.Err()
}

// Splits returns one split per config, in input order.
func (l *Local) Splits(context.Context) ([]Split, error) {
	return append([]Split(nil), l.splits...), nil
}

// Rows returns the documents [p.Offset, p.Offset+p.Length) of a config.
func (l *Local) Rows(ctx context.Context, p Page) ([]Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	docs, ok := l.docs[p.Config+"\x00"+p.Split]
	if !ok {
		return nil, fmt.Errorf("get rows %s: %w", p, ErrUnknownSplit)
	}
	if p.Offset < 0 || p.Length <= 0 {
		return nil, fmt.Errorf("get rows %s: offset must be ≥ 0 and length > 0", p)
	}
	var out []Row
	for i := p.Offset; i < int64(len(docs)) && i < p.Offset+int64(p.Length); i++ {
		out = append(out, Row{Index: i, Text: docs[i]})
	}
	return out, nil
}

// ReadLocalTexts returns every document of the local text sources at paths
// (files or folders, as [OpenLocal] reads them), split by split in order.
func ReadLocalTexts(ctx context.Context, paths []string) ([]string, error) {
	src, err := OpenLocal(ctx, paths, LocalOptions{})
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, s := range src.splits {
		rows, err := src.Rows(ctx, Page{Config: s.Config, Split: s.Split, Offset: 0, Length: int(s.NumRows)})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			texts = append(texts, r.Text)
		}
	}
	return texts, nil
}
