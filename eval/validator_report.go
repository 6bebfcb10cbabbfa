package eval

import (
	"encoding/json"
	"math"
	"sort"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modeldir"
)

// ---- the step (docs/validator.md#a-step) ----

// UIDReport is one evaluated UID of a step: the reference's uid_data[uid]
// entry (docs/validator.md#step-json) plus our additions (hotkey, n_parameters,
// forward_samples, cached_samples, status).
//
// Statistics follow the reference (naninf_count/mean/std): n_samples counts
// the finite losses, n_inf the ±Inf ones (a NaN is in neither); means and
// population standard deviations use finite values only and are +Inf when
// there are none; a UID without results (failed or skipped) has 0 for all of
// them, null losses and avg_sample_len, an empty geometry and a null
// win_matrix_row. Losses are per sample even when group_samples > 1 (the
// reference logs the grouped sums there); win_total and win_matrix_row count
// the scored samples, i.e. groups when grouping.
type UIDReport struct {
	UID chain.UID `json:"uid"`
	// Geometry is the model's shape ({} when it was not evaluated).
	Geometry    Geometry `json:"geometry"`
	Competition string   `json:"competition"`
	Label       string   `json:"label"`
	Hotkey      string   `json:"hotkey,omitempty"`
	// Block is the commitment block (2^31 by default for a benchmark).
	Block       uint64 `json:"block"`
	NParameters int64  `json:"n_parameters,omitempty"`
	// Losses are the per-sample summed losses (null: no results).
	Losses   []JSONFloat `json:"losses"`
	NSamples int         `json:"n_samples"`
	NInf     int         `json:"n_inf"`
	// AvgSampleLen is the mean token count (EOS included) of the model's
	// usable samples, 0 when none; null when the model has no results or
	// every loss came from the cache and its tokenizer did not run this step.
	AvgSampleLen *float64 `json:"avg_sample_len"`
	// LossPTAvg and LossPTStd are over loss/token count; NaN ("nan") when
	// the token counts are unknown (see AvgSampleLen).
	LossPTAvg  JSONFloat `json:"loss_pt_avg"`
	LossPTStd  JSONFloat `json:"loss_pt_std"`
	LossSumAvg JSONFloat `json:"loss_sum_avg"`
	LossSumStd JSONFloat `json:"loss_sum_std"`
	// AdvFactor is 100·(1−f) of the time advantage (0 when not scored).
	AdvFactor  float64 `json:"adv_factor"`
	WinRate    float64 `json:"win_rate"`
	WinAbsRate float64 `json:"win_abs_rate"`
	// WinTotal is the number of samples (groups) the model won: WinRate·n.
	WinTotal int `json:"win_total"`
	// WinMatrixRow is the model's row of the competition's win matrix.
	WinMatrixRow WinMatrixRow `json:"win_matrix_row"`
	Weight       float64      `json:"weight"`
	Forward      int          `json:"forward_samples"`
	Cached       int          `json:"cached_samples"`
	Status       string       `json:"status"`
}

// StepReport is what one step did: the live table, --json and
// --save-step-json. Its JSON holds the reference's step JSON (docs/validator.md#step-json:
// timestamp, block, uids, competitions, uid_data, competition_info, pages,
// step_time) plus our additions; see [UIDReports] and the notes at the top of
// stepjson.go for the encoding, and [StepReport.UnmarshalJSON] for the older
// forms that still load.
type StepReport struct {
	Step      int     `json:"step"`
	Timestamp float64 `json:"timestamp"`
	Block     uint64  `json:"block"`
	// UIDOrder lists the evaluated UIDs in evaluation order (JSON "uids").
	UIDOrder []chain.UID `json:"uids"`
	// Competitions are the competition names in evaluation order; in JSON
	// the object {name: params} with CompetitionParams (the merged params).
	Competitions      []string                              `json:"competitions"`
	CompetitionParams map[string]map[string]json.RawMessage `json:"-"`
	// UIDs are the uid_data entries in evaluation order.
	UIDs UIDReports `json:"uid_data"`
	// CompetitionInfo has, per competition with a tokenizer, the token
	// count of each sample of this step.
	CompetitionInfo map[string]CompetitionLog `json:"competition_info"`
	// Pages are the dataset pages of this step's samples ([PageName]),
	// each once, in sample order. (The reference lists the fetched pages
	// without the eval cache and none with it.)
	Pages []string `json:"pages"`
	// Samples identify, per competition, the evaluated samples in the
	// order of its models' losses.
	Samples map[string][]SampleRef `json:"samples,omitempty"`
	// Rounds are, per competition with eval_seed block, the sync block its
	// samples were drawn from.
	Rounds map[string]SyncRound `json:"rounds,omitempty"`
	// SampleErrors name the competitions skipped this step because their
	// samples could not be read, with the reason.
	SampleErrors map[string]string     `json:"sample_errors,omitempty"`
	Rejected     map[chain.UID]string  `json:"rejected,omitempty"`
	Weights      map[chain.UID]float64 `json:"weights"`
	WeightsSet   bool                  `json:"weights_set"`
	WeightsError string                `json:"weights_error,omitempty"`
	Forward      int                   `json:"forward_samples"`
	Cached       int                   `json:"cached_samples"`
	CacheHitRate float64               `json:"cache_hit_rate"`
	Timing       map[string]float64    `json:"phase_seconds"`
	StepTime     float64               `json:"step_time"`
	Evaluated    int                   `json:"evaluated"`
}

// geometryOf is a model's step JSON geometry. The embedding rows fall back
// to vocab_size when the weights did not tell (the reference falls back to
// the largest token id).
func geometryOf(info *modeldir.Info) Geometry {
	if info == nil {
		return Geometry{}
	}
	embed := info.EmbeddingRows
	if embed <= 0 {
		embed = int64(info.VocabSize)
	}
	return Geometry{NParameters: info.Params, NLayers: info.Layers, EmbedSize: embed,
		IntermediateSize: info.Intermediate, HiddenSize: info.Hidden}
}

// pageNames names the distinct pages of the samples, in sample order.
func pageNames(pages []PageRef) []string {
	out := []string{}
	seen := map[PageRef]bool{}
	for _, p := range pages {
		if !seen[p] {
			seen[p] = true
			out = append(out, PageName(p))
		}
	}
	return out
}

// fillStats fills a model's loss statistics (docs/validator.md#step-json) from its full loss
// vector and the token rows of its samples (nil when unknown: every loss
// came from the cache and its tokenizer did not run this step).
func fillStats(ur *UIDReport, full []float64, rows [][]int) {
	var mean, std float64
	ur.NSamples, mean, std = finiteStats(full)
	ur.LossSumAvg, ur.LossSumStd = JSONFloat(mean), JSONFloat(std)
	ur.NInf = 0
	for _, l := range full {
		if math.IsInf(l, 0) {
			ur.NInf++
		}
	}
	if rows == nil {
		ur.LossPTAvg, ur.LossPTStd = JSONFloat(math.NaN()), JSONFloat(math.NaN())
		ur.AvgSampleLen = nil
		return
	}
	pt := make([]float64, len(full))
	total, used := 0, 0
	for i, l := range full {
		if i >= len(rows) || len(rows[i]) == 0 {
			pt[i] = math.Inf(1)
			continue
		}
		pt[i] = l / float64(len(rows[i]))
		total += len(rows[i])
		used++
	}
	_, mean, std = finiteStats(pt)
	ur.LossPTAvg, ur.LossPTStd = JSONFloat(mean), JSONFloat(std)
	avg := 0.0
	if used > 0 {
		avg = float64(total) / float64(used)
	}
	ur.AvgSampleLen = &avg
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Run calls Step until ctx ends or steps steps were run (steps ≤ 0: forever).
