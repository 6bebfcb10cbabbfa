package demorun

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/web"
)

func unixNow() float64 { return float64(time.Now().UnixMilli()) / 1000 }

// blockAt shows a block with its wall-clock time ("block N" alone when the
// time is unknown).
func blockAt(b uint64, ts float64) string {
	if ts <= 0 {
		return fmt.Sprintf("block %d", b)
	}
	return fmt.Sprintf("block %d (%s)", b, time.Unix(int64(ts), 0).UTC().Format("15:04:05 UTC"))
}

// name returns a UID's participant name ("uid N" when unknown).
func (r *runner) name(u chain.UID) string {
	if n := r.names.uidName(fmt.Sprint(u)); n != "" {
		return n
	}
	return fmt.Sprintf("uid %d", u)
}

// pct shows a fraction as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// reportStep tells what a validator step did: how many samples it scored
// and how many came from the eval cache, then each model's loss, win rate
// and weight (best first), the rejected models and whether weights were set.
func (r *runner) reportStep(rep *eval.StepReport) {
	r.say("  %s: %d forward passes on samples new to a model, %d losses reused from the eval cache",
		blockAt(rep.Block, rep.Timestamp), rep.Forward, rep.Cached)
	us := append([]eval.UIDReport(nil), rep.UIDs...)
	sort.SliceStable(us, func(i, j int) bool { return us[i].WinRate > us[j].WinRate })
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	for k, u := range us {
		loss := fmt.Sprintf("loss/token %.4f", float64(u.LossPTAvg))
		if v := float64(u.LossPTAvg); math.IsNaN(v) || v <= 0 {
			loss = "loss/token n/a (all from the cache)"
		}
		fmt.Fprintf(tw, "          %d. %s\tuid %d\t%s\t%d new + %d cached samples\twin rate %s\tweight %s\n",
			k+1, r.name(u.UID), u.UID, loss, u.Forward, u.Cached, pct(u.WinRate), pct(u.Weight))
	}
	tw.Flush()
	for _, u := range sortedKeys(rep.Rejected) {
		fmt.Fprintf(&b, "          %s (uid %d) not evaluated: %s\n", r.name(u), u, rep.Rejected[u])
	}
	switch {
	case rep.WeightsSet:
		b.WriteString("          weights set on chain\n")
	case rep.WeightsError != "":
		fmt.Fprintf(&b, "          weights not set: %s\n", rep.WeightsError)
	}
	fmt.Fprint(r.out, r.names.replace(b.String()))
}

func sortedKeys(m map[chain.UID]string) []chain.UID {
	out := make([]chain.UID, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// printLeaderboard prints a competition's leaderboard with names, the
// commitment blocks with their times and weights in percent.
func (r *runner) printLeaderboard(lb web.Leaderboard) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nLeaderboard of %s after %d validator steps, at %s:\n", lb.Competition, lb.Steps, blockAt(lb.Block, lb.BlockTime))
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tminer\tUID\tmodel\tcommit\tcommitted at\tloss/token\twin rate\tweight")
	for _, row := range lb.Rows {
		loss := "inf"
		if row.Loss != nil {
			loss = fmt.Sprintf("%.4f", *row.Loss)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%.8s\t%s\t%s\t%s\t%s\n", row.Rank, r.name(row.UID), row.UID, row.Repo, row.Commit,
			blockAt(row.Block, row.BlockTime), loss, pct(row.WinRate), pct(row.Weight))
	}
	tw.Flush()
	for _, rj := range lb.Rejected {
		fmt.Fprintf(&b, "%s (uid %d) not evaluated: %s\n", r.name(rj.UID), rj.UID, rj.Reason)
	}
	fmt.Fprint(r.out, r.names.replace(b.String()))
}

// printChainWeights prints the validator's weight row on chain as shares
// of its sum (the chain stores each as a u16).
func (r *runner) printChainWeights(w chain.Weights) {
	sum := 0.0
	for _, e := range w {
		sum += float64(e.Value)
	}
	if sum == 0 {
		return
	}
	var parts []string
	for _, e := range w {
		parts = append(parts, fmt.Sprintf("%s %s", r.name(e.UID), pct(float64(e.Value)/sum)))
	}
	fmt.Fprintf(r.out, "Weights the validator set on chain (shares of its weight row): %s\n", strings.Join(parts, ", "))
}
