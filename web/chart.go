package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// palette colours the series of a chart.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// chartSeries is one polyline of a line chart.
type chartSeries struct {
	Label string
	Y     []*float64
}

// lineChart renders series over x = 0..n-1 as an inline SVG.
func lineChart(title, xlabel string, xticks []string, series []chartSeries) template.HTML {
	const W, H, L, R, T, B = 640.0, 260.0, 56.0, 150.0, 24.0, 36.0
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
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %g %g" width="%g" height="%g" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), W, H, W, H)
	fmt.Fprintf(&b, `<text x="%g" y="16" class="title">%s</text>`, L, html.EscapeString(title))
	if math.IsInf(lo, 1) || n == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g">no data yet</text></svg>`, L, H/2)
		return template.HTML(b.String())
	}
	if hi == lo {
		hi, lo = hi+0.5, lo-0.5
	}
	pw, ph := W-L-R, H-T-B
	x := func(i int) float64 {
		if n == 1 {
			return L + pw/2
		}
		return L + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return T + ph*(1-(v-lo)/(hi-lo)) }
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="frame"/>`, L, T, pw, ph)
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="grid"/><text x="%g" y="%.1f" class="tick" text-anchor="end">%.3g</text>`,
			L, L+pw, y(v), y(v), L-4, y(v)+4, v)
	}
	step := max(1, n/8)
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick" text-anchor="middle">%s</text>`, x(i), T+ph+14, html.EscapeString(xticks[i]))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="middle">%s</text>`, L+pw/2, H-4, html.EscapeString(xlabel))
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
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %.4g</title></circle>`, x(i), y(*v), col, html.EscapeString(s.Label), *v)
		}
		flush()
		ly := T + 14*float64(k) + 8
		fmt.Fprintf(&b, `<rect x="%g" y="%.1f" width="10" height="10" fill="%s"/><text x="%g" y="%.1f" class="legend">%s</text>`,
			L+pw+10, ly-9, col, L+pw+24, ly, html.EscapeString(s.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart renders a histogram as an inline SVG.
func barChart(title string, bins []HistogramBin) template.HTML {
	const W, H, L, T, B = 640.0, 220.0, 48.0, 24.0, 36.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %g %g" width="%g" height="%g" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), W, H, W, H)
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
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%.3g–%.3g: %d</title></rect>`,
			L+float64(i)*bw+1, T+ph-h, bw-2, h, bin.Lo, bin.Hi, bin.Count)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick">%.3g</text><text x="%g" y="%g" class="tick" text-anchor="end">%.3g</text>`,
		L, T+ph+14, bins[0].Lo, L+pw, T+ph+14, bins[len(bins)-1].Hi)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%d</text>`, L-4, T+8, top)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="middle">summed loss per sample</text></svg>`, L+pw/2, H-4)
	return template.HTML(b.String())
}
