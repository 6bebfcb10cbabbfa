package eval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"

	"github.com/coldint/coldint/chain"
)

// WriteTable writes the step's live table: every evaluated UID with its
// losses, win rates and weight, the rejected UIDs with their reason, and the
// phase timings.
func (r *StepReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step %d\tblock %d\t%d evaluated\t%d forward\t%d cached\tweights set: %v\t\n", r.Step, r.Block, r.Evaluated, r.Forward, r.Cached, r.WeightsSet)
	fmt.Fprintln(tw, "uid\tcompetition\tlabel\tblock\tloss_sum_avg\tloss_pt_avg\tavg_slen\tn_inf\twin_rate\twin_abs\twin_total\tweight\tfwd\tcached\tstatus\t")
	for _, u := range r.UIDs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%.4f\t%.4f\t%d\t%.4f\t%d\t%d\t%s\t\n", u.UID, u.Competition, u.Label, u.Block,
			fmtLoss(float64(u.LossSumAvg)), fmtLoss(float64(u.LossPTAvg)), fmtLen(u.AvgSampleLen), u.NInf, u.WinRate, u.WinAbsRate,
			u.WinTotal, u.Weight, u.Forward, u.Cached, short(u.Status, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	uids := make([]int, 0, len(r.Rejected))
	for u := range r.Rejected {
		uids = append(uids, int(u))
	}
	sort.Ints(uids)
	for _, u := range uids {
		fmt.Fprintf(w, "  rejected uid %d: %s\n", u, r.Rejected[uidOf(u)])
	}
	names := make([]string, 0, len(r.Timing))
	for k := range r.Timing {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  time %.2fs:", r.StepTime)
	for _, k := range names {
		fmt.Fprintf(w, " %s %.2fs", k, r.Timing[k])
	}
	_, err := fmt.Fprintln(w)
	return err
}

func fmtLoss(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.3f", v)
}

// fmtLen renders an average sample length, "-" when unknown.
func fmtLen(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func uidOf(u int) chain.UID { return chain.UID(u) }
