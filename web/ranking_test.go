package web_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/web"
	"github.com/coldint/coldint/web/webfixture"
)

// section returns the index page's section of a competition.
func section(t *testing.T, body, comp string) string {
	t.Helper()
	i := strings.Index(body, `<section class="competition card" id="comp-`+comp+`"`)
	if i < 0 {
		t.Fatalf("index has no section for %s:\n%s", comp, body)
	}
	j := strings.Index(body[i:], "</section>")
	return body[i : i+j]
}

var rowRE = regexp.MustCompile(`(?s)<tr class="row" data-uid="(\d+)"><td class="num">(\d+)</td><td><a href="/models/\d+">([^<]*)</a></td>.*?<td class="num">([^<]*)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td></tr>`)

// TestIndexRanking: the index shows each competition's ranking (rank, name,
// loss, win rate, weight in percent) and its rejected models with why.
func TestIndexRanking(t *testing.T) {
	f := newFixture(t, &echoGen{})
	code, body, _ := f.get(t, "/")
	if code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	sec := section(t, body, "c00")
	var got []string
	for _, m := range rowRE.FindAllStringSubmatch(sec, -1) {
		got = append(got, strings.Join(m[1:], "|"))
	}
	want := []string{
		"2|1|uid 2|2.4000|90.0%|100.0%",
		"1|2|uid 1|2.8800|20.0%|0.0%",
		"3|3|uid 3|3.8400|40.0%|0.0%",
		"4|4|uid 4|4.8000|20.0%|0.0%",
		"5|5|uid 5|5.7600|30.0%|0.0%",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ranking rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(sec, `<li data-uid="99"><a href="/models/99">uid 99</a> (uid 99): <span class="reason">copy: the same content was first served by 5Other at block 3</span></li>`) {
		t.Fatalf("the rejected copy is not listed with its reason:\n%s", sec)
	}
	if !strings.Contains(body, `id="how-scoring"`) || !strings.Contains(body, "time advantage") {
		t.Fatal("the index lacks the scoring explanation")
	}
	// The newest step's block is shown with its time (step 3: 1.7e9+180 s).
	if !strings.Contains(sec, "the last at block 130 · 2023-11-14 22:16:20 UTC") {
		t.Fatalf("the last step's block has no time:\n%s", sec)
	}
}

// TestRejectedModelPage: a rejected model's page says why, where it used to
// answer 404.
func TestRejectedModelPage(t *testing.T) {
	f := newFixture(t, &echoGen{})
	code, body, _ := f.get(t, "/models/99")
	if code != 200 || !strings.Contains(body, `<p class="bad card" id="rejected-reason">Rejected by the validator, not evaluated: <span class="reason">copy: the same content was first served by 5Other at block 3</span>`) {
		t.Fatalf("GET /models/99: %d\n%s", code, body)
	}
	m := getJSON[web.Model](t, f, "/api/models/99")
	if !strings.HasPrefix(m.Rejected, "copy: ") || m.Last != nil || m.Competition != "c00" {
		t.Fatalf("model 99 %+v", m)
	}
	// An evaluated model carries no rejection.
	if m := getJSON[web.Model](t, f, "/api/models/1"); m.Rejected != "" {
		t.Fatalf("model 1 rejected %q", m.Rejected)
	}
}

// TestNamesAndBlockTimes: with the demo's summary (demo.json) in the state
// folder, pages name the participants and show each commitment block's time;
// a block of unknown time is shown as "block N" alone.
func TestNamesAndBlockTimes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	a := filepath.Join(t.TempDir(), "a")
	tinyModel(t, a, 1)
	models := []webfixture.Model{
		{UID: 1, Hotkey: "5Alpha", Repo: hf.RepoID{Namespace: "alpha", Name: "m"}, Commit: "aaaa1111", Dir: a, Loss: 3},
		{UID: 2, Hotkey: "5Bravo", Repo: hf.RepoID{Namespace: "bravo", Name: "m"}, Commit: "bbbb2222", Loss: 2.5},
	}
	if err := webfixture.Write(context.Background(), root, webfixture.Options{Models: models, Steps: 2}); err != nil {
		t.Fatal(err)
	}
	names := map[string]any{
		"miners": []map[string]any{
			{"name": "miner1", "label": "miner1", "uid": 1, "hotkey": "5Alpha", "block": 10, "committed_at": 1.8e9},
			{"name": "miner2", "label": "miner2 (surgery)", "uid": 2, "hotkey": "5Bravo", "block": 11},
			{"name": "miner3", "label": "miner3 (copy)", "uid": 99, "hotkey": "5OtherKey", "repo": "miner3/tiny", "commit": "c0ffee", "block": 12, "committed_at": 1.8e9 + 60},
			{"name": "first", "uid": 98, "hotkey": "5Other"},
		},
		"validator": map[string]any{"name": "validator", "uid": 0, "hotkey": "5Val"},
	}
	b, _ := json.Marshal(names)
	if err := os.WriteFile(filepath.Join(root, web.NamesFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	lbs, err := web.Leaderboards(context.Background(), root)
	if err != nil || len(lbs) != 1 || len(lbs[0].Rows) != 2 {
		t.Fatalf("leaderboards %+v, %v", lbs, err)
	}
	lb := lbs[0]
	if r := lb.Rows[0]; r.Name != "miner2 (surgery)" || r.BlockTime != 0 {
		t.Fatalf("row 1 %+v", r)
	}
	if r := lb.Rows[1]; r.Name != "miner1" || r.BlockTime != 1.8e9 {
		t.Fatalf("row 2 %+v", r)
	}
	if len(lb.Rejected) != 1 || lb.Rejected[0].Name != "miner3 (copy)" || lb.History.Series[0].Label != "miner1" {
		t.Fatalf("rejected %+v series %+v", lb.Rejected, lb.History.Series)
	}
	s, err := web.New(web.Options{StateDir: root})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{root: root}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	for path, wants := range map[string][]string{
		"/competitions/c00": {`<td>miner1</td>`, `data-block="10">block 10 · 2027-01-15 08:00:00 UTC</td>`, `data-block="11">block 11</td>`,
			`<a href="/models/99">miner3 (copy)</a> (uid 99: copy: the same content was first served by first at block 3)`,
			`class="legend">miner2 (surgery)</text>`},
		"/models/99": {`<title>miner3 (copy) (uid 99) · coldint</title>`, `id="rejected-reason"`,
			`<span class="reason">copy: the same content was first served by first at block 3</span>`,
			`<tr><th>repo</th><td>miner3/tiny</td></tr><tr><th>commit</th><td><code>c0ffee</code></td></tr>`,
			`<td id="block">block 12 · 2027-01-15 08:01:00 UTC</td>`},
		"/models/1": {`<td id="block">block 10 · 2027-01-15 08:00:00 UTC</td>`, `<tr><th>name</th><td>miner1</td></tr>`},
		"/":         {`<a href="/models/2">miner2 (surgery)</a>`},
	} {
		code, body, _ := f.get(t, path)
		for _, w := range wants {
			if code != 200 || !strings.Contains(body, w) {
				t.Errorf("GET %s: %d, want %q in\n%s", path, code, w, body)
			}
		}
	}
}

// TestBadNamesFile: a broken demo.json costs the names, not the pages; the
// index says what is wrong with it.
func TestBadNamesFile(t *testing.T) {
	f := newFixture(t, &echoGen{})
	if err := os.WriteFile(filepath.Join(f.root, web.NamesFile), []byte(`{"miners": [{"uid": "one"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body, _ := f.get(t, "/")
	if code != 200 || !strings.Contains(body, `<p class="bad" id="names-error">Participants are shown by UID: read names &#34;demo.json&#34;: json: cannot unmarshal`) {
		t.Fatalf("GET / with a broken names file: %d\n%s", code, body)
	}
	if lb := getJSON[web.Leaderboard](t, f, "/api/competitions/c00/leaderboard"); len(lb.Rows) != 5 || lb.Rows[0].Name != "uid 2" {
		t.Fatalf("leaderboard with a broken names file: %+v", lb.Rows)
	}
}
