package eval

import (
	"encoding/json"
	"time"

	"github.com/coldint/coldint/chain"
)

// finishReport fills the report's summary fields and writes the step JSON.
func (v *Validator) finishReport(rep *StepReport, cfg *Config, start time.Time) {
	rep.Timestamp = float64(start.UnixNano()) / 1e9
	rep.Competitions = []string{}
	for _, c := range cfg.Competitions {
		rep.Competitions = append(rep.Competitions, c.Name)
		if len(c.Params) > 0 {
			if rep.CompetitionParams == nil {
				rep.CompetitionParams = map[string]map[string]json.RawMessage{}
			}
			rep.CompetitionParams[c.Name] = c.Params
		}
	}
	for _, u := range rep.UIDs {
		rep.UIDOrder = append(rep.UIDOrder, u.UID)
	}
	if len(v.rejected) > 0 {
		rep.Rejected = map[chain.UID]string{}
		for u, r := range v.rejected {
			rep.Rejected[u] = r
		}
	}
	if rep.Forward+rep.Cached > 0 {
		rep.CacheHitRate = float64(rep.Cached) / float64(rep.Forward+rep.Cached)
	}
	rep.Timing = map[string]float64{}
	for k, d := range v.timing.take() {
		rep.Timing[k] = d.Seconds()
	}
	rep.StepTime = v.now().Sub(start).Seconds()
	if v.opts.SaveStepJSON != "" {
		if err := writeJSONFile(v.opts.SaveStepJSON, rep); err != nil {
			v.log.Warn("save step json", "err", err)
		}
	}
}
