package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest JSONL line (one document) accepted.
const MaxLine = 64 << 20

// ErrBadJSONL marks a malformed JSONL line.
var ErrBadJSONL = errors.New("bad jsonl")

// ParseJSONLLine decodes one JSONL record, a JSON object with a string field
// "text"; other fields are ignored.
func ParseJSONLLine(line []byte) (string, error) {
	var rec struct {
		Text *string `json:"text"`
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return "", fmt.Errorf("%w: not a JSON object", ErrBadJSONL)
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadJSONL, err)
	}
	if rec.Text == nil {
		return "", fmt.Errorf("%w: no string field \"text\"", ErrBadJSONL)
	}
	return *rec.Text, nil
}

// ReadJSONL calls fn with the text of every record of a JSONL stream, in
// order. Blank lines are skipped; a malformed line is an error naming name
// and the line number.
func ReadJSONL(ctx context.Context, r io.Reader, name string, fn func(text string) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		buf = buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(buf) > MaxLine {
				return fmt.Errorf("read %q line %d: %w: longer than %d bytes", name, lineNo, ErrBadJSONL, MaxLine)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %q line %d: %w", name, lineNo, err)
		}
		if len(bytes.TrimSpace(buf)) > 0 {
			text, perr := ParseJSONLLine(buf)
			if perr != nil {
				return fmt.Errorf("read %q line %d: %w", name, lineNo, perr)
			}
			if ferr := fn(text); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// Record is one line of a JSONL file written by [WriteJSONL].
type Record struct {
	Text   string `json:"text"`
	ID     string `json:"id,omitempty"`
	Source string `json:"source,omitempty"`
}

// WriteJSONL writes one JSON object per record, HTML characters unescaped.
func WriteJSONL(w io.Writer, recs []Record) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
