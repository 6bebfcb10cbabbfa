package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/coldint/coldint/internal/jsonobj"

	"github.com/coldint/coldint/chain"
)

// ScoreInput is the input of `coldint score`: one competition's losses and
// parameters. Absent parameters take the defaults (docs/validator.md#constants-and-defaults) (advantage 0.004/0.995,
// skew 1.2, group_samples 1).
type ScoreInput struct {
	CurrentBlock     chain.BlockNumber `json:"current_block"`
	AdvantageInitial float64           `json:"advantage_initial"`
	AdvantageDecay   float64           `json:"advantage_decay"`
	WeightSkewFactor float64           `json:"weight_skew_factor"`
	GroupSamples     int               `json:"group_samples"`
	Models           []ScoreModel      `json:"models"`
}

// ScoreModel is one model of a [ScoreInput]. Losses == nil (JSON null or
// absent) means the model has no results and gets weight 0.
type ScoreModel struct {
	UID    chain.UID         `json:"uid"`
	Block  chain.BlockNumber `json:"block"`
	Losses []Loss            `json:"losses"`
}

// Loss is a per-sample loss that also accepts the strings "inf", "+inf",
// "-inf", "infinity" and "nan" (any case) and null, which means +Inf.
type Loss float64

// UnmarshalJSON decodes a number, a special string or null.
func (l *Loss) UnmarshalJSON(b []byte) error {
	t := string(bytes.TrimSpace(b))
	if t == "null" {
		*l = Loss(math.Inf(1))
		return nil
	}
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch strings.ToLower(s) {
		case "inf", "+inf", "infinity", "+infinity":
			*l = Loss(math.Inf(1))
		case "-inf", "-infinity":
			*l = Loss(math.Inf(-1))
		case "nan":
			*l = Loss(math.NaN())
		default:
			return fmt.Errorf("parse loss %q: want a number, \"inf\", \"nan\" or null", s)
		}
		return nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return fmt.Errorf("parse loss %s: want a number, \"inf\", \"nan\" or null", jsonobj.Quote(b))
	}
	*l = Loss(f)
	return nil
}

// ParseScoreInput parses and checks a score input: unknown keys, duplicate
// UIDs, loss vectors of different lengths and out-of-range parameters are
// errors.
func ParseScoreInput(data []byte) (*ScoreInput, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("parse score input: not a JSON object")
	}
	in := ScoreInput{AdvantageInitial: DefaultAdvantageInitial, AdvantageDecay: DefaultAdvantageDecay, WeightSkewFactor: WeightSkewFactor, GroupSamples: 1}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("parse score input: %w", err)
	}
	if _, ok := raw["current_block"]; !ok {
		return nil, errors.New("parse score input: current_block is required")
	}
	if _, ok := raw["models"]; !ok {
		return nil, errors.New("parse score input: models is required")
	}
	switch {
	case math.IsNaN(in.AdvantageInitial) || in.AdvantageInitial < 0 || in.AdvantageInitial > 1:
		return nil, fmt.Errorf("parse score input: advantage_initial %v not in [0, 1]", in.AdvantageInitial)
	case math.IsNaN(in.AdvantageDecay) || in.AdvantageDecay < 0 || in.AdvantageDecay > 1:
		return nil, fmt.Errorf("parse score input: advantage_decay %v not in [0, 1]", in.AdvantageDecay)
	case !(in.WeightSkewFactor > 0) || math.IsInf(in.WeightSkewFactor, 0):
		return nil, fmt.Errorf("parse score input: weight_skew_factor %v must be positive", in.WeightSkewFactor)
	case in.GroupSamples < 1:
		return nil, fmt.Errorf("parse score input: group_samples %d must be at least 1", in.GroupSamples)
	}
	seen := map[chain.UID]bool{}
	n := -1
	for _, m := range in.Models {
		if seen[m.UID] {
			return nil, fmt.Errorf("parse score input: duplicate uid %d", m.UID)
		}
		seen[m.UID] = true
		if m.Losses == nil {
			continue
		}
		if n >= 0 && len(m.Losses) != n {
			return nil, fmt.Errorf("parse score input: uid %d has %d losses, others have %d", m.UID, len(m.Losses), n)
		}
		n = len(m.Losses)
	}
	return &in, nil
}

// ScoreReport is the output of `coldint score`: one competition's scoring
// before hall of fame and EMA. Maps are keyed by the UID as a decimal string.
type ScoreReport struct {
	CurrentBlock     chain.BlockNumber `json:"current_block"`
	AdvantageInitial float64           `json:"advantage_initial"`
	AdvantageDecay   float64           `json:"advantage_decay"`
	WeightSkewFactor float64           `json:"weight_skew_factor"`
	GroupSamples     int               `json:"group_samples"`
	// Seed is the shuffle seed used for grouping (only meaningful when g > 1).
	Seed uint64 `json:"seed"`
	// Samples is the per-model sample count; Groups the number of scored units.
	Samples int `json:"n_samples"`
	Groups  int `json:"n_groups"`
	// Order lists the scored UIDs oldest commitment first.
	Order            []chain.UID        `json:"order"`
	AdvantageFactors map[string]float64 `json:"advantage_factors"`
	Wins             map[string]int     `json:"wins"`
	WinRate          map[string]float64 `json:"win_rate"`
	WinAbsRate       map[string]float64 `json:"win_abs_rate"`
	// Weights holds every input UID; models without results get 0.
	Weights map[string]float64 `json:"weights"`

	blocks map[chain.UID]chain.BlockNumber
	all    []chain.UID
}

// Explain scores a [ScoreInput]; seed fixes the grouping shuffle.
func Explain(in *ScoreInput, seed uint64) (*ScoreReport, error) {
	models := make([]ModelLosses, len(in.Models))
	rep := &ScoreReport{
		CurrentBlock: in.CurrentBlock, AdvantageInitial: in.AdvantageInitial, AdvantageDecay: in.AdvantageDecay,
		WeightSkewFactor: in.WeightSkewFactor, GroupSamples: in.GroupSamples, Seed: seed,
		AdvantageFactors: map[string]float64{}, Wins: map[string]int{}, WinRate: map[string]float64{},
		WinAbsRate: map[string]float64{}, Weights: map[string]float64{}, blocks: map[chain.UID]chain.BlockNumber{},
	}
	for i, m := range in.Models {
		models[i] = ModelLosses{UID: m.UID, Block: m.Block}
		if m.Losses != nil {
			ls := make([]float64, len(m.Losses))
			for j, l := range m.Losses {
				ls[j] = float64(l)
			}
			models[i].Losses = ls
			rep.Samples = len(ls)
		}
		rep.blocks[m.UID] = m.Block
		rep.all = append(rep.all, m.UID)
	}
	p := ScoreParams{
		WinParams:        WinParams{CurrentBlock: in.CurrentBlock, AdvantageInitial: in.AdvantageInitial, AdvantageDecay: in.AdvantageDecay},
		WeightSkewFactor: in.WeightSkewFactor,
		GroupSamples:     in.GroupSamples,
	}
	res, err := ScoreCompetition(models, p, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	if err != nil {
		return nil, err
	}
	key := func(u chain.UID) string { return strconv.Itoa(int(u)) }
	rep.Groups, rep.Order = res.N, res.Order
	for u, f := range res.Factors {
		rep.AdvantageFactors[key(u)] = f
		rep.Wins[key(u)] = res.Wins[u]
		rep.WinRate[key(u)] = res.WinRate[u]
		rep.WinAbsRate[key(u)] = res.WinAbsRate[u]
	}
	for u, w := range res.Weights {
		rep.Weights[key(u)] = w
	}
	return rep, nil
}

// WriteTable writes the report as a human-readable table: scored models
// oldest first, then models without results.
func (r *ScoreReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "block %d  advantage %g/%g  skew %g  group_samples %d", r.CurrentBlock, r.AdvantageInitial, r.AdvantageDecay, r.WeightSkewFactor, r.GroupSamples)
	if r.GroupSamples > 1 {
		fmt.Fprintf(w, "  seed %d", r.Seed)
	}
	fmt.Fprintf(w, "\n%d samples → %d scored units\n\n", r.Samples, r.Groups)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "UID\tBLOCK\tAGE_EPOCHS\tADV_%\tWINS\tWIN_RATE\tWIN_ABS\tWEIGHT\t")
	scored := map[chain.UID]bool{}
	for _, u := range r.Order {
		scored[u] = true
		k := strconv.Itoa(int(u))
		age := (float64(r.CurrentBlock) - float64(r.blocks[u])) / BlocksPerEpoch
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.4f\t%d\t%.4f\t%.4f\t%.6f\t\n", u, r.blocks[u], age, 100*(1-r.AdvantageFactors[k]),
			r.Wins[k], r.WinRate[k], r.WinAbsRate[k], r.Weights[k])
	}
	for _, u := range r.all {
		if !scored[u] {
			fmt.Fprintf(tw, "%d\t%d\t-\t-\t-\t-\t-\t%.6f\t\n", u, r.blocks[u], 0.0)
		}
	}
	return tw.Flush()
}
