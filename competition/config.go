package competition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/coldint/coldint/internal/jsonobj"
)

// ErrInvalidConfig is wrapped by every competitions.json and hall_of_fame.json
// validation failure. A caller that gets it keeps its last good config.
var ErrInvalidConfig = errors.New("invalid config")

// RequiredCompetitionKeys are the keys every competition must have after the
// `default` section is merged in.
var RequiredCompetitionKeys = []string{"reward", "dataset", "model_types", "model_size", "parameters"}

// Defaults are the validator-global parameters: the reference constants overlaid with
// the `default` section of competitions.json.
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

// BuiltinDefaults returns the reference defaults: rows_per_page 25, use_eval_cache
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
// section merged in. Optional keys that were absent hold their
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
	// EvalSeed is eval_seed ("" when absent: random; see [Competition.Seed]),
	// SyncCadence sync_cadence (0 when absent: see [Competition.Cadence]) and
	// EvalDelay eval_delay in blocks.
	EvalSeed    string `json:"eval_seed,omitempty"`
	SyncCadence int    `json:"sync_cadence,omitempty"`
	EvalDelay   int    `json:"eval_delay,omitempty"`
	// Tasks are the weighted evaluation tasks (none: the validator's text source).
	Tasks []Task `json:"tasks,omitempty"`
	// Params holds every merged key as raw JSON, unknown ones included.
	Params map[string]json.RawMessage `json:"-"`
	// taskWarnings name unknown task keys, for [Config.Warnings].
	taskWarnings []string
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
// "SlicedLlamaForCausalLM".
func (c *Competition) Admits(className string) bool {
	for _, t := range c.ModelTypes {
		if strings.Contains(className, t) {
			return true
		}
	}
	return false
}

// AllowsSliced reports whether sliced evaluation may be used for className:
// only when that exact class name is listed.
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
	// Warnings name what the file holds that was ignored (see [Parse]).
	Warnings []string `json:"-"`
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

// competitionKeys are the keys a competition reads; globalKeys those the
// `default` section passes to the validator globals. legacyKeys are known
// keys that nothing reads any more.
var (
	competitionKeys = []string{"reward", "dataset", "model_types", "model_size", "parameters", "tokenizer", "free_tokenizer",
		"max_sequence_len", "cap_sample_len", "max_tokenize_fails", "group_samples", "pool_size", "pend_size",
		"advantage_initial", "advantage_decay", "weight_skew_factor", "eval_seed", "sync_cadence", "eval_delay", "tasks"}
	globalKeys = []string{"rows_per_page", "use_eval_cache", "db_min_samples", "db_max_samples", "db_extend_interval",
		"db_extend_samples", "eval_samples", "discard_winrate"}
	legacyKeys = []string{"eval_pages"}
)

// Parse parses competitions.json as the reference validator loads it:
//   - the top level must be an object; `default` (an object when present)
//     holds defaults; keys that are empty or start with '_' are ignored;
//   - every other key is a competition whose value must be an object;
//   - effective params = a copy of `default` overlaid with the competition's keys;
//   - reward, dataset, model_types, model_size and parameters must be present
//     after the merge;
//   - the `default` section also overlays the global [BuiltinDefaults].
//
// A file that breaks one of these rules is rejected whole (the error wraps
// [ErrInvalidConfig]); the caller keeps its previous config. Competitions keep
// JSON key order. As in Python's json, a repeated key keeps its first position
// and its last value.
//
// Whatever else the reference would load is loaded, and what cannot be used
// is named in [Config.Warnings]: unknown keys are ignored; an optional key
// with an unusable value (wrong type, null, out of range, e.g. group_samples
// 0) keeps its default; a competition whose required key is unusable (a
// string reward, negative parameters) is left out, since the reference would
// fail on it at every step. Python's NaN, Infinity and -Infinity literals
// are read as null, so the key holding one is unusable.
func Parse(data []byte) (*Config, error) {
	clean, literals := pythonLiterals(data)
	keys, vals, err := jsonobj.Ordered(clean)
	if err != nil {
		return nil, fmt.Errorf("parse competitions: %w: %w", err, ErrInvalidConfig)
	}
	defaults := map[string]json.RawMessage{}
	if raw, ok := vals["default"]; ok {
		if defaults, err = RawObject(raw); err != nil {
			return nil, fmt.Errorf("parse competitions: \"default\" is not an object: %w", ErrInvalidConfig)
		}
	}
	cfg := &Config{Defaults: BuiltinDefaults(), Raw: append(json.RawMessage(nil), bytes.TrimSpace(data)...)}
	for _, l := range literals {
		cfg.Warnings = append(cfg.Warnings, "non-standard JSON literal "+l)
	}
	cfg.warnUnknown("default", defaults, competitionKeys, globalKeys)
	cfg.warnProblems("default", decodeDefaults(&cfg.Defaults, defaults), "ignored, the built-in default stays")
	var comps []map[string]json.RawMessage
	var names []string
	for _, name := range keys {
		if name == "default" || name == "" || name[0] == '_' {
			continue
		}
		own, err := RawObject(vals[name])
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
			if _, ok := merged[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("parse competitions: competition %q lacks %s: %w", name, strings.Join(missing, ", "), ErrInvalidConfig)
		}
		cfg.warnUnknown("competition "+strconv.Quote(name), own, competitionKeys)
		comps, names = append(comps, merged), append(names, name)
	}
	for i, merged := range comps {
		c, d := decodeCompetition(names[i], merged)
		where := "competition " + strconv.Quote(names[i])
		if d.Err() != nil {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s left out: %s", where, strings.Join(requiredProblems(d), "; ")))
			continue
		}
		cfg.warnProblems(where, d, "ignored, the default stays")
		for _, w := range c.taskWarnings {
			cfg.Warnings = append(cfg.Warnings, where+": "+w)
		}
		cfg.Competitions = append(cfg.Competitions, c)
	}
	return cfg, nil
}

// requiredProblems are the problems of d that concern required keys.
func requiredProblems(d *Fields) []string {
	var out []string
	for _, p := range d.Problems {
		for k := range d.Required {
			if strings.HasPrefix(p, "key "+strconv.Quote(k)+":") {
				out = append(out, p)
			}
		}
	}
	return out
}

// warnUnknown records the keys of m that no rule reads.
func (c *Config) warnUnknown(where string, m map[string]json.RawMessage, known ...[]string) {
	var unknown []string
	for k := range m {
		if slices.Contains(legacyKeys, k) {
			unknown = append(unknown, k)
			continue
		}
		found := false
		for _, set := range known {
			found = found || slices.Contains(set, k)
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: key %q is not used, ignored", where, k))
	}
}

func (c *Config) warnProblems(where string, d *Fields, what string) {
	for _, p := range d.Problems {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s: %s", where, p, what))
	}
}

const maxInt = math.MaxInt32

func decodeDefaults(g *Defaults, m map[string]json.RawMessage) *Fields {
	d := &Fields{M: m, Required: map[string]bool{}, NullIsProblem: true}
	if v, ok := d.Integer("rows_per_page", 1, 10000); ok {
		g.RowsPerPage = int(v)
	}
	if v, ok := d.Bool("use_eval_cache"); ok {
		g.UseEvalCache = v
	}
	if v, ok := d.Integer("db_min_samples", 0, maxInt); ok {
		g.DBMinSamples = int(v)
	}
	if v, ok := d.Integer("db_max_samples", 1, maxInt); ok {
		g.DBMaxSamples = int(v)
	}
	if v, ok := d.Number("db_extend_interval", 0, math.MaxFloat64); ok {
		g.DBExtendInterval = v
	}
	if v, ok := d.Integer("db_extend_samples", 0, maxInt); ok {
		g.DBExtendSamples = int(v)
	}
	if v, ok := d.Integer("eval_samples", 1, maxInt); ok {
		g.EvalSamples = int(v)
	}
	if v, ok := d.Number("discard_winrate", 0, 1); ok {
		g.DiscardWinrate = v
	}
	return d
}

func decodeCompetition(name string, m map[string]json.RawMessage) (Competition, *Fields) {
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
	req := map[string]bool{}
	for _, k := range RequiredCompetitionKeys {
		req[k] = k != "dataset"
	}
	req["tasks"] = true // unusable tasks leave the competition out
	d := &Fields{M: m, Required: req, NullIsProblem: true}
	c.Reward, _ = d.Number("reward", 0, math.MaxFloat64)
	// dataset is not read by the reference (only "fineweb2" exists); keep a
	// string value for display and accept anything else.
	_ = json.Unmarshal(m["dataset"], &c.Dataset)
	c.ModelTypes = modelTypes(d)
	c.ModelSize, _ = d.Integer("model_size", 1, math.MaxInt64/2)
	c.Parameters, _ = d.Integer("parameters", 1, math.MaxInt64/2)
	c.Tokenizer, _ = d.String("tokenizer")
	c.FreeTokenizer, _ = d.Bool("free_tokenizer")
	if v, ok := d.Integer("max_sequence_len", 1, maxInt); ok {
		c.MaxSequenceLen = int(v)
	}
	if v, ok := d.Integer("cap_sample_len", 0, maxInt); ok {
		c.CapSampleLen, c.CapSampleLenSet = int(v), true
	}
	if v, ok := d.Integer("max_tokenize_fails", 0, maxInt); ok {
		c.MaxTokenizeFails = int(v)
	}
	if v, ok := d.Integer("group_samples", 1, 1<<20); ok {
		c.GroupSamples = int(v)
	}
	if v, ok := d.Integer("pool_size", 1, NUIDs); ok {
		c.PoolSize = int(v)
	}
	if v, ok := d.Integer("pend_size", 0, NUIDs); ok {
		c.PendSize = int(v)
	}
	if v, ok := d.Number("advantage_initial", 0, 1); ok {
		c.AdvantageInitial = v
	}
	if v, ok := d.Number("advantage_decay", 0, 1); ok {
		c.AdvantageDecay = v
	}
	if v, ok := d.Number("weight_skew_factor", math.SmallestNonzeroFloat64, 1000); ok {
		c.WeightSkewFactor = v
	}
	c.taskWarnings = decodeConsensus(&c, d)
	return c, d
}

// modelTypes reads model_types: a list of non-empty class names.
func modelTypes(d *Fields) []string {
	raw, ok := d.raw("model_types")
	if !ok {
		return nil
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		d.Fail("model_types", "want a list of class names, got %s", jsonobj.Quote(raw))
		return nil
	}
	for _, t := range out {
		if t == "" {
			d.Fail("model_types", "empty class name")
			return nil
		}
	}
	return out
}
