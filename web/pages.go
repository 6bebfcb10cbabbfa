package web

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"time"
)

// pages holds the parsed HTML templates.
type pages struct{ t *template.Template }

func newPages() *pages {
	funcs := template.FuncMap{
		"f4": func(p *float64) string {
			if p == nil {
				return "∞"
			}
			return strconv.FormatFloat(*p, 'f', 4, 64)
		},
		"pct":   func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
		"short": func(s string, n int) string { return shorten(s, n) },
		"time":  wallTime,
		"blk":   blockLabel,
	}
	return &pages{t: template.Must(template.New("").Funcs(funcs).Parse(templates))}
}

// wallTime formats unix seconds as UTC wall-clock time.
func wallTime(ts float64) string {
	return time.Unix(int64(ts), 0).UTC().Format("2006-01-02 15:04:05 UTC")
}

// blockLabel shows a block with its wall-clock time, or "block N" alone
// when its time is unknown (ts 0).
func blockLabel(b uint64, ts float64) string {
	if ts <= 0 {
		return fmt.Sprintf("block %d", b)
	}
	return fmt.Sprintf("block %d · %s", b, wallTime(ts))
}

// tickTime is the short time under a chart's block tick ("" if unknown).
func tickTime(ts float64) string {
	if ts <= 0 {
		return ""
	}
	return time.Unix(int64(ts), 0).UTC().Format("15:04:05 UTC")
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (p *pages) render(w io.Writer, name string, data any) error {
	return p.t.ExecuteTemplate(w, name, data)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages.render(w, name, data); err != nil {
		s.log.Warn("render page", "page", name, "err", err)
	}
}

func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	type section struct {
		C  Competition
		LB Leaderboard
	}
	var secs []section
	for _, c := range s.competitionList(snap) {
		secs = append(secs, section{C: c, LB: snap.leaderboard(c.Name)})
	}
	s.page(w, r, "index", map[string]any{"Title": "Competitions", "Sections": secs, "Named": snap.named,
		"Models": s.modelSummaries(snap), "Steps": len(snap.steps), "HasState": snap.state != nil, "NamesErr": snap.namesErr})
}

func (s *Server) pageCompetition(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	name, ok := s.findCompetition(w, r, snap)
	if !ok {
		return
	}
	lb := snap.leaderboard(name)
	var ticks []xTick
	for _, st := range lb.History.Steps {
		ticks = append(ticks, xTick{Block: st.Block, Time: tickTime(st.Timestamp)})
	}
	var loss, win, weight []chartSeries
	for _, sr := range lb.History.Series {
		loss = append(loss, chartSeries{Label: sr.Label, Y: sr.Loss})
		win = append(win, chartSeries{Label: sr.Label, Y: sr.WinRate})
		weight = append(weight, chartSeries{Label: sr.Label, Y: sr.Weight})
	}
	s.page(w, r, "competition", map[string]any{"Title": "Leaderboard " + name, "LB": lb, "Named": snap.named,
		"LossChart":   lineChart("loss per token at each validator step", ticks, loss),
		"WinChart":    lineChart("win rate at each validator step", ticks, win),
		"WeightChart": lineChart("weight at each validator step", ticks, weight)})
}

func (s *Server) pageModel(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	e, ok := s.findModel(w, r, snap, r.PathValue("uid"))
	if !ok {
		return
	}
	m := s.modelView(r.Context(), snap, e)
	var ticks []xTick
	var ys []*float64
	for _, h := range m.History {
		ticks = append(ticks, xTick{Block: h.Block, Time: tickTime(h.Timestamp)})
		ys = append(ys, h.Loss)
	}
	title := fmt.Sprintf("Model uid %d", m.UID)
	if m.Name != fmt.Sprintf("uid %d", m.UID) {
		title = fmt.Sprintf("%s (uid %d)", m.Name, m.UID)
	}
	s.page(w, r, "model", map[string]any{"Title": title, "M": m, "Named": snap.named,
		"Hist":    barChart("loss distribution (last evaluation)", m.Histogram),
		"History": lineChart("loss per token at each validator step", ticks, []chartSeries{{Label: m.Name, Y: ys}})})
}

func (s *Server) pagePlayground(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	sel := r.URL.Query().Get("model")
	if sel != "" {
		if _, err := parseUID(sel); err != nil {
			s.fail(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.page(w, r, "playground", map[string]any{"Title": "Playground", "Models": s.modelSummaries(snap), "Selected": sel,
		"MaxTokens": s.opts.MaxTokens, "Enabled": s.opts.Generator != nil})
}

const templates = `
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · coldint</title><link rel="icon" href="data:,">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.6em 1.5em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#cfe3ff;text-decoration:none}header b{font-size:1.2em;color:#fff}
main{max-width:1200px;margin:1.2em auto;padding:0 1.5em}
table{border-collapse:collapse;background:#fff;width:100%;margin:.6em 0 1.2em}
th,td{border-bottom:1px solid #e2e5ea;padding:.35em .6em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#eef1f5;font-weight:600}
td.num,th.num{text-align:right}code{font-size:.9em}
.card{background:#fff;border:1px solid #e2e5ea;border-radius:6px;padding:.8em 1.2em;margin:.8em 0}
.chart{background:#fff;display:block;width:100%;height:auto}.chart .range{font-size:12px;fill:#333}.chart .title{font-weight:600;font-size:13px}
.chart .tick,.chart .legend{font-size:11px;fill:#555}.chart .frame{fill:none;stroke:#ccd}.chart .grid{stroke:#eee}
.chart .bar{fill:#4a7fc1}
.ok{color:#137333;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#777}
#output{white-space:pre-wrap;background:#fff;border:1px solid #ccd;min-height:6em;padding:.6em;font-family:ui-monospace,monospace}
#output .prompt{color:#777}
form label{display:inline-block;margin:.3em 1em .3em 0}textarea{width:100%;font:inherit}
input[type=number]{width:6em}button{font:inherit;padding:.3em 1em}
</style></head><body>
<header><b>coldint</b><a href="/">competitions</a><a href="/playground">playground</a><a href="/api/">API</a></header>
<main><h1>{{.Title}}</h1>{{end}}

{{define "foot"}}</main></body></html>{{end}}

{{define "error"}}{{template "head" .}}<p class="bad" id="error">{{.Status}}: {{.Message}}</p>{{template "foot" .}}{{end}}

{{define "scoring"}}<details class="card" id="how-scoring" open><summary><b>How scoring works</b></summary>
<p><b>Loss per sample.</b> The validator keeps a database of text samples drawn from the competition's dataset and adds
fresh ones as time passes. At each step it scores every model on a set of these samples, preferring the ones a model has
not been scored on yet, and remembers the results so that it does not recompute them. A model's loss on a sample is its
summed cross-entropy over the sample's tokens: lower is better. The tables show the average per token.</p>
<p><b>Win rate.</b> Models are compared sample by sample, taking them in the order they were committed on chain, oldest
first. The oldest model holds the sample with its loss made slightly smaller by a time advantage (by default 0.4% for a
new commitment, shrinking by 0.5% of itself per epoch of 361 blocks). A newer model takes the sample only when its own
loss is lower than that, and then holds it with its own advantage. Whoever holds the sample at the end wins it. A model's
win rate is the share of samples it won. A byte-for-byte copy of a model committed earlier is not evaluated at all: the
first to publish the content keeps it.</p>
<p><b>Weights.</b> Within a competition the win rates are raised to the power 1.2 and scaled to add up to 1; only the best
models (by win rate) stay in the competition's pool. The competitions are combined by their reward shares, the result is
averaged half and half with the previous step's weights, and the validator sets it on chain. The weight column shows that
final share.</p></details>{{end}}

{{define "index"}}{{template "head" .}}
{{if not .HasState}}<p class="muted">No validator state found yet; showing step reports only.</p>{{end}}
{{with .NamesErr}}<p class="bad" id="names-error">Participants are shown by UID: {{.}}</p>{{end}}
<div id="competitions">
{{range .Sections}}<section class="competition card" id="comp-{{.C.Name}}" data-competition="{{.C.Name}}">
<h2><a href="/competitions/{{.C.Name}}">{{.C.Name}}</a></h2>
<p class="muted">reward share {{pct .C.Reward}}{{with .C.Dataset}} · dataset {{.}}{{end}}{{if .C.Parameters}} · up to {{.C.Parameters}} parameters{{end}} · {{.LB.Steps}} validator step(s){{if .LB.Steps}}, the last at {{blk .LB.Block .LB.BlockTime}}{{end}}</p>
<table class="ranking"><thead><tr><th class="num">#</th><th>miner</th><th class="num">UID</th><th>model</th><th class="num">loss/token</th><th class="num">win rate</th><th class="num">weight</th></tr></thead><tbody>
{{range .LB.Rows}}<tr class="row" data-uid="{{.UID}}"><td class="num">{{.Rank}}</td><td><a href="{{.Link}}">{{.Name}}</a></td><td class="num">{{.UID}}</td><td>{{.Model}}</td>
<td class="num">{{f4 .Loss}}</td><td class="num">{{pct .WinRate}}</td><td class="num">{{pct .Weight}}</td></tr>
{{else}}<tr><td colspan="7" class="muted">no evaluated models yet</td></tr>{{end}}
</tbody></table>
{{if .LB.Rejected}}<p><b>Rejected</b> (not evaluated in the last step):</p><ul class="rejected">{{range .LB.Rejected}}<li data-uid="{{.UID}}"><a href="{{.Link}}">{{.Name}}</a> (uid {{.UID}}): <span class="reason">{{call $.Named .Reason}}</span></li>{{end}}</ul>{{end}}
<p><a href="/competitions/{{.C.Name}}">leaderboard, history and charts of {{.C.Name}}</a></p>
</section>
{{else}}<p class="muted">no competitions yet</p>{{end}}
</div>
{{template "scoring" .}}
<p class="muted">{{.Steps}} validator step report(s) read. Models: {{range .Models}}<a href="{{.Link}}">{{.Name}}</a> {{end}}</p>
{{template "foot" .}}{{end}}

{{define "competition"}}{{template "head" .}}
<p>At {{blk .LB.Block .LB.BlockTime}}, after {{.LB.Steps}} validator step(s). Rows are ranked by the loss per token of each model's latest evaluation.</p>
<table id="leaderboard"><thead><tr><th class="num">#</th><th>miner</th><th class="num">UID</th><th>hotkey</th><th>model</th><th>commit</th><th>committed at</th><th class="num">loss/token</th><th class="num">win rate</th><th class="num">weight</th><th></th></tr></thead><tbody>
{{range .LB.Rows}}<tr class="row" data-uid="{{.UID}}"><td class="num">{{.Rank}}</td><td>{{.Name}}</td><td class="num">{{.UID}}</td><td title="{{.Hotkey}}"><code>{{short .Hotkey 12}}</code></td>
<td><a href="{{.Link}}">{{.Model}}</a></td><td title="{{.Commit}}"><code>{{short .Commit 10}}</code></td><td class="block" data-block="{{.Block}}">{{blk .Block .BlockTime}}</td>
<td class="num">{{f4 .Loss}}</td><td class="num">{{pct .WinRate}}</td><td class="num">{{pct .Weight}}</td><td><a href="/playground?model={{.UID}}">try</a></td></tr>
{{else}}<tr><td colspan="11" class="muted">no evaluated models yet</td></tr>{{end}}
</tbody></table>
{{if .LB.Rejected}}<p id="rejected">Not evaluated in the last step: {{range .LB.Rejected}}<span><a href="{{.Link}}">{{.Name}}</a> (uid {{.UID}}: {{call $.Named .Reason}})</span> {{end}}</p>{{end}}
<div class="card">{{.LossChart}}</div><div class="card">{{.WinChart}}</div><div class="card">{{.WeightChart}}</div>
{{template "scoring" .}}
<p><a href="/api/competitions/{{.LB.Competition}}/leaderboard">JSON</a></p>
{{template "foot" .}}{{end}}

{{define "model"}}{{template "head" .}}
{{with .M.Rejected}}<p class="bad card" id="rejected-reason">Rejected by the validator, not evaluated: <span class="reason">{{call $.Named .}}</span></p>{{end}}
<div class="card" id="model-info"><table>
<tr><th>name</th><td>{{.M.Name}}</td></tr><tr><th>UID</th><td>{{.M.UID}}</td></tr><tr><th>hotkey</th><td><code>{{.M.Hotkey}}</code></td></tr>
<tr><th>competition</th><td><a href="/competitions/{{.M.Competition}}">{{.M.Competition}}</a></td></tr>
<tr><th>repo</th><td>{{.M.Repo}}</td></tr><tr><th>commit</th><td><code>{{.M.Commit}}</code></td></tr><tr><th>committed at</th><td id="block">{{if .M.Block}}{{blk .M.Block .M.BlockTime}}{{else}}<span class="muted">unknown</span>{{end}}</td></tr>
<tr><th>hash</th><td id="hash-state">{{if eq .M.HashState "verified"}}<span class="ok">verified</span>{{else if eq .M.HashState "mismatch"}}<span class="bad">mismatch</span>{{else}}<span class="muted">{{.M.HashState}}</span>{{end}} <code class="muted">{{.M.Hash}}</code></td></tr>
{{with .M.Last}}<tr><th>last evaluation</th><td>loss/token {{f4 $.M.Loss}}, win rate {{pct .WinRate}}, weight {{pct .Weight}}, {{.NSamples}} samples, status {{.Status}}</td></tr>{{end}}
{{with .M.Problem}}<tr><th>note</th><td class="muted">{{.}}</td></tr>{{end}}
</table></div>
{{with .M.Geometry}}<h2>Geometry</h2><table id="geometry">
<tr><th>type</th><td>{{.ModelType}} {{range .Architectures}}{{.}} {{end}}</td></tr>
<tr><th>layers</th><td>{{.Layers}}</td></tr><tr><th>hidden</th><td>{{.Hidden}}</td></tr><tr><th>intermediate</th><td>{{.Intermediate}}</td></tr>
<tr><th>heads / kv heads / head dim</th><td>{{.Heads}} / {{.KVHeads}} / {{.HeadDim}}</td></tr>
<tr><th>vocabulary</th><td>{{.VocabSize}} (tied embeddings: {{.Tied}})</td></tr>
<tr><th>parameters</th><td>{{.Params}}</td></tr><tr><th>weight bytes</th><td>{{.WeightBytes}}</td></tr>
</table>{{end}}
{{if .M.Files}}<p>Files: {{range .M.Files}}<a href="/api/models/{{$.M.UID}}/files/{{.}}">{{.}}</a> {{end}}</p>{{end}}
{{if .M.Last}}<h2>Losses</h2><div class="card">{{.Hist}}</div><div class="card">{{.History}}</div>{{end}}
<p>{{if .M.Downloaded}}<a href="/playground?model={{.M.UID}}">Try it in the playground</a> · {{end}}<a href="/api/models/{{.M.UID}}">JSON</a></p>
{{template "foot" .}}{{end}}

{{define "playground"}}{{template "head" .}}
{{if not .Enabled}}<p class="bad">This server runs without an engine: generation is off.</p>{{end}}
<form id="gen" class="card" onsubmit="return go(event)">
<label>model <select name="model" id="model">{{range .Models}}<option value="{{.UID}}"{{if eq (print .UID) $.Selected}} selected{{end}}>{{.Name}} (uid {{.UID}}) {{.Label}}</option>{{end}}</select></label>
<label>max tokens <input type="number" name="max_tokens" value="48" min="1" max="{{.MaxTokens}}"></label>
<label>temperature <input type="number" name="temperature" value="0.8" min="0" max="100" step="0.05"></label>
<label>top-k <input type="number" name="top_k" value="40" min="0"></label>
<label>top-p <input type="number" name="top_p" value="0.95" min="0" max="1" step="0.01"></label>
<label>seed <input type="number" name="seed" value="1" min="0"></label>
<textarea name="prompt" id="prompt" rows="3">The hacker</textarea>
<button type="submit" id="run">Generate</button> <span id="status" class="muted"></span> <small class="muted">temperature 0 is greedy</small>
</form>
<div id="output"></div>
<script>
let es = null;
function go(ev) {
  ev.preventDefault();
  if (es) es.close();
  const f = document.getElementById('gen'), out = document.getElementById('output'), st = document.getElementById('status');
  const q = new URLSearchParams(new FormData(f));
  out.textContent = '';
  const p = document.createElement('span'); p.className = 'prompt'; p.textContent = q.get('prompt'); out.appendChild(p);
  const gen = document.createElement('span'); gen.id = 'generated'; out.appendChild(gen);
  st.textContent = 'generating…';
  es = new EventSource('/api/generate?' + q.toString());
  es.addEventListener('token', e => { gen.textContent += JSON.parse(e.data).text; });
  es.addEventListener('done', e => { st.textContent = 'done: ' + JSON.parse(e.data).tokens + ' tokens'; es.close(); });
  es.addEventListener('error', e => {
    let msg = 'stream closed';
    try { msg = JSON.parse(e.data).error; } catch (_) {}
    if (!st.textContent.startsWith('done')) st.textContent = 'error: ' + msg;
    es.close();
  });
  return false;
}
</script>
{{template "foot" .}}{{end}}
`
