package eval

import (
	"bytes"
	"encoding/json"
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
