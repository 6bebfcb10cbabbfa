package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// DefaultTextColumn is the column of a parquet shard read as document text.
const DefaultTextColumn = "text"

// Errors of the parquet reader. Check them with errors.Is.
var (
	// ErrNotParquet means the bytes are not a parquet file, or its footer or
	// pages are damaged.
	ErrNotParquet = errors.New("not a valid parquet file")
	// ErrNoColumn means the text column is not in the file.
	ErrNoColumn = errors.New("column not found")
	// ErrNotString means the text column does not hold one UTF-8 string per row.
	ErrNotString = errors.New("column is not a string column")
)

// ParquetFile reads one string column of a parquet file, row group by row
// group. Only the footer is read when it is opened, and only that column's
// chunks afterwards: the other columns of a shard are never read.
type ParquetFile struct {
	name   string
	column string
	r      io.ReaderAt
	file   *parquet.File
	index  int // leaf column index
	groups []int64
	chunks [][2]int64 // byte range of the column's chunk in each row group
}

// OpenParquet reads the footer of a parquet file of size bytes from r and
// checks that column is a top-level string column. name is used in errors.
func OpenParquet(r io.ReaderAt, size int64, name, column string) (pf *ParquetFile, err error) {
	if column == "" {
		column = DefaultTextColumn
	}
	defer recoverParquet(&err, "open parquet %q", name)
	if size < 12 {
		return nil, fmt.Errorf("open parquet %q: %d bytes is too short: %w", name, size, ErrNotParquet)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, fmt.Errorf("open parquet %q: %w: %v", name, ErrNotParquet, err)
	}
	leaf, ok := f.Schema().Lookup(column)
	if !ok {
		return nil, fmt.Errorf("open parquet %q: %w: %q (the file has %s)", name, ErrNoColumn, column, columnNames(f.Schema()))
	}
	if err := checkStringColumn(leaf); err != nil {
		return nil, fmt.Errorf("open parquet %q: column %q: %w", name, column, err)
	}
	pf = &ParquetFile{name: name, column: column, r: r, file: f, index: leaf.ColumnIndex}
	var total int64
	meta := f.Metadata().RowGroups
	for i, rg := range f.RowGroups() {
		n := rg.NumRows()
		if n < 0 || total+n < total {
			return nil, fmt.Errorf("open parquet %q: row group %d claims %d rows: %w", name, i, n, ErrNotParquet)
		}
		if cc := rg.ColumnChunks(); leaf.ColumnIndex >= len(cc) || i >= len(meta) || leaf.ColumnIndex >= len(meta[i].Columns) {
			return nil, fmt.Errorf("open parquet %q: row group %d has %d column chunks: %w", name, i, len(cc), ErrNotParquet)
		}
		cm := meta[i].Columns[leaf.ColumnIndex].MetaData
		start := cm.DataPageOffset
		if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
			start = cm.DictionaryPageOffset
		}
		end := start + cm.TotalCompressedSize
		if start < 4 || cm.TotalCompressedSize < 0 || end > size-8 || end < start {
			return nil, fmt.Errorf("open parquet %q: row group %d: column chunk [%d, %d) is outside the file of %d bytes: %w", name, i, start, end, size, ErrNotParquet)
		}
		total += n
		pf.groups = append(pf.groups, n)
		pf.chunks = append(pf.chunks, [2]int64{start, end})
	}
	return pf, nil
}

// OpenParquetFile opens a parquet file on disk; Close the returned closer
// when done.
func OpenParquetFile(path, column string) (*ParquetFile, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open parquet: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open parquet: %w", err)
	}
	pf, err := OpenParquet(f, st.Size(), path, column)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return pf, f, nil
}

// recoverParquet turns a panic of the parquet library on damaged input into
// an [ErrNotParquet] error, so that bad data never crashes a trainer.
func recoverParquet(err *error, format string, args ...any) {
	if r := recover(); r != nil {
		what := fmt.Sprintf(format, args...)
		*err = fmt.Errorf("%s: %w: the parquet library panicked: %v", what, ErrNotParquet, r)
		if debugParquetPanics {
			fmt.Fprintf(os.Stderr, "%s\n", debug.Stack())
		}
	}
}

// debugParquetPanics prints the stack of a recovered library panic (tests).
var debugParquetPanics = os.Getenv("COLDINT_DEBUG_PARQUET_PANICS") != ""

func columnNames(s *parquet.Schema) string {
	var names []string
	for _, p := range s.Columns() {
		names = append(names, fmt.Sprintf("%q", strings.Join(p, ".")))
	}
	if len(names) == 0 {
		return "no columns"
	}
	return "columns " + strings.Join(names, ", ")
}

// checkStringColumn accepts a top-level, non-repeated BYTE_ARRAY column
// annotated as a UTF-8 string (logical type STRING or converted type UTF8).
func checkStringColumn(leaf parquet.LeafColumn) error {
	if len(leaf.Path) != 1 || leaf.MaxRepetitionLevel > 0 || leaf.MaxDefinitionLevel > 1 {
		return fmt.Errorf("%w: it is nested or repeated", ErrNotString)
	}
	t := leaf.Node.Type()
	if t.Kind() != parquet.ByteArray {
		return fmt.Errorf("%w: physical type %s", ErrNotString, t.Kind())
	}
	if lt := t.LogicalType(); lt != nil {
		if _, ok := lt.Value.(*format.StringType); ok {
			return nil
		}
		return fmt.Errorf("%w: logical type %s", ErrNotString, lt)
	}
	if ct := t.ConvertedType(); ct != nil && *ct == deprecated.UTF8 {
		return nil
	}
	return fmt.Errorf("%w: binary without a string annotation", ErrNotString)
}

// Name returns the name given to [OpenParquet].
func (p *ParquetFile) Name() string { return p.name }

// NumRowGroups returns the number of row groups.
func (p *ParquetFile) NumRowGroups() int { return len(p.groups) }

// RowGroupRows returns the number of rows of row group i.
func (p *ParquetFile) RowGroupRows(i int) int64 { return p.groups[i] }

// NumRows returns the number of rows of the file.
func (p *ParquetFile) NumRows() int64 {
	var n int64
	for _, g := range p.groups {
		n += g
	}
	return n
}

// ParquetRow is one row of the text column. Null is set for a null cell,
// whose Text is empty.
type ParquetRow struct {
	Row  int64
	Text string
	Null bool
}

// RowGroupReader reads the text column of one row group page by page, so
// that only one page's values are in memory at a time.
type RowGroupReader struct {
	p     *ParquetFile
	group int
	n     int64 // rows in the group
	row   int64 // next row
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
	buf   []parquet.Value
	bi    int
}

// OpenRowGroup starts reading row group i at row from (0 ≤ from ≤ rows).
// It checks the column chunk's page headers first (see [MaxParquetPage]).
func (p *ParquetFile) OpenRowGroup(i int, from int64) (rg *RowGroupReader, err error) {
	if i < 0 || i >= len(p.groups) {
		return nil, fmt.Errorf("read parquet %q: row group %d of %d", p.name, i, len(p.groups))
	}
	n := p.groups[i]
	if from < 0 || from > n {
		return nil, fmt.Errorf("read parquet %q: row %d of row group %d with %d rows", p.name, from, i, n)
	}
	if err := checkChunk(p.r, p.chunks[i][0], p.chunks[i][1]); err != nil {
		return nil, fmt.Errorf("read parquet %q row group %d: %w: %v", p.name, i, ErrNotParquet, err)
	}
	defer recoverParquet(&err, "read parquet %q row group %d", p.name, i)
	rg = &RowGroupReader{p: p, group: i, n: n, row: from, buf: make([]parquet.Value, 0, 256)}
	if from == n {
		return rg, nil
	}
	rg.pages = p.file.RowGroups()[i].ColumnChunks()[p.index].Pages()
	if from > 0 {
		if err := rg.pages.SeekToRow(from); err != nil {
			rg.Close()
			return nil, fmt.Errorf("read parquet %q row group %d: seek to row %d: %w: %v", p.name, i, from, ErrNotParquet, err)
		}
	}
	return rg, nil
}

// Next returns the next row, or io.EOF after the last. A damaged page, or a
// row count that does not match the footer, is an [ErrNotParquet] error.
func (r *RowGroupReader) Next() (row ParquetRow, err error) {
	defer recoverParquet(&err, "read parquet %q row group %d", r.p.name, r.group)
	for {
		if r.bi < len(r.buf) {
			v := r.buf[r.bi]
			r.bi++
			if r.row >= r.n {
				return ParquetRow{}, r.fail(fmt.Errorf("more rows than the footer's %d", r.n))
			}
			row = ParquetRow{Row: r.row, Null: v.IsNull()}
			if !row.Null {
				row.Text = string(v.ByteArray())
			}
			r.row++
			return row, nil
		}
		if r.vals != nil {
			r.buf = r.buf[:cap(r.buf)]
			k, err := r.vals.ReadValues(r.buf)
			r.buf, r.bi = r.buf[:k], 0
			if err == io.EOF {
				r.vals = nil
			} else if err != nil {
				return ParquetRow{}, r.fail(err)
			}
			continue
		}
		if r.row >= r.n || r.pages == nil {
			return ParquetRow{}, io.EOF
		}
		r.releasePage()
		page, err := r.pages.ReadPage()
		if err == io.EOF {
			return ParquetRow{}, r.fail(fmt.Errorf("%d rows, the footer says %d", r.row, r.n))
		}
		if err != nil {
			return ParquetRow{}, r.fail(err)
		}
		r.page, r.vals = page, page.Values()
	}
}

func (r *RowGroupReader) fail(err error) error {
	return fmt.Errorf("read parquet %q row group %d: %w: %v", r.p.name, r.group, ErrNotParquet, err)
}

func (r *RowGroupReader) releasePage() {
	if r.page != nil {
		parquet.Release(r.page)
		r.page, r.vals = nil, nil
	}
}

// Close releases the pages.
func (r *RowGroupReader) Close() {
	defer func() { recover() }()
	r.releasePage()
	if r.pages != nil {
		r.pages.Close()
		r.pages = nil
	}
}

// ReadRowGroup calls fn for the rows from, from+1, ... of row group i, in
// order (see [ParquetFile.OpenRowGroup]). An error from fn stops the read and
// is returned as is.
func (p *ParquetFile) ReadRowGroup(ctx context.Context, i int, from int64, fn func(ParquetRow) error) error {
	rg, err := p.OpenRowGroup(i, from)
	if err != nil {
		return err
	}
	defer rg.Close()
	for k := 0; ; k++ {
		if k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		row, err := rg.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}
