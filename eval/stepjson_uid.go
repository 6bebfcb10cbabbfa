package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/internal/jsonobj"
)

// UIDReports is the per-UID part of a step (uid_data). In JSON it is an
// object keyed by the decimal uid, in ascending numeric order; when a uid
// occurs twice the later entry is written, as a Python dict assignment
// would. UnmarshalJSON also accepts the older list form and null.
type UIDReports []UIDReport

// MarshalJSON implements json.Marshaler.
func (r UIDReports) MarshalJSON() ([]byte, error) {
	last := make(map[chain.UID]int, len(r))
	for i := range r {
		last[r[i].UID] = i
	}
	uids := make([]chain.UID, 0, len(last))
	for u := range last {
		uids = append(uids, u)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	return marshalUIDKeyed("uid_data", uids, func(k int) any { return &r[last[uids[k]]] })
}

// marshalUIDKeyed writes a JSON object whose keys are the decimal uids, in
// the given order, and whose k-th value is value(k).
func marshalUIDKeyed(what string, uids []chain.UID, value func(k int) any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for k, u := range uids {
		if k > 0 {
			buf.WriteByte(',')
		}
		b, err := json.Marshal(value(k))
		if err != nil {
			return nil, fmt.Errorf("marshal %s of uid %d: %w", what, u, err)
		}
		buf.WriteString(strconv.Quote(strconv.FormatUint(uint64(u), 10)))
		buf.WriteByte(':')
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler: an object keyed by decimal uid
// (entries in document order; a key must equal the entry's "uid" when that
// is present, and sets it when absent), a list of entries, or null.
func (r *UIDReports) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return errors.New("parse uid_data: empty value")
	case string(t) == "null":
		*r = nil
		return nil
	case t[0] == '[':
		var list []UIDReport
		if err := json.Unmarshal(t, &list); err != nil {
			return fmt.Errorf("parse uid_data list: %w", err)
		}
		*r = list
		return nil
	case t[0] != '{':
		return fmt.Errorf("parse uid_data %q: want an object keyed by uid or a list", jsonobj.Quote(t))
	}
	keys, vals, err := jsonobj.Ordered(t)
	if err != nil {
		return fmt.Errorf("parse uid_data: %w", err)
	}
	var out UIDReports // {} reads as nil, which writes as {}
	for _, k := range keys {
		u, err := parseUIDKey(k)
		if err != nil {
			return fmt.Errorf("parse uid_data: %w", err)
		}
		var has struct {
			UID *json.RawMessage `json:"uid"`
		}
		if err := json.Unmarshal(vals[k], &has); err != nil {
			return fmt.Errorf("parse uid_data of uid %d: %w", u, err)
		}
		var ur UIDReport
		if err := json.Unmarshal(vals[k], &ur); err != nil {
			return fmt.Errorf("parse uid_data of uid %d: %w", u, err)
		}
		if has.UID != nil && string(bytes.TrimSpace(*has.UID)) != "null" && ur.UID != u {
			return fmt.Errorf("parse uid_data: key %q holds uid %d", k, ur.UID)
		}
		ur.UID = u
		out = append(out, ur)
	}
	*r = out
	return nil
}

// parseUIDKey reads a decimal uid object key ("0", "17"; no sign, no
// leading zeros, at most 16 bits like [chain.UID]).
func parseUIDKey(k string) (chain.UID, error) {
	if k == "" || len(k) > 1 && k[0] == '0' {
		return 0, fmt.Errorf("uid key %q is not a decimal uid", k)
	}
	n, err := strconv.ParseUint(k, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("uid key %q is not a decimal uid", k)
	}
	return chain.UID(n), nil
}

// Geometry is a model's shape as the reference logs it: the parameter count
// (tied weights once), num_hidden_layers, the embedding rows (the largest
// token id of the samples when unknown), intermediate_size and hidden_size.
// The zero Geometry (a model that was not evaluated) is written as {}, as the
// reference does.
type Geometry struct {
	NParameters      int64 `json:"n_parameters"`
	NLayers          int   `json:"n_layers"`
	EmbedSize        int64 `json:"embed_size"`
	IntermediateSize int   `json:"intermediate_size"`
	HiddenSize       int   `json:"hidden_size"`
}

// MarshalJSON implements json.Marshaler: {} for the zero Geometry.
func (g Geometry) MarshalJSON() ([]byte, error) {
	if g == (Geometry{}) {
		return []byte("{}"), nil
	}
	type plain Geometry
	return json.Marshal(plain(g))
}

// WinCell is one cell of the informative win matrix (docs/scoring.md#win-matrix) as the
// reference logs it: model a (the row's uid) against model UID over the
// scored samples (groups when group_samples > 1).
type WinCell struct {
	// UID is the opponent (the JSON key).
	UID chain.UID `json:"-"`
	// Loss is the mean of loss_a − loss_b over the samples where both are
	// finite; +Inf when there are none.
	Loss JSONFloat `json:"loss"`
	// Wins counts samples with loss_a < loss_b.
	Wins int `json:"wins"`
	// WinsAdv counts samples with f_a·loss_a < loss_b.
	WinsAdv int `json:"wins_adv"`
}

// WinMatrixRow is one uid's row of the win matrix: a cell per scored uid of
// the competition (itself included), oldest commit first. In JSON it is an
// object keyed by the opponent's decimal uid, in that order; nil (a uid
// without results) is null.
type WinMatrixRow []WinCell

// MarshalJSON implements json.Marshaler.
func (r WinMatrixRow) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	uids := make([]chain.UID, len(r))
	for i, c := range r {
		uids[i] = c.UID
	}
	return marshalUIDKeyed("win matrix cell", uids, func(k int) any { return r[k] })
}

// UnmarshalJSON implements json.Unmarshaler: an object keyed by decimal uid
// (document order kept) or null. A null cell (the reference's "no
// comparison") becomes a cell with Loss +Inf and no wins.
func (r *WinMatrixRow) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	if string(t) == "null" {
		*r = nil
		return nil
	}
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("parse win_matrix_row %q: want an object keyed by uid", jsonobj.Quote(t))
	}
	keys, vals, err := jsonobj.Ordered(t)
	if err != nil {
		return fmt.Errorf("parse win_matrix_row: %w", err)
	}
	out := make(WinMatrixRow, 0, len(keys))
	for _, k := range keys {
		u, err := parseUIDKey(k)
		if err != nil {
			return fmt.Errorf("parse win_matrix_row: %w", err)
		}
		c := WinCell{UID: u, Loss: JSONFloat(math.Inf(1))}
		if !jsonobj.IsNull(vals[k]) {
			if err := json.Unmarshal(vals[k], &c); err != nil {
				return fmt.Errorf("parse win_matrix_row cell of uid %d: %w", u, err)
			}
			c.UID = u
		}
		out = append(out, c)
	}
	*r = out
	return nil
}

// WinMatrixRowOf returns uid's row of w's win matrix (nil when uid was not
// scored).
func WinMatrixRowOf(w *WinResult, uid chain.UID) WinMatrixRow {
	if w == nil {
		return nil
	}
	a := -1
	for i, u := range w.Order {
		if u == uid {
			a = i
			break
		}
	}
	if a < 0 || a >= len(w.Matrix) {
		return nil
	}
	row := make(WinMatrixRow, 0, len(w.Order))
	for b, u := range w.Order {
		ps := w.Matrix[a][b]
		loss := math.Inf(1)
		if ps.Finite > 0 {
			loss = ps.MeanDiff
		}
		row = append(row, WinCell{UID: u, Loss: JSONFloat(loss), Wins: ps.Less, WinsAdv: ps.LessAdv})
	}
	return row
}
