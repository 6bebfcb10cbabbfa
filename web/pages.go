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
		"time": func(ts float64) string {
			return time.Unix(int64(ts), 0).UTC().Format("2006-01-02 15:04:05Z")
		},
	}
	return &pages{t: template.Must(template.New("").Funcs(funcs).Parse(templates))}
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
	s.page(w, r, "index", map[string]any{"Title": "Competitions", "Competitions": s.competitionList(snap),
		"Models": s.modelSummaries(snap), "Steps": len(snap.steps), "HasState": snap.state != nil})
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
	var ticks []string
	for _, st := range lb.History.Steps {
		ticks = append(ticks, fmt.Sprintf("%d", st.Block))
	}
	var loss, win []chartSeries
	for _, sr := range lb.History.Series {
		label := fmt.Sprintf("uid %d", sr.UID)
		loss = append(loss, chartSeries{Label: label, Y: sr.Loss})
		win = append(win, chartSeries{Label: label, Y: sr.WinRate})
	}
	s.page(w, r, "competition", map[string]any{"Title": "Leaderboard " + name, "LB": lb,
		"LossChart": lineChart("loss per token by block", "block", ticks, loss),
		"WinChart":  lineChart("win rate by block", "block", ticks, win)})
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
	var ticks []string
	var ys []*float64
	for _, h := range m.History {
		ticks = append(ticks, fmt.Sprintf("%d", h.Block))
		ys = append(ys, h.Loss)
	}
	s.page(w, r, "model", map[string]any{"Title": fmt.Sprintf("Model uid %d", m.UID), "M": m,
		"Hist":    barChart("loss distribution (last evaluation)", m.Histogram),
		"History": lineChart("loss per token by block", "block", ticks, []chartSeries{{Label: fmt.Sprintf("uid %d", m.UID), Y: ys}})})
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
main{max-width:1100px;margin:1.2em auto;padding:0 1.5em}
table{border-collapse:collapse;background:#fff;width:100%;margin:.6em 0 1.2em}
th,td{border-bottom:1px solid #e2e5ea;padding:.35em .6em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#eef1f5;font-weight:600}
td.num,th.num{text-align:right}code{font-size:.9em}
.card{background:#fff;border:1px solid #e2e5ea;border-radius:6px;padding:.8em 1.2em;margin:.8em 0}
.chart{background:#fff;max-width:100%;height:auto}.chart .title{font-weight:600;font-size:13px}
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

{{define "index"}}{{template "head" .}}
{{if not .HasState}}<p class="muted">No validator state found yet; showing step reports only.</p>{{end}}
<table id="competitions"><thead><tr><th>competition</th><th class="num">reward</th><th>dataset</th><th class="num">max parameters</th><th class="num">models</th><th class="num">steps</th></tr></thead><tbody>
{{range .Competitions}}<tr><td><a href="/competitions/{{.Name}}">{{.Name}}</a></td><td class="num">{{pct .Reward}}</td><td>{{.Dataset}}</td><td class="num">{{.Parameters}}</td><td class="num">{{.Models}}</td><td class="num">{{.Steps}}</td></tr>
{{else}}<tr><td colspan="6" class="muted">no competitions yet</td></tr>{{end}}
</tbody></table>
<p class="muted">{{.Steps}} validator step report(s) read. Models: {{range .Models}}<a href="{{.Link}}">uid {{.UID}}</a> {{end}}</p>
{{template "foot" .}}{{end}}

{{define "competition"}}{{template "head" .}}
<p>At block {{.LB.Block}} after {{.LB.Steps}} step(s). Rows are ranked by the loss per token of each model's latest evaluation.</p>
<table id="leaderboard"><thead><tr><th class="num">#</th><th class="num">UID</th><th>hotkey</th><th>model</th><th>commit</th><th class="num">block</th><th class="num">loss/token</th><th class="num">win rate</th><th class="num">weight</th><th></th></tr></thead><tbody>
{{range .LB.Rows}}<tr class="row" data-uid="{{.UID}}"><td class="num">{{.Rank}}</td><td class="num">{{.UID}}</td><td title="{{.Hotkey}}"><code>{{short .Hotkey 12}}</code></td>
<td><a href="{{.Link}}">{{.Model}}</a></td><td title="{{.Commit}}"><code>{{short .Commit 10}}</code></td><td class="num">{{.Block}}</td>
<td class="num">{{f4 .Loss}}</td><td class="num">{{pct .WinRate}}</td><td class="num">{{printf "%.4f" .Weight}}</td><td><a href="/playground?model={{.UID}}">try</a></td></tr>
{{else}}<tr><td colspan="10" class="muted">no evaluated models yet</td></tr>{{end}}
</tbody></table>
{{if .LB.Rejected}}<p id="rejected">Not evaluated in the last step: {{range .LB.Rejected}}<span>uid {{.UID}} ({{.Reason}})</span> {{end}}</p>{{end}}
<div class="card">{{.LossChart}}</div><div class="card">{{.WinChart}}</div>
<p><a href="/api/competitions/{{.LB.Competition}}/leaderboard">JSON</a></p>
{{template "foot" .}}{{end}}

{{define "model"}}{{template "head" .}}
<div class="card" id="model-info"><table>
<tr><th>UID</th><td>{{.M.UID}}</td></tr><tr><th>hotkey</th><td><code>{{.M.Hotkey}}</code></td></tr>
<tr><th>competition</th><td><a href="/competitions/{{.M.Competition}}">{{.M.Competition}}</a></td></tr>
<tr><th>repo</th><td>{{.M.Repo}}</td></tr><tr><th>commit</th><td><code>{{.M.Commit}}</code></td></tr><tr><th>block</th><td>{{.M.Block}}</td></tr>
<tr><th>hash</th><td id="hash-state">{{if eq .M.HashState "verified"}}<span class="ok">verified</span>{{else if eq .M.HashState "mismatch"}}<span class="bad">mismatch</span>{{else}}<span class="muted">{{.M.HashState}}</span>{{end}} <code class="muted">{{.M.Hash}}</code></td></tr>
{{with .M.Last}}<tr><th>last evaluation</th><td>loss/token {{f4 $.M.Loss}}, win rate {{pct .WinRate}}, weight {{printf "%.4f" .Weight}}, {{.NSamples}} samples, status {{.Status}}</td></tr>{{end}}
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
<h2>Losses</h2><div class="card">{{.Hist}}</div><div class="card">{{.History}}</div>
<p><a href="/playground?model={{.M.UID}}">Try it in the playground</a> · <a href="/api/models/{{.M.UID}}">JSON</a></p>
{{template "foot" .}}{{end}}

{{define "playground"}}{{template "head" .}}
{{if not .Enabled}}<p class="bad">This server runs without an engine: generation is off.</p>{{end}}
<form id="gen" class="card" onsubmit="return go(event)">
<label>model <select name="model" id="model">{{range .Models}}<option value="{{.UID}}"{{if eq (print .UID) $.Selected}} selected{{end}}>uid {{.UID}} {{.Label}}</option>{{end}}</select></label>
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
