package data

import (
	"errors"
	"fmt"
	"io"
)

// MaxParquetPage is the largest page, compressed or not, the reader accepts.
// The parquet library allocates what a page header claims before it reads
// the page, so a damaged header could otherwise make it take gigabytes.
const MaxParquetPage = 256 << 20

// checkChunk walks the page headers of the column chunk [start, end) of r and
// refuses one whose header or page does not fit in the chunk, or whose page
// is larger than [MaxParquetPage]. Only the headers are read.
func checkChunk(r io.ReaderAt, start, end int64) error {
	var buf []byte
	for pos := start; pos < end; {
		var (
			h    pageHeader
			n    int
			err  error
			want = int64(256)
		)
		for {
			want = min(want, end-pos)
			buf = growBuf(buf, int(want))
			nr, rerr := r.ReadAt(buf, pos)
			if rerr != nil && rerr != io.EOF {
				return fmt.Errorf("page header at %d: %w", pos, rerr)
			}
			buf = buf[:nr]
			n, err = h.parse(buf)
			if !errors.Is(err, errShortHeader) || want == end-pos {
				break
			}
			want *= 4
		}
		if err != nil {
			return fmt.Errorf("page header at %d: %w", pos, err)
		}
		if h.compressed < 0 || h.uncompressed < 0 || h.compressed > MaxParquetPage || h.uncompressed > MaxParquetPage {
			return fmt.Errorf("page at %d claims %d bytes (%d uncompressed), limit %d", pos, h.compressed, h.uncompressed, MaxParquetPage)
		}
		pos += int64(n) + int64(h.compressed)
		if pos > end {
			return fmt.Errorf("page ends at %d, past its column chunk's end %d", pos, end)
		}
	}
	return nil
}

func growBuf(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// errShortHeader: the header runs past the bytes read so far.
var errShortHeader = errors.New("page header runs past the bytes read")

// pageHeader holds the sizes of a parquet PageHeader (thrift compact
// protocol: field 2 uncompressed_page_size, field 3 compressed_page_size).
type pageHeader struct {
	uncompressed, compressed int32
	seen                     int
}

// parse reads one PageHeader struct from b and returns its length.
func (h *pageHeader) parse(b []byte) (int, error) {
	t := thriftReader{b: b}
	h.seen = 0
	if err := t.skipStruct(0, h); err != nil {
		return 0, err
	}
	if h.seen != 3 {
		return 0, errors.New("page header lacks its page sizes")
	}
	return t.pos, nil
}

// thriftReader skips thrift compact protocol values, checking every length
// against the bytes it has.
type thriftReader struct {
	b   []byte
	pos int
}

func (t *thriftReader) byte1() (byte, error) {
	if t.pos >= len(t.b) {
		return 0, errShortHeader
	}
	t.pos++
	return t.b[t.pos-1], nil
}

func (t *thriftReader) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := t.byte1()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

func (t *thriftReader) skipBytes(n uint64) error {
	if n > uint64(len(t.b)-t.pos) {
		return errShortHeader
	}
	t.pos += int(n)
	return nil
}

const maxThriftDepth = 16

// skipStruct skips fields up to the stop byte. At depth 0 it records the
// page sizes in h.
func (t *thriftReader) skipStruct(depth int, h *pageHeader) error {
	if depth > maxThriftDepth {
		return errors.New("page header nested too deep")
	}
	id := int64(0)
	for {
		c, err := t.byte1()
		if err != nil {
			return err
		}
		typ := c & 0x0f
		if typ == 0 {
			return nil
		}
		if delta := c >> 4; delta != 0 {
			id += int64(delta)
		} else {
			v, err := t.varint()
			if err != nil {
				return err
			}
			id = int64(v>>1) ^ -int64(v&1)
		}
		if depth == 0 && (id == 2 || id == 3) && typ == 5 {
			v, err := t.varint()
			if err != nil {
				return err
			}
			n := int64(v>>1) ^ -int64(v&1)
			if n < -1<<31 || n >= 1<<31 {
				return errors.New("page size out of range")
			}
			if id == 2 {
				h.uncompressed, h.seen = int32(n), h.seen|1
			} else {
				h.compressed, h.seen = int32(n), h.seen|2
			}
			continue
		}
		if err := t.skip(typ, depth); err != nil {
			return err
		}
	}
}

// skip skips one value of thrift compact type typ.
func (t *thriftReader) skip(typ byte, depth int) error {
	switch typ {
	case 1, 2: // booleans live in the type nibble
		return nil
	case 3:
		_, err := t.byte1()
		return err
	case 4, 5, 6:
		_, err := t.varint()
		return err
	case 7:
		return t.skipBytes(8)
	case 8:
		n, err := t.varint()
		if err != nil {
			return err
		}
		return t.skipBytes(n)
	case 9, 10:
		c, err := t.byte1()
		if err != nil {
			return err
		}
		size, elem := uint64(c>>4), c&0x0f
		if size == 15 {
			if size, err = t.varint(); err != nil {
				return err
			}
		}
		return t.skipN(size, elem, depth)
	case 11:
		size, err := t.varint()
		if err != nil || size == 0 {
			return err
		}
		c, err := t.byte1()
		if err != nil {
			return err
		}
		if size > uint64(len(t.b)) {
			return errShortHeader
		}
		for i := uint64(0); i < size; i++ {
			if err := t.skipElem(c>>4, depth); err != nil {
				return err
			}
			if err := t.skipElem(c&0x0f, depth); err != nil {
				return err
			}
		}
		return nil
	case 12:
		return t.skipStruct(depth+1, nil)
	}
	return fmt.Errorf("unknown thrift type %d in page header", typ)
}

func (t *thriftReader) skipN(size uint64, elem byte, depth int) error {
	if size > uint64(len(t.b)) {
		return errShortHeader
	}
	for i := uint64(0); i < size; i++ {
		if err := t.skipElem(elem, depth); err != nil {
			return err
		}
	}
	return nil
}

// skipElem skips a list, set or map element: booleans there take a byte.
func (t *thriftReader) skipElem(typ byte, depth int) error {
	if typ == 1 || typ == 2 {
		_, err := t.byte1()
		return err
	}
	return t.skip(typ, depth+1)
}
