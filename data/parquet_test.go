package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/coldint/coldint/internal/testenv"
)

// shardSpec is one file for tools/parquetjs/write.mjs.
type shardSpec struct {
	Path         string    `json:"path"`
	Compression  string    `json:"compression"`
	RowGroupSize int       `json:"rowGroupSize"`
	PageSize     int       `json:"pageSize,omitempty"`
	V2           bool      `json:"v2,omitempty"`
	Dictionary   bool      `json:"dictionary,omitempty"`
	Docs         []*string `json:"docs"`
}

// writeShards writes parquet files with the Rust arrow/parquet writer (npm
// parquet-wasm), or skips the test when it is not installed.
func writeShards(t testing.TB, specs []shardSpec) {
	t.Helper()
	node := testenv.Node(t)
	mods := testenv.NodeModules(t, "parquet")
	in, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(testenv.Root(), "tools", "parquetjs", "write.mjs"))
	cmd.Env = append(os.Environ(), "PARQUETJS_MODULES="+mods)
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write parquet shards with node: %v\n%s", err, out)
	}
}

func strs(ss ...string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// oddDocs returns n documents with unicode, empty strings, whitespace, NUL
// bytes and a few long ones (about 300 KB and 1.2 MB).
func oddDocs(n int) []*string {
	var out []string
	for i := 0; i < n; i++ {
		switch i % 7 {
		case 0:
			out = append(out, "")
		case 1:
			out = append(out, fmt.Sprintf("doc %d: héllo wörld, Ελληνικά, 日本語のテキスト, emoji 🌍🚀, combining é", i))
		case 2:
			out = append(out, strings.Repeat(fmt.Sprintf("line %d with tabs\tand\r\nCRLF ", i), 1+i%5))
		case 3:
			out = append(out, " \n\n ")
		case 4:
			out = append(out, "nul\x00inside and \u2028 separators \ufeff bom")
		case 5:
			out = append(out, strings.Repeat("long document "+fmt.Sprint(i)+" ünïcödé ", 10000+i))
		default:
			out = append(out, fmt.Sprintf("plain %d", i))
		}
	}
	if n > 10 {
		out[10] = strings.Repeat("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ", 50000) // 1.2 MB of 4-byte runes
	}
	return strs(out...)
}

// readAllRows reads every row of the column, row group by row group.
func readAllRows(t *testing.T, path, column string) (rows []ParquetRow, groups []int64) {
	t.Helper()
	pf, c, err := OpenParquetFile(path, column)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for g := 0; g < pf.NumRowGroups(); g++ {
		groups = append(groups, pf.RowGroupRows(g))
		err := pf.ReadRowGroup(context.Background(), g, 0, func(r ParquetRow) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return rows, groups
}

func TestParquetParityWithRustWriter(t *testing.T) {
	dir := t.TempDir()
	docs := oddDocs(40)
	withNulls := oddDocs(20)
	withNulls[3], withNulls[17] = nil, nil
	cases := []shardSpec{
		{Path: "snappy.parquet", Compression: "snappy", RowGroupSize: 7, Docs: docs},
		{Path: "zstd.parquet", Compression: "zstd", RowGroupSize: 16, Docs: docs},
		{Path: "zstd-v2-pages.parquet", Compression: "zstd", RowGroupSize: 13, PageSize: 2048, V2: true, Docs: docs},
		{Path: "snappy-dict.parquet", Compression: "snappy", RowGroupSize: 9, Dictionary: true, Docs: strs("a", "b", "a", "", "a", "b", "ç", "ç", "a", "b", "a")},
		{Path: "plain-nulls.parquet", Compression: "none", RowGroupSize: 6, Docs: withNulls},
		{Path: "one-group.parquet", Compression: "zstd", RowGroupSize: 1000, Docs: docs[:3]},
	}
	for i := range cases {
		cases[i].Path = filepath.Join(dir, cases[i].Path)
	}
	writeShards(t, cases)
	for _, tc := range cases {
		t.Run(filepath.Base(tc.Path), func(t *testing.T) {
			rows, groups := readAllRows(t, tc.Path, "text")
			if len(rows) != len(tc.Docs) {
				t.Fatalf("read %d rows, wrote %d", len(rows), len(tc.Docs))
			}
			for i, want := range tc.Docs {
				got := rows[i]
				if got.Row != rowInGroup(groups, i) {
					t.Fatalf("row %d: position %d in its row group, want %d", i, got.Row, rowInGroup(groups, i))
				}
				if want == nil {
					if !got.Null || got.Text != "" {
						t.Fatalf("row %d: want null, got %+v", i, got)
					}
					continue
				}
				if got.Null || got.Text != *want {
					t.Fatalf("row %d: got %q (null %v, %d bytes), want %q (%d bytes)", i, clip(got.Text), got.Null, len(got.Text), clip(*want), len(*want))
				}
			}
			checkCodec(t, tc.Path, tc.Compression)
			wantGroups := (len(tc.Docs) + tc.RowGroupSize - 1) / tc.RowGroupSize
			if len(groups) != wantGroups {
				t.Fatalf("%d row groups, want %d", len(groups), wantGroups)
			}
		})
	}
}

// checkCodec checks that the writer compressed the text column as asked.
func checkCodec(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	codec := map[string]format.CompressionCodec{"none": format.Uncompressed, "snappy": format.Snappy, "zstd": format.Zstd}[want]
	for g, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec != codec {
				t.Fatalf("row group %d column %q: codec %v, want %s", g, c.MetaData.PathInSchema, c.MetaData.Codec, want)
			}
		}
	}
}

func rowInGroup(groups []int64, i int) int64 {
	r := int64(i)
	for _, g := range groups {
		if r < g {
			return r
		}
		r -= g
	}
	return -1
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// rangeRecorder records the byte ranges read from a file.
type rangeRecorder struct {
	f      *os.File
	mu     sync.Mutex
	ranges [][2]int64
}

func (r *rangeRecorder) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.ranges = append(r.ranges, [2]int64{off, off + int64(len(p))})
	r.mu.Unlock()
	return r.f.ReadAt(p, off)
}

// TestParquetReadsOnlyItsColumn checks that reading the text column never
// touches the bytes of the other columns' chunks.
func TestParquetReadsOnlyItsColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cols.parquet")
	writeShards(t, []shardSpec{{Path: path, Compression: "zstd", RowGroupSize: 10, Docs: oddDocs(30)}})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	rec := &rangeRecorder{f: f}
	pf, err := OpenParquet(rec, st.Size(), path, "text")
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g < pf.NumRowGroups(); g++ {
		if err := pf.ReadRowGroup(context.Background(), g, 0, func(ParquetRow) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	for g, rg := range meta.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.PathInSchema[0] == "text" {
				continue
			}
			start := c.MetaData.DataPageOffset
			if c.MetaData.DictionaryPageOffset > 0 && c.MetaData.DictionaryPageOffset < start {
				start = c.MetaData.DictionaryPageOffset
			}
			end := start + c.MetaData.TotalCompressedSize
			for _, r := range rec.ranges {
				if r[0] < end && start < r[1] {
					t.Fatalf("row group %d: read [%d,%d) overlaps column %q at [%d,%d)", g, r[0], r[1], c.MetaData.PathInSchema, start, end)
				}
			}
		}
	}
}

// TestParquetResumeInsideRowGroup starts row groups at every row, across
// page boundaries.
func TestParquetResumeInsideRowGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pages.parquet")
	docs := oddDocs(25)
	writeShards(t, []shardSpec{{Path: path, Compression: "snappy", RowGroupSize: 25, PageSize: 1024, Docs: docs}})
	pf, c, err := OpenParquetFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for from := int64(0); from <= 25; from++ {
		var got []string
		err := pf.ReadRowGroup(context.Background(), 0, from, func(r ParquetRow) error {
			if r.Row != from+int64(len(got)) {
				return fmt.Errorf("row %d, want %d", r.Row, from+int64(len(got)))
			}
			got = append(got, r.Text)
			return nil
		})
		if err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		if len(got) != 25-int(from) {
			t.Fatalf("from %d: %d rows", from, len(got))
		}
		for i, s := range got {
			if s != *docs[int(from)+i] {
				t.Fatalf("from %d: row %d differs", from, int(from)+i)
			}
		}
	}
}

func TestParquetErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeShards(t, []shardSpec{{Path: good, Compression: "snappy", RowGroupSize: 4, Docs: oddDocs(9)}})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, column string
		want               error
		msg                []string
	}{
		{"jsonl", write("a.jsonl", []byte(`{"text":"hello"}`+"\n")), "text", ErrNotParquet, []string{"a.jsonl", "magic"}},
		{"tiny", write("d.parquet", []byte("PAR1PAR1")), "text", ErrNotParquet, []string{"d.parquet", "too short"}},
		{"text file", write("b.parquet", bytes.Repeat([]byte("not parquet "), 10)), "text", ErrNotParquet, []string{"b.parquet", "magic"}},
		{"truncated", write("c.parquet", data[:len(data)-100]), "text", ErrNotParquet, []string{"c.parquet"}},
		{"missing column", good, "content", ErrNoColumn, []string{`"content"`, `"id"`, `"text"`, `"url"`}},
		{"int column", good, "id", ErrNotString, []string{`"id"`, "INT32"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c, err := OpenParquetFile(tc.path, tc.column)
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v is not %v", err, tc.want)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %s", err, m)
				}
			}
		})
	}
}

// TestParquetDamagedPages flips bytes inside the column data: the reader
// must return an error or the right number of rows, never panic or hang.
func TestParquetDamagedPages(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeShards(t, []shardSpec{{Path: good, Compression: "zstd", RowGroupSize: 5, Docs: oddDocs(12)}})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	failures, panics := 0, 0
	for off := 4; off < len(data)-8; off += 1 + len(data)/300 {
		b := bytes.Clone(data)
		b[off] ^= 0xff
		pf, err := OpenParquet(bytes.NewReader(b), int64(len(b)), "damaged", "text")
		if err != nil {
			failures++
			if strings.Contains(err.Error(), "panicked") {
				panics++
			}
			continue
		}
		for g := 0; g < pf.NumRowGroups(); g++ {
			if err := pf.ReadRowGroup(context.Background(), g, 0, func(ParquetRow) error { return nil }); err != nil {
				if !errors.Is(err, ErrNotParquet) {
					t.Fatalf("offset %d: error %v is not ErrNotParquet", off, err)
				}
				failures++
				if strings.Contains(err.Error(), "panicked") {
					panics++
				}
				break
			}
		}
	}
	if failures == 0 {
		t.Fatal("no damaged copy was refused")
	}
	t.Logf("%d damaged copies refused, %d of them after a recovered library panic", failures, panics)
}

// TestParquetHugeHeaderClaimAllocatesLittle damages the first page header of
// the text column so that a statistics value claims 1 GiB. The parquet
// library allocates such claims before reading them (found by
// FuzzOpenParquet); the reader must refuse the page without doing so.
func TestParquetHugeHeaderClaimAllocatesLittle(t *testing.T) {
	b := goShardBytes(t, []string{"alpha", "beta", "gamma", "delta"}, 4)
	meta, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	start := -1
	for _, c := range meta.Metadata().RowGroups[0].Columns {
		if c.MetaData.PathInSchema[0] == "text" {
			start = int(c.MetaData.DataPageOffset)
			if d := int(c.MetaData.DictionaryPageOffset); d > 0 && d < start {
				start = d
			}
		}
	}
	header := []byte{
		0x15, 0x00, // 1: type DATA_PAGE
		0x15, 0xc8, 0x01, // 2: uncompressed_page_size 100
		0x15, 0xc8, 0x01, // 3: compressed_page_size 100
		0x2c,       // 5: data_page_header {
		0x15, 0x0a, // 1: num_values 5
		0x15, 0x00, 0x15, 0x00, 0x15, 0x00, // 2-4: encodings
		0x1c,                               // 5: statistics {
		0x68, 0x80, 0x80, 0x80, 0x80, 0x04, // 6: min_value, 1 GiB long
	}
	copy(b[start:], header)
	pf, err := OpenParquet(bytes.NewReader(b), int64(len(b)), "damaged", "text")
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = pf.ReadRowGroup(context.Background(), 0, 0, func(ParquetRow) error { return nil })
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrNotParquet) {
		t.Fatalf("error %v, want ErrNotParquet", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Fatalf("reading the damaged page allocated %d MiB", n>>20)
	}
	t.Logf("refused: %v", err)
}
