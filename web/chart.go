package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// palette colours the series of a chart.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// chartSeries is one polyline of a line chart.
type chartSeries struct {
	Label string
	Y     []*float64
}

// xTick labels one x position: the block and, when known, its wall-clock
// time (a second line).
type xTick struct {
	Block uint64
	Time  string
}

// yAxis is the value range a chart draws and its tick labels.
type yAxis struct {
	Lo, Hi   float64 // drawn range (padded)
	Min, Max float64 // data range
	Flat     bool    // every value is the same
	Ticks    []float64
	Decimals int
}

// newYAxis pads the data range [min, max] by a tenth of its span on each
// side. A span below 2% of the values' magnitude is widened to that around
// its middle, so that a change in the fourth digit is not drawn as a cliff;
// a flat series (span 0) is drawn as a level line in the middle (a band of
// ±5% of its value, ±0.5 around 0). Tick labels carry enough decimals for
// neighbouring ticks to differ, so a range is never labelled 2.98 … 2.98.
// Non-negative data (rates, weights) never gets an axis below 0.
func newYAxis(min, max float64) yAxis {
	a := yAxis{Min: min, Max: max, Flat: min == max}
	mid, span := (min+max)/2, max-min
	minSpan := 0.02 * math.Max(math.Abs(min), math.Abs(max))
	switch {
	case a.Flat && mid == 0:
		a.Lo, a.Hi = -0.5, 0.5
	case a.Flat:
		a.Lo, a.Hi = mid-math.Abs(mid)*0.05, mid+math.Abs(mid)*0.05
	case span < minSpan:
		a.Lo, a.Hi = mid-minSpan*0.6, mid+minSpan*0.6
	default:
		a.Lo, a.Hi = min-span/10, max+span/10
	}
	if min >= 0 && a.Lo < 0 {
		a.Lo = 0 // rates and weights: no axis below zero
	}
	step := (a.Hi - a.Lo) / 4
	for k := 0; k <= 4; k++ {
		a.Ticks = append(a.Ticks, a.Lo+step*float64(k))
	}
	a.Decimals = int(math.Max(0, math.Ceil(-math.Log10(step))+1))
	if a.Flat {
		a.Decimals = int(math.Max(float64(a.Decimals), float64(valueDecimals(min))))
	}
	return a
}

// valueDecimals is how many decimals show a value to 4 significant digits.
func valueDecimals(v float64) int {
	if v == 0 {
		return 1
	}
	return int(math.Max(0, 3-math.Floor(math.Log10(math.Abs(v)))))
}

func (a yAxis) label(v float64) string { return strconv.FormatFloat(v, 'f', a.Decimals, 64) }

// caption states the data range with enough decimals to tell min from max.
func (a yAxis) caption() string {
	d := valueDecimals(math.Max(math.Abs(a.Min), math.Abs(a.Max)))
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', d, 64) }
	if a.Flat {
		return "flat at " + f(a.Min)
	}
	for d < 12 && f(a.Min) == f(a.Max) {
		d++
	}
	return fmt.Sprintf("min %s · max %s", f(a.Min), f(a.Max))
}

// lineChart renders series over x = 0..n-1 as an inline SVG as wide as its
// container. The y axis spans the data's real minimum and maximum with some
// padding; the caption states them (or the single value of a flat chart).
func lineChart(title string, xticks []xTick, series []chartSeries) template.HTML {
	const W, H, L, R, T, B = 960.0, 280.0, 64.0, 170.0, 40.0, 48.0
	lo, hi := math.Inf(1), math.Inf(-1)
	n := len(xticks)
	for _, s := range series {
		for _, v := range s.Y {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %g %g" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), W, H)
	fmt.Fprintf(&b, `<text x="%g" y="16" class="title">%s</text>`, L, html.EscapeString(title))
	if math.IsInf(lo, 1) || n == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g">no data yet</text></svg>`, L, H/2)
		return template.HTML(b.String())
	}
	a := newYAxis(lo, hi)
	fmt.Fprintf(&b, `<text x="%g" y="32" class="range" data-min="%g" data-max="%g">%s</text>`, L, a.Min, a.Max, html.EscapeString(a.caption()))
	pw, ph := W-L-R, H-T-B
	x := func(i int) float64 {
		if n == 1 {
			return L + pw/2
		}
		return L + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return T + ph*(1-(v-a.Lo)/(a.Hi-a.Lo)) }
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="frame"/>`, L, T, pw, ph)
	for _, v := range a.Ticks {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="grid"/><text x="%g" y="%.1f" class="tick ytick" text-anchor="end">%s</text>`,
			L, L+pw, y(v), y(v), L-4, y(v)+4, a.label(v))
	}
	step := max(1, n/8)
	for i := 0; i < n; i += step {
		t := xticks[i]
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick xtick" text-anchor="middle">block %d`, x(i), T+ph+14, t.Block)
		if t.Time != "" {
			fmt.Fprintf(&b, `<tspan x="%.1f" dy="13">%s</tspan>`, x(i), html.EscapeString(t.Time))
		}
		b.WriteString(`</text>`)
	}
	for k, s := range series {
		col := palette[k%len(palette)]
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range s.Y {
			if v == nil {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(*v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s</title></circle>`, x(i), y(*v), col, html.EscapeString(s.Label), a.label(*v))
		}
		flush()
		ly := T + 14*float64(k) + 8
		fmt.Fprintf(&b, `<rect x="%g" y="%.1f" width="10" height="10" fill="%s"/><text x="%g" y="%.1f" class="legend">%s</text>`,
			L+pw+10, ly-9, col, L+pw+24, ly, html.EscapeString(s.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart renders a histogram as an inline SVG as wide as its container.
func barChart(title string, bins []HistogramBin) template.HTML {
	const W, H, L, T, B = 960.0, 220.0, 48.0, 24.0, 36.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %g %g" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), W, H)
	fmt.Fprintf(&b, `<text x="%g" y="16" class="title">%s</text>`, L, html.EscapeString(title))
	top := 0
	for _, bin := range bins {
		top = max(top, bin.Count)
	}
	if top == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g">no finite losses</text></svg>`, L, H/2)
		return template.HTML(b.String())
	}
	pw, ph := W-L-16, H-T-B
	bw := pw / float64(len(bins))
	for i, bin := range bins {
		h := ph * float64(bin.Count) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%.4g–%.4g: %d</title></rect>`,
			L+float64(i)*bw+1, T+ph-h, bw-2, h, bin.Lo, bin.Hi, bin.Count)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick">%.4g</text><text x="%g" y="%g" class="tick" text-anchor="end">%.4g</text>`,
		L, T+ph+14, bins[0].Lo, L+pw, T+ph+14, bins[len(bins)-1].Hi)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%d</text>`, L-4, T+8, top)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="middle">summed loss per sample</text></svg>`, L+pw/2, H-4)
	return template.HTML(b.String())
}
