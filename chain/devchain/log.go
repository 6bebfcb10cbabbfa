package devchain

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/coldint/coldint/chain"
)

// The block log is a sequence of records, each
//
//	u32 LE payload length | u32 LE CRC-32C of payload | payload (JSON record)
//
// appended and fsynced before the write that produced it returns. On open a
// torn last record (short or with a bad checksum, what a crash in the middle
// of an append leaves) is cut off; every record before it was fsynced whole.

const (
	logMagic      = "coldint-devchain-log v1\n"
	maxRecordSize = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one logged block: the op it holds and when it was sealed.
type record struct {
	Block chain.BlockNumber `json:"block"`
	Time  int64             `json:"time"` // unix nanoseconds
	Op    *op               `json:"op"`
}

// blockLog appends records to an open file.
type blockLog struct {
	f *os.File
}

func encodeRecord(r *record) ([]byte, error) {
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(payload) > maxRecordSize {
		return nil, fmt.Errorf("record of %d bytes is too large", len(payload))
	}
	buf := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	return append(buf, payload...), nil
}

// append writes r and fsyncs the file.
func (l *blockLog) append(r *record) error {
	b, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("append block %d: %w", r.Block, err)
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("append block %d: %w", r.Block, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("append block %d: sync: %w", r.Block, err)
	}
	return nil
}

// errTorn marks a record cut short or corrupted at the end of the log.
var errTorn = errors.New("torn record")

// readLog reads every whole record of r after the magic and returns them
// with the offset where the good part ends. A torn tail is reported with
// good < size and no error.
func readLog(r io.Reader) (recs []*record, good int64, err error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(logMagic))
	n, err := io.ReadFull(br, magic)
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, 0, nil // empty file: a crash before the magic was written
		}
		if string(magic[:n]) == logMagic[:n] {
			return nil, 0, nil // torn magic
		}
		return nil, 0, fmt.Errorf("not a devchain log")
	}
	if string(magic) != logMagic {
		return nil, 0, fmt.Errorf("not a devchain log")
	}
	good = int64(len(logMagic))
	for {
		rec, size, err := readRecord(br)
		if errors.Is(err, io.EOF) {
			return recs, good, nil
		}
		if errors.Is(err, errTorn) {
			return recs, good, nil
		}
		if err != nil {
			return recs, good, err
		}
		recs = append(recs, rec)
		good += size
	}
}

func readRecord(br *bufio.Reader) (*record, int64, error) {
	var hdr [8]byte
	n, err := io.ReadFull(br, hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		return nil, 0, errTorn
	}
	size := binary.LittleEndian.Uint32(hdr[0:4])
	if size == 0 || size > maxRecordSize {
		return nil, 0, errTorn
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(br, payload); err != nil {
		return nil, 0, errTorn
	}
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return nil, 0, errTorn
	}
	var rec record
	if err := json.Unmarshal(payload, &rec); err != nil || rec.Op == nil {
		return nil, 0, fmt.Errorf("record with a good checksum does not decode: %v", err)
	}
	return &rec, int64(8 + size), nil
}
