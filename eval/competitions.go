package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidConfig is wrapped by every competitions.json and hall_of_fame.json
// validation failure. A caller that gets it keeps its last good config.
var ErrInvalidConfig = errors.New("invalid config")

// RequiredCompetitionKeys are the keys every competition must have after the
// `default` section is merged in (spec §4.1).
var RequiredCompetitionKeys = []string{"reward", "dataset", "model_types", "model_size", "parameters"}

// Defaults are the validator-global parameters: the §1 constants overlaid with
// the `default` section of competitions.json (spec §4.1, §4.2 "global" keys).
type Defaults struct {
	RowsPerPage      int     `json:"rows_per_page"`
	UseEvalCache     bool    `json:"use_eval_cache"`
	DBMinSamples     int     `json:"db_min_samples"`
	DBMaxSamples     int     `json:"db_max_samples"`
	DBExtendInterval float64 `json:"db_extend_interval"` // seconds
	DBExtendSamples  int     `json:"db_extend_samples"`
	EvalSamples      int     `json:"eval_samples"`
	DiscardWinrate   float64 `json:"discard_winrate"`
}

// BuiltinDefaults returns the §1 defaults: rows_per_page 25, use_eval_cache
// true, db_min_samples 2000, db_max_samples 20000, db_extend_interval 14400 s,
// db_extend_samples 500, eval_samples 1500, discard_winrate 0.02.
func BuiltinDefaults() Defaults {
	return Defaults{
		RowsPerPage:      25,
		UseEvalCache:     true,
		DBMinSamples:     2000,
		DBMaxSamples:     20000,
		DBExtendInterval: 14400,
		DBExtendSamples:  500,
		EvalSamples:      1500,
		DiscardWinrate:   0.02,
	}
}

// Competition is one competition of competitions.json with the `default`
// section merged in (spec §4.2). Optional keys that were absent hold their
// documented default; the *Set fields record presence where the default
// depends on the tokenizer path.
type Competition struct {
	Name          string   `json:"name"`
	Reward        float64  `json:"reward"`
	Dataset       string   `json:"dataset"`
	ModelTypes    []string `json:"model_types"`
	ModelSize     int64    `json:"model_size"`
	Parameters    int64    `json:"parameters"`
	Tokenizer     string   `json:"tokenizer,omitempty"`
	FreeTokenizer bool     `json:"free_tokenizer"`
	// MaxSequenceLen is 0 when the key is absent: see [Competition.SequenceLimit].
	MaxSequenceLen int `json:"max_sequence_len,omitempty"`
	// CapSampleLen is valid when CapSampleLenSet: see [Competition.CharCap].
	CapSampleLen     int     `json:"cap_sample_len,omitempty"`
	CapSampleLenSet  bool    `json:"-"`
	MaxTokenizeFails int     `json:"max_tokenize_fails"`
	GroupSamples     int     `json:"group_samples"`
	PoolSize         int     `json:"pool_size"`
	PendSize         int     `json:"pend_size"`
	AdvantageInitial float64 `json:"advantage_initial"`
	AdvantageDecay   float64 `json:"advantage_decay"`
	WeightSkewFactor float64 `json:"weight_skew_factor"`
	// Params holds every merged key as raw JSON, unknown ones included.
	Params map[string]json.RawMessage `json:"-"`
}

// SequenceLimit returns max_sequence_len for the tokenizer path in use: the
// key's value when set; otherwise 4096 on the competition-tokenizer path, and
// an error on the model's-own-tokenizer path, where the key is required.
func (c *Competition) SequenceLimit(ownTokenizer bool) (int, error) {
	if c.MaxSequenceLen > 0 {
		return c.MaxSequenceLen, nil
	}
	if ownTokenizer {
		return 0, fmt.Errorf("competition %q: max_sequence_len is required with the model's own tokenizer: %w", c.Name, ErrInvalidConfig)
	}
	return DefaultMaxSequenceLen, nil
}

// CharCap returns cap_sample_len for the tokenizer path in use (0 = no cap):
// the key's value when set; otherwise 20480 on the competition-tokenizer path
// and 0 on the model's-own-tokenizer path.
func (c *Competition) CharCap(ownTokenizer bool) int {
	if c.CapSampleLenSet {
		return c.CapSampleLen
	}
	if ownTokenizer {
		return 0
	}
	return DefaultCapSampleLen
}

// Admits reports whether a model class name passes the admission test of
// model_types: a substring test, so "LlamaForCausalLM" also admits
// "SlicedLlamaForCausalLM" (spec §4.2).
func (c *Competition) Admits(className string) bool {
	for _, t := range c.ModelTypes {
		if strings.Contains(className, t) {
			return true
		}
	}
	return false
}

// AllowsSliced reports whether sliced evaluation may be used for className:
// only when that exact class name is listed (spec §4.2).
func (c *Competition) AllowsSliced(className string) bool {
	return slices.Contains(c.ModelTypes, className)
}

// Config is a validated competitions.json: competitions in JSON key order and
// the merged global defaults.
type Config struct {
	Competitions []Competition `json:"competitions"`
	Defaults     Defaults      `json:"defaults"`
	// Raw is the file as parsed, kept so the state file can persist it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Competition returns the competition called name.
func (c *Config) Competition(name string) (*Competition, bool) {
	if c == nil {
		return nil, false
	}
	for i := range c.Competitions {
		if c.Competitions[i].Name == name {
			return &c.Competitions[i], true
		}
	}
	return nil, false
}

// Names returns the competition names in evaluation (JSON key) order.
func (c *Config) Names() []string {
	out := make([]string, len(c.Competitions))
	for i, comp := range c.Competitions {
		out[i] = comp.Name
	}
	return out
}

// ParseCompetitions parses and validates competitions.json (spec §4.1):
//   - the top level must be an object; `default` (an object when present)
//     holds defaults; keys that are empty or start with '_' are ignored;
//   - every other key is a competition whose value must be an object;
//   - effective params = a copy of `default` overlaid with the competition's keys;
//   - reward, dataset, model_types, model_size and parameters are required
//     after the merge;
//   - the `default` section also overlays the global [BuiltinDefaults].
//
// Any invalid competition rejects the whole file (the error wraps
// [ErrInvalidConfig]); the caller keeps its previous config. Competitions keep
// JSON key order. As in Python's json, a repeated key keeps its first position
// and its last value.
//
// Stricter than the reference, which only checks presence: known keys must
// also have the right JSON type and a sane range (e.g. a string reward, a
// negative parameter limit or group_samples 0 reject the file), because the
// reference would crash on them later in the step instead.
func ParseCompetitions(data []byte) (*Config, error) {
	keys, vals, err := orderedObject(data)
	if err != nil {
		return nil, fmt.Errorf("parse competitions: %w: %w", err, ErrInvalidConfig)
	}
	defaults := map[string]json.RawMessage{}
	if raw, ok := vals["default"]; ok {
		if defaults, err = rawObject(raw); err != nil {
			return nil, fmt.Errorf("parse competitions: \"default\" is not an object: %w", ErrInvalidConfig)
		}
	}
	cfg := &Config{Defaults: BuiltinDefaults(), Raw: append(json.RawMessage(nil), bytes.TrimSpace(data)...)}
	if err := decodeDefaults(&cfg.Defaults, defaults); err != nil {
		return nil, fmt.Errorf("parse competitions: default: %w", err)
	}
	for _, name := range keys {
		if name == "default" || name == "" || name[0] == '_' {
			continue
		}
		own, err := rawObject(vals[name])
		if err != nil {
			return nil, fmt.Errorf("parse competitions: competition %q is not an object: %w", name, ErrInvalidConfig)
		}
		merged := make(map[string]json.RawMessage, len(defaults)+len(own))
		for k, v := range defaults {
			merged[k] = v
		}
		for k, v := range own {
			merged[k] = v
		}
		var missing []string
		for _, k := range RequiredCompetitionKeys {
			if v, ok := merged[k]; !ok || isNull(v) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("parse competitions: competition %q lacks %s: %w", name, strings.Join(missing, ", "), ErrInvalidConfig)
		}
		c, err := decodeCompetition(name, merged)
		if err != nil {
			return nil, fmt.Errorf("parse competitions: competition %q: %w", name, err)
		}
		cfg.Competitions = append(cfg.Competitions, c)
	}
	return cfg, nil
}

// orderedObject decodes a JSON object's top level, returning its keys in
// first-appearance order and the last value of each.
func orderedObject(data []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
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

func rawObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
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

// fieldDecoder reads typed values out of a merged key map, remembering the
// first error.
type fieldDecoder struct {
	m   map[string]json.RawMessage
	err error
}

func (d *fieldDecoder) fail(key, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("key %q: %s: %w", key, fmt.Sprintf(format, args...), ErrInvalidConfig)
	}
}

// number reads key as a finite number within [lo, hi]; ok is false when the
// key is absent or null.
func (d *fieldDecoder) number(key string, lo, hi float64) (float64, bool) {
	raw, ok := d.m[key]
	if !ok || isNull(raw) {
		return 0, false
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] == '"' {
		d.fail(key, "want a number, got %s", truncate(raw))
		return 0, false
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		d.fail(key, "want a number, got %s", truncate(raw))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(key, "number %s out of range", n)
		return 0, false
	}
	if f < lo || f > hi {
		d.fail(key, "%v not in [%v, %v]", f, lo, hi)
		return 0, false
	}
	return f, true
}

// integer reads key as an integral number within [lo, hi] (1e9 and 2.0 are
// accepted: the dated sn29 files write limits that way).
func (d *fieldDecoder) integer(key string, lo, hi int64) (int64, bool) {
	f, ok := d.number(key, float64(lo), float64(hi))
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) {
		d.fail(key, "%v is not an integer", f)
		return 0, false
	}
	return int64(f), true
}

func (d *fieldDecoder) boolean(key string) (bool, bool) {
	raw, ok := d.m[key]
	if !ok || isNull(raw) {
		return false, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		d.fail(key, "want true or false, got %s", truncate(raw))
		return false, false
	}
	return b, true
}

func (d *fieldDecoder) str(key string) (string, bool) {
	raw, ok := d.m[key]
	if !ok || isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(key, "want a string, got %s", truncate(raw))
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

const maxInt = math.MaxInt32

func decodeDefaults(g *Defaults, m map[string]json.RawMessage) error {
	d := &fieldDecoder{m: m}
	if v, ok := d.integer("rows_per_page", 1, 10000); ok {
		g.RowsPerPage = int(v)
	}
	if v, ok := d.boolean("use_eval_cache"); ok {
		g.UseEvalCache = v
	}
	if v, ok := d.integer("db_min_samples", 0, maxInt); ok {
		g.DBMinSamples = int(v)
	}
	if v, ok := d.integer("db_max_samples", 1, maxInt); ok {
		g.DBMaxSamples = int(v)
	}
	if v, ok := d.number("db_extend_interval", 0, math.MaxFloat64); ok {
		g.DBExtendInterval = v
	}
	if v, ok := d.integer("db_extend_samples", 0, maxInt); ok {
		g.DBExtendSamples = int(v)
	}
	if v, ok := d.integer("eval_samples", 1, maxInt); ok {
		g.EvalSamples = int(v)
	}
	if v, ok := d.number("discard_winrate", 0, 1); ok {
		g.DiscardWinrate = v
	}
	return d.err
}

func decodeCompetition(name string, m map[string]json.RawMessage) (Competition, error) {
	c := Competition{
		Name:             name,
		MaxTokenizeFails: DefaultMaxTokenizeFails,
		GroupSamples:     1,
		PoolSize:         DefaultPoolSize,
		PendSize:         DefaultPendSize,
		AdvantageInitial: DefaultAdvantageInitial,
		AdvantageDecay:   DefaultAdvantageDecay,
		WeightSkewFactor: WeightSkewFactor,
		Params:           m,
	}
	d := &fieldDecoder{m: m}
	c.Reward, _ = d.number("reward", 0, math.MaxFloat64)
	// dataset is not read by the reference (only "fineweb2" exists); keep a
	// string value for display and accept anything else.
	_ = json.Unmarshal(m["dataset"], &c.Dataset)
	if raw := m["model_types"]; d.err == nil {
		if err := json.Unmarshal(raw, &c.ModelTypes); err != nil {
			d.fail("model_types", "want a list of class names, got %s", truncate(raw))
		}
		for _, t := range c.ModelTypes {
			if t == "" {
				d.fail("model_types", "empty class name")
			}
		}
	}
	c.ModelSize, _ = d.integer("model_size", 1, math.MaxInt64/2)
	c.Parameters, _ = d.integer("parameters", 1, math.MaxInt64/2)
	c.Tokenizer, _ = d.str("tokenizer")
	c.FreeTokenizer, _ = d.boolean("free_tokenizer")
	if v, ok := d.integer("max_sequence_len", 1, maxInt); ok {
		c.MaxSequenceLen = int(v)
	}
	if v, ok := d.integer("cap_sample_len", 0, maxInt); ok {
		c.CapSampleLen, c.CapSampleLenSet = int(v), true
	}
	if v, ok := d.integer("max_tokenize_fails", 0, maxInt); ok {
		c.MaxTokenizeFails = int(v)
	}
	if v, ok := d.integer("group_samples", 1, 1<<20); ok {
		c.GroupSamples = int(v)
	}
	if v, ok := d.integer("pool_size", 1, NUIDs); ok {
		c.PoolSize = int(v)
	}
	if v, ok := d.integer("pend_size", 0, NUIDs); ok {
		c.PendSize = int(v)
	}
	if v, ok := d.number("advantage_initial", 0, 1); ok {
		c.AdvantageInitial = v
	}
	if v, ok := d.number("advantage_decay", 0, 1); ok {
		c.AdvantageDecay = v
	}
	if v, ok := d.number("weight_skew_factor", math.SmallestNonzeroFloat64, 1000); ok {
		c.WeightSkewFactor = v
	}
	return c, d.err
}
