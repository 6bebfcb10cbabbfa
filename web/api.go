package web

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
)

// Competition is one entry of GET /api/competitions.
type Competition struct {
	Name       string   `json:"name"`
	Reward     float64  `json:"reward"`
	Dataset    string   `json:"dataset,omitempty"`
	ModelTypes []string `json:"model_types,omitempty"`
	Parameters int64    `json:"parameters,omitempty"`
	ModelSize  int64    `json:"model_size,omitempty"`
	Models     int      `json:"models"`
	Steps      int      `json:"steps"`
}

// Row is one leaderboard row.
type Row struct {
	Rank   int       `json:"rank"`
	UID    chain.UID `json:"uid"`
	Hotkey string    `json:"hotkey"`
	Name   string    `json:"name"` // the participant's name, else "uid N"
	Model  string    `json:"model"`
	Repo   string    `json:"repo,omitempty"`
	Commit string    `json:"commit,omitempty"`
	Block  uint64    `json:"block"`
	// BlockTime is the commitment block's wall-clock time (unix seconds;
	// 0: unknown).
	BlockTime float64  `json:"block_time,omitempty"`
	Loss      *float64 `json:"loss"` // per-token loss; null when infinite or unknown
	LossSum   *float64 `json:"loss_sum"`
	WinRate   float64  `json:"win_rate"`
	Weight    float64  `json:"weight"`
	Status    string   `json:"status,omitempty"`
	Step      int      `json:"step"`
	Link      string   `json:"link"`
}

// Leaderboard is GET /api/competitions/{name}/leaderboard.
type Leaderboard struct {
	Competition string  `json:"competition"`
	Block       uint64  `json:"block"`
	BlockTime   float64 `json:"block_time,omitempty"` // the newest step's time
	Steps       int     `json:"steps"`
	Rows        []Row   `json:"rows"`
	History     History `json:"history"`
	// Rejected are the UIDs the newest step turned away, with the reason
	// (copies, hash mismatches, failed downloads).
	Rejected []Rejected `json:"rejected"`
}

// Rejected is a UID that a step did not evaluate, and why.
type Rejected struct {
	UID    chain.UID `json:"uid"`
	Name   string    `json:"name"`
	Reason string    `json:"reason"`
	Link   string    `json:"link"`
}

// History is the per-UID series over the steps (x: step index).
type History struct {
	Steps  []HistoryStep   `json:"steps"`
	Series []HistorySeries `json:"series"`
}

// HistoryStep identifies one step of a history.
type HistoryStep struct {
	Step      int     `json:"step"`
	Block     uint64  `json:"block"`
	Timestamp float64 `json:"timestamp"`
}

// HistorySeries is one UID's loss, win rate and weight at each step (null
// where the UID was not evaluated).
type HistorySeries struct {
	UID     chain.UID  `json:"uid"`
	Label   string     `json:"label"`
	Loss    []*float64 `json:"loss"`
	WinRate []*float64 `json:"win_rate"`
	Weight  []*float64 `json:"weight"`
}

// Model is GET /api/models/{uid}.
type Model struct {
	UID         chain.UID `json:"uid"`
	Hotkey      string    `json:"hotkey"`
	Name        string    `json:"name"`
	Competition string    `json:"competition"`
	Label       string    `json:"label"`
	// Rejected is why the validator turned the model away in its newest
	// step that named it (a copy, a hash mismatch, a failed download).
	Rejected   string         `json:"rejected,omitempty"`
	BlockTime  float64        `json:"block_time,omitempty"`
	Repo       string         `json:"repo,omitempty"`
	Commit     string         `json:"commit,omitempty"`
	Hash       string         `json:"hash,omitempty"`
	Block      uint64         `json:"block"`
	Downloaded bool           `json:"downloaded"`
	Problem    string         `json:"problem,omitempty"`
	Geometry   *modeldir.Info `json:"geometry,omitempty"`
	// HashState is "verified", "mismatch", "unknown" (no commitment) or
	// "missing" (not downloaded).
	HashState string `json:"hash_state"`
	// Loss is the newest known per-token loss (null: none or infinite).
	Loss      *float64         `json:"loss"`
	Last      *eval.UIDReport  `json:"last,omitempty"`
	Losses    []float64        `json:"losses,omitempty"` // finite per-sample losses of the last step
	Histogram []HistogramBin   `json:"histogram,omitempty"`
	Files     []string         `json:"files,omitempty"`
	History   []HistoryModelPt `json:"history,omitempty"`
}

// HistoryModelPt is one step of a model's own history.
type HistoryModelPt struct {
	Step      int      `json:"step"`
	Block     uint64   `json:"block"`
	Timestamp float64  `json:"timestamp"`
	Loss      *float64 `json:"loss"`
	WinRate   float64  `json:"win_rate"`
	Weight    float64  `json:"weight"`
}

// HistogramBin is one bin of a loss distribution.
type HistogramBin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count int     `json:"count"`
}

// lossPT is a per-token loss for display: nil when unknown (0, reported
// for a step served from the eval cache) or infinite.
func lossPT(v float64) *float64 {
	if v <= 0 {
		return nil
	}
	return finite(v)
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// leaderboard builds a competition's rows from the newest step that
// evaluated each UID, ranked by per-token loss.
func (s *snapshot) leaderboard(name string) Leaderboard {
	lb := Leaderboard{Competition: name, Rows: []Row{}}
	var weights map[chain.UID]float64
	if s.state != nil && s.state.CState[name] != nil {
		weights = s.state.CState[name].Weights
	}
	var idx []int
	for i, st := range s.steps {
		has := false
		for _, c := range st.Report.Competitions {
			has = has || c == name
		}
		for _, u := range st.Report.UIDs {
			has = has || u.Competition == name
		}
		if has {
			idx = append(idx, i)
		}
	}
	lb.Steps = len(idx)
	lb.Rejected = []Rejected{}
	if len(idx) > 0 {
		last := s.steps[idx[len(idx)-1]].Report
		lb.Block, lb.BlockTime = last.Block, last.Timestamp
		for u, why := range last.Rejected {
			hk := ""
			if e := s.models[u]; e != nil {
				hk = e.Hotkey
			}
			lb.Rejected = append(lb.Rejected, Rejected{UID: u, Name: s.name(u, hk), Reason: why, Link: fmt.Sprintf("/models/%d", u)})
		}
		sort.Slice(lb.Rejected, func(i, j int) bool { return lb.Rejected[i].UID < lb.Rejected[j].UID })
	}
	for _, e := range s.models {
		if e.Competition != name || e.Last == nil {
			continue
		}
		r := Row{UID: e.UID, Hotkey: e.Hotkey, Name: s.name(e.UID, e.Hotkey), Model: e.Label, Block: e.Block,
			Loss: lossPT(e.LossPT), LossSum: finite(float64(e.Last.LossSumAvg)),
			WinRate: e.Last.WinRate, Weight: e.Last.Weight, Status: e.Last.Status,
			Step: s.steps[e.LastStep].Report.Step, Link: fmt.Sprintf("/models/%d", e.UID)}
		if e.Meta != nil {
			r.Repo, r.Commit = e.Meta.ID.RepoID(), e.Meta.ID.Commit
			if r.Model == "" {
				r.Model = e.Meta.ID.Label()
			}
			if r.Block == 0 {
				r.Block = uint64(e.Meta.Block)
			}
		}
		if w, ok := weights[e.UID]; ok && r.Weight == 0 {
			r.Weight = w
		}
		r.BlockTime = s.blockTime(r.Block)
		lb.Rows = append(lb.Rows, r)
	}
	sort.Slice(lb.Rows, func(i, j int) bool {
		a, b := lb.Rows[i], lb.Rows[j]
		if (a.Loss == nil) != (b.Loss == nil) {
			return a.Loss != nil
		}
		if a.Loss != nil && *a.Loss != *b.Loss {
			return *a.Loss < *b.Loss
		}
		return a.UID < b.UID
	})
	for i := range lb.Rows {
		lb.Rows[i].Rank = i + 1
	}
	// History.
	pos := map[chain.UID]int{}
	for k, i := range idx {
		rep := s.steps[i].Report
		lb.History.Steps = append(lb.History.Steps, HistoryStep{Step: rep.Step, Block: rep.Block, Timestamp: rep.Timestamp})
		for _, u := range rep.UIDs {
			if u.Competition != name && u.Competition != "" {
				continue
			}
			p, ok := pos[u.UID]
			if !ok {
				p = len(lb.History.Series)
				pos[u.UID] = p
				lb.History.Series = append(lb.History.Series, HistorySeries{UID: u.UID, Label: s.name(u.UID, u.Hotkey),
					Loss: make([]*float64, len(idx)), WinRate: make([]*float64, len(idx)), Weight: make([]*float64, len(idx))})
			}
			hs := &lb.History.Series[p]
			hs.Loss[k] = lossPT(float64(u.LossPTAvg))
			hs.WinRate[k] = finite(u.WinRate)
			hs.Weight[k] = finite(u.Weight)
		}
	}
	if lb.History.Steps == nil {
		lb.History.Steps = []HistoryStep{}
	}
	if lb.History.Series == nil {
		lb.History.Series = []HistorySeries{}
	}
	return lb
}

// histogram bins finite values into n equal bins.
func histogram(vals []float64, n int) []HistogramBin {
	if len(vals) == 0 {
		return nil
	}
	lo, hi := vals[0], vals[0]
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi == lo {
		return []HistogramBin{{Lo: lo, Hi: hi, Count: len(vals)}}
	}
	w := (hi - lo) / float64(n)
	bins := make([]HistogramBin, n)
	for i := range bins {
		bins[i] = HistogramBin{Lo: lo + float64(i)*w, Hi: lo + float64(i+1)*w}
	}
	for _, v := range vals {
		k := int((v - lo) / w)
		if k >= n {
			k = n - 1
		}
		bins[k].Count++
	}
	return bins
}

// Leaderboards reads the state folder dir as the server does and returns the
// leaderboard of every competition (for terminal reports such as `coldint demo`).
func Leaderboards(ctx context.Context, dir string) ([]Leaderboard, error) {
	root, err := resolveRoot(dir)
	if err != nil {
		return nil, err
	}
	snap, err := load(ctx, root)
	if err != nil {
		return nil, err
	}
	var out []Leaderboard
	for _, n := range snap.competitions() {
		out = append(out, snap.leaderboard(n))
	}
	return out, nil
}
