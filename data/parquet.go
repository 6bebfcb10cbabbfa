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

// ReadRowGroup calls fn for the rows from, from+1, ... of row group i, in
// order. A damaged page, or a row count that does not match the footer, is
// an [ErrNotParquet] error; an error from fn stops the read and is returned
// as is.
func (p *ParquetFile) ReadRowGroup(ctx context.Context, i int, from int64, fn func(ParquetRow) error) (err error) {
	if i < 0 || i >= len(p.groups) {
		return fmt.Errorf("read parquet %q: row group %d of %d", p.name, i, len(p.groups))
	}
	n := p.groups[i]
	if from < 0 || from > n {
		return fmt.Errorf("read parquet %q: row %d of row group %d with %d rows", p.name, from, i, n)
	}
	if from == n {
		return nil
	}
	var fnErr error
	if err := checkChunk(p.r, p.chunks[i][0], p.chunks[i][1]); err != nil {
		return fmt.Errorf("read parquet %q row group %d: %w: %v", p.name, i, ErrNotParquet, err)
	}
	defer recoverParquet(&err, "read parquet %q row group %d", p.name, i)
	pages := p.file.RowGroups()[i].ColumnChunks()[p.index].Pages()
	defer pages.Close()
	if from > 0 {
		if err := pages.SeekToRow(from); err != nil {
			return fmt.Errorf("read parquet %q row group %d: seek to row %d: %w: %v", p.name, i, from, ErrNotParquet, err)
		}
	}
	row := from
	buf := make([]parquet.Value, 256)
	for row < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read parquet %q row group %d: %w: %v", p.name, i, ErrNotParquet, err)
		}
		row, fnErr, err = p.readPage(page, row, n, buf, fn)
		parquet.Release(page)
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("read parquet %q row group %d: %w: %v", p.name, i, ErrNotParquet, err)
		}
	}
	if row != n {
		return fmt.Errorf("read parquet %q row group %d: %d rows, the footer says %d: %w", p.name, i, row, n, ErrNotParquet)
	}
	return nil
}

// readPage hands the values of one page to fn and returns the next row.
func (p *ParquetFile) readPage(page parquet.Page, row, n int64, buf []parquet.Value, fn func(ParquetRow) error) (int64, error, error) {
	vals := page.Values()
	for {
		k, err := vals.ReadValues(buf)
		for _, v := range buf[:k] {
			if row >= n {
				return row, nil, fmt.Errorf("more rows than the footer's %d", n)
			}
			r := ParquetRow{Row: row, Null: v.IsNull()}
			if !r.Null {
				r.Text = string(v.ByteArray())
			}
			if ferr := fn(r); ferr != nil {
				return row, ferr, nil
			}
			row++
		}
		if err == io.EOF {
			return row, nil, nil
		}
		if err != nil {
			return row, nil, err
		}
	}
}
