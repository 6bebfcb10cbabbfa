package competition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// orderedObject decodes a JSON object's top level, returning its keys in
// first-appearance order and the last value of each.
func orderedObject(data []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, nil, errors.New("empty file")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("top level is not a JSON object")
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("read json: %w", err)
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("read json: object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("read json value of %q: %w", k, err)
		}
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("read json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("read json: data after the top-level object")
	}
	return keys, vals, nil
}

// RawObject decodes raw as a JSON object of raw values.
func RawObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// Fields reads typed values out of a JSON object's raw values. Every key
// whose value is unusable is recorded in Problems; Err is the first of them
// that concerns a key marked required (or any key when none is marked).
type Fields struct {
	M        map[string]json.RawMessage
	Required map[string]bool
	// NullIsProblem makes a null value a problem; otherwise null reads as absent.
	NullIsProblem bool
	// Problems lists every unusable key, in the order read.
	Problems []string
	err      error
}

// Err is the first problem of a required key (wrapping [ErrInvalidConfig]),
// or of any key when Required is nil.
func (d *Fields) Err() error { return d.err }

// Fail records a problem with key.
func (d *Fields) Fail(key, format string, args ...any) {
	msg := fmt.Sprintf("key %q: %s", key, fmt.Sprintf(format, args...))
	d.Problems = append(d.Problems, msg)
	if d.err == nil && (d.Required == nil || d.Required[key]) {
		d.err = fmt.Errorf("%s: %w", msg, ErrInvalidConfig)
	}
}

// raw returns key's value.
func (d *Fields) raw(key string) (json.RawMessage, bool) {
	raw, ok := d.M[key]
	if !ok {
		return nil, false
	}
	if isNull(raw) {
		if d.NullIsProblem {
			d.Fail(key, "null")
		}
		return nil, false
	}
	return raw, true
}

// Number reads key as a finite number within [lo, hi]; ok is false when the
// key is absent or unusable.
func (d *Fields) Number(key string, lo, hi float64) (float64, bool) {
	raw, ok := d.raw(key)
	if !ok {
		return 0, false
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] == '"' {
		d.Fail(key, "want a number, got %s", truncate(raw))
		return 0, false
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		d.Fail(key, "want a number, got %s", truncate(raw))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.Fail(key, "number %s out of range", n)
		return 0, false
	}
	if f < lo || f > hi {
		d.Fail(key, "%v not in [%v, %v]", f, lo, hi)
		return 0, false
	}
	return f, true
}

// Integer reads key as an integral number within [lo, hi] (1e9 and 2.0 are
// accepted: the dated sn29 files write limits that way).
func (d *Fields) Integer(key string, lo, hi int64) (int64, bool) {
	f, ok := d.Number(key, float64(lo), float64(hi))
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) {
		d.Fail(key, "%v is not an integer", f)
		return 0, false
	}
	return int64(f), true
}

// Bool reads key as true or false.
func (d *Fields) Bool(key string) (bool, bool) {
	raw, ok := d.raw(key)
	if !ok {
		return false, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		d.Fail(key, "want true or false, got %s", truncate(raw))
		return false, false
	}
	return b, true
}

// String reads key as a string.
func (d *Fields) String(key string) (string, bool) {
	raw, ok := d.raw(key)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.Fail(key, "want a string, got %s", truncate(raw))
		return "", false
	}
	return s, true
}

func truncate(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// pythonLiterals rewrites the non-standard number literals that Python's
// json module reads (NaN, Infinity, -Infinity) into null, outside strings,
// and names each one rewritten. Go's encoding/json refuses them; the
// reference loads them, so the key they stand for is then reported as
// unusable instead of the whole file being refused.
func pythonLiterals(data []byte) ([]byte, []string) {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return data, nil
	}
	out := make([]byte, 0, len(data))
	var found []string
	inStr, esc := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case !inStr && c == '"':
			inStr = true
		case !inStr:
			if lit := literalAt(data[i:]); lit != "" {
				found = append(found, fmt.Sprintf("%s at byte %d read as null", lit, i))
				out = append(out, "null"...)
				i += len(lit) - 1
				continue
			}
		}
		out = append(out, c)
	}
	return out, found
}

func literalAt(b []byte) string {
	for _, lit := range []string{"-Infinity", "Infinity", "NaN"} {
		if bytes.HasPrefix(b, []byte(lit)) {
			return lit
		}
	}
	return ""
}
