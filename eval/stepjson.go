package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/coldint/coldint/internal/jsonobj"

	"github.com/coldint/coldint/chain"
)

// The step JSON of `--save-step-json` (docs/validator.md#step-json) has the key set of the
// reference validator's log_step:
//
//	{timestamp, block, uids, competitions, uid_data, competition_info, pages, step_time}
//
// with uid_data an object keyed by the decimal uid. The Go types below keep
// slices for our code and convert at the JSON boundary: [UIDReports] (uid_data),
// [WinMatrixRow] (win_matrix_row) and [Geometry] (geometry). Every reader
// accepts both our files and the reference's, and the old files of ours whose
// uid_data was a list and whose competitions was a list of names.
//
// Non-finite numbers: the reference writes its step JSON with orjson, which
// turns every NaN and ±Infinity into null (so +Inf and NaN cannot be told
// apart there). We write [JSONFloat] strings instead ("inf", "-inf", "nan"):
// strict JSON like orjson's output, lossless, and read back by Python's
// float(). Every reader here takes null as +Inf, so reference files load too.

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

// CompetitionLog is a competition's entry of competition_info: the token
// count (EOS included) of each sample with the competition tokenizer, 0 for a
// sample that could not be used. Only competitions with a tokenizer have
// one, as in the reference.
type CompetitionLog struct {
	SampleLen []int `json:"sample_len"`
}

// PageName is a dataset page as the reference's step JSON names it:
// "<config>_<offset>_<split>".
func PageName(p PageRef) string {
	return p.Config + "_" + strconv.Itoa(p.Offset) + "_" + p.Split
}

// stepReportJSON is StepReport without its methods.
type stepReportJSON StepReport

// MarshalJSON implements json.Marshaler: the fields in declaration order
// (as encoding/json would write them), except that competitions is the
// reference's object {name: params} in evaluation order (params from
// [StepReport.CompetitionParams], {} when unknown; a repeated name once).
func (r StepReport) MarshalJSON() ([]byte, error) {
	rv := reflect.ValueOf(stepReportJSON(r))
	rt := rv.Type()
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	for i := 0; i < rt.NumField(); i++ {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "-" || name == "" {
			continue
		}
		fv := rv.Field(i)
		if opts == "omitempty" && fv.IsZero() || opts == "omitempty" && (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice) && fv.Len() == 0 {
			continue
		}
		var vb []byte
		var err error
		if name == "competitions" {
			vb, err = r.competitionsJSON()
		} else {
			vb, err = json.Marshal(fv.Interface())
		}
		if err != nil {
			return nil, fmt.Errorf("marshal step report %s: %w", name, err)
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		buf.WriteString(strconv.Quote(name))
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (r *StepReport) competitionsJSON() ([]byte, error) {
	if r.Competitions == nil {
		return []byte("null"), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for _, name := range r.Competitions {
		kb, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		if seen[string(kb)] {
			continue // a name is a key: written once
		}
		if len(seen) > 0 {
			buf.WriteByte(',')
		}
		seen[string(kb)] = true
		buf.Write(kb)
		buf.WriteByte(':')
		p := r.CompetitionParams[name]
		if p == nil {
			buf.WriteString("{}")
			continue
		}
		pb, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("params of competition %q: %w", name, err)
		}
		buf.Write(pb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler. competitions may be the
// reference's object {name: params} (names kept in document order, params
// into CompetitionParams) or our older list of names. The uid_data entries
// are put in the order of "uids" (evaluation order).
func (r *StepReport) UnmarshalJSON(b []byte) error {
	var aux struct {
		*stepReportJSON
		Competitions json.RawMessage `json:"competitions"`
	}
	*r = StepReport{}
	aux.stepReportJSON = (*stepReportJSON)(r)
	if err := json.Unmarshal(b, &aux); err != nil {
		return fmt.Errorf("parse step report: %w", err)
	}
	r.orderUIDs()
	t := bytes.TrimSpace(aux.Competitions)
	switch {
	case len(t) == 0 || string(t) == "null":
		r.Competitions = nil
	case t[0] == '[':
		if err := json.Unmarshal(t, &r.Competitions); err != nil {
			return fmt.Errorf("parse step report competitions: %w", err)
		}
	case t[0] == '{':
		keys, vals, err := jsonobj.Ordered(t)
		if err != nil {
			return fmt.Errorf("parse step report competitions: %w", err)
		}
		r.Competitions = append([]string{}, keys...)
		for _, k := range keys {
			if jsonobj.IsNull(vals[k]) {
				continue
			}
			p, err := jsonobj.Raw(vals[k])
			if err != nil {
				return fmt.Errorf("parse step report competition %q: params are not an object", k)
			}
			if len(p) == 0 {
				continue
			}
			if r.CompetitionParams == nil {
				r.CompetitionParams = map[string]map[string]json.RawMessage{}
			}
			r.CompetitionParams[k] = p
		}
	default:
		return fmt.Errorf("parse step report competitions %q: want an object or a list of names", jsonobj.Quote(t))
	}
	return nil
}

// orderUIDs puts the uid_data entries (keyed, so read in key order) back in
// evaluation order: the order of "uids", entries not listed there last.
func (r *StepReport) orderUIDs() {
	if len(r.UIDOrder) == 0 || len(r.UIDs) < 2 {
		return
	}
	pos := make(map[chain.UID]int, len(r.UIDOrder))
	for i, u := range r.UIDOrder {
		if _, ok := pos[u]; !ok {
			pos[u] = i
		}
	}
	rank := func(u chain.UID) int {
		if p, ok := pos[u]; ok {
			return p
		}
		return len(r.UIDOrder)
	}
	sort.SliceStable(r.UIDs, func(i, j int) bool { return rank(r.UIDs[i].UID) < rank(r.UIDs[j].UID) })
}

// finiteStats returns the count, mean and (population) standard deviation
// of the finite values of v, like the reference's naninf_count/mean/std:
// mean and std are +Inf when no value is finite.
func finiteStats(v []float64) (n int, mean, std float64) {
	var sum float64
	for _, x := range v {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return 0, math.Inf(1), math.Inf(1)
	}
	mean = sum / float64(n)
	var sq float64
	for _, x := range v {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			sq += (x - mean) * (x - mean)
		}
	}
	return n, mean, math.Sqrt(sq / float64(n))
}
