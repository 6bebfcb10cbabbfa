package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/web"
	"github.com/coldint/coldint/web/webfixture"
)

const secret = "TOP-SECRET-OUTSIDE-THE-STATE-DIR"

// echoGen "generates" the prompt's words back, one piece per word.
type echoGen struct{ calls atomic.Int32 }

func (g *echoGen) Generate(ctx context.Context, dir string, req web.GenerateRequest, onText func(string) error) (web.GenerateResult, error) {
	g.calls.Add(1)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return web.GenerateResult{}, err
	}
	n := 0
	for _, w := range strings.Fields(req.Prompt) {
		if n == req.MaxTokens {
			break
		}
		if err := onText(" " + w); err != nil {
			return web.GenerateResult{}, err
		}
		n++
	}
	return web.GenerateResult{Tokens: n}, nil
}

type fixture struct {
	root    string
	outside string
	srv     *httptest.Server
	gen     *echoGen
}

func tinyModel(t testing.TB, dir string, seed uint64) {
	t.Helper()
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HiddenAct: "silu", RMSNormEps: 1e-5,
		RopeTheta: 10000, InitializerRange: 0.02, MaxPositionEmbeddings: 128}
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: seed, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t testing.TB, gen web.Generator) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{root: filepath.Join(base, "state"), outside: filepath.Join(base, "outside")}
	if err := os.MkdirAll(f.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"secret.json", "config.json", "passwd"} {
		if err := os.WriteFile(filepath.Join(f.outside, n), []byte(`{"s":"`+secret+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(base, "src", "a"), filepath.Join(base, "src", "b")
	tinyModel(t, a, 1)
	tinyModel(t, b, 2)
	models := []webfixture.Model{
		{UID: 1, Hotkey: "5Alpha", Repo: hf.RepoID{Namespace: "alpha", Name: "m"}, Commit: "aaaa1111", Dir: a, Loss: 3.0},
		{UID: 2, Hotkey: "5Bravo", Repo: hf.RepoID{Namespace: "bravo", Name: "m"}, Commit: "bbbb2222", Dir: b, Loss: 2.5, BadHash: true},
		{UID: 3, Hotkey: "5Charlie<script>", Repo: hf.RepoID{Namespace: "charlie", Name: "m"}, Commit: "cccc3333", Loss: 4},
		{UID: 4, Hotkey: "5Delta", Repo: hf.RepoID{Namespace: "delta", Name: "m"}, Commit: "dddd4444", Loss: 5},
		{UID: 5, Hotkey: "5Echo", Repo: hf.RepoID{Namespace: "echo", Name: "m"}, Commit: "eeee5555", Dir: a, Loss: 6},
	}
	if err := webfixture.Write(context.Background(), f.root, webfixture.Options{Models: models, Steps: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	// Hostile links: a file of model 5 and model 4's whole snapshot point
	// outside the state folder, as does a step file.
	snap1 := eval.SnapshotDir(filepath.Join(f.root, "validator"), models[4].Repo, models[4].Commit)
	mustLink(t, filepath.Join(f.outside, "secret.json"), filepath.Join(snap1, "leak.json"))
	snap4 := eval.SnapshotDir(filepath.Join(f.root, "validator"), models[3].Repo, models[3].Commit)
	if err := os.MkdirAll(filepath.Dir(snap4), 0o755); err != nil {
		t.Fatal(err)
	}
	mustLink(t, f.outside, snap4)
	mustLink(t, filepath.Join(f.outside, "secret.json"), filepath.Join(f.root, "steps", "leak.json"))
	s, err := web.New(web.Options{StateDir: f.root, Generator: gen, MaxTokens: 32, LoopbackHosts: true})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

func mustLink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// get sends a raw path (not normalised by the client) and follows redirects.
func (f *fixture) get(t *testing.T, rawPath string) (int, string, http.Header) {
	t.Helper()
	u, err := url.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + u.Host + rawPath
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func getJSON[T any](t *testing.T, f *fixture, path string) T {
	t.Helper()
	code, body, _ := f.get(t, path)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return v
}

func TestAPI(t *testing.T) {
	f := newFixture(t, &echoGen{})
	comps := getJSON[[]web.Competition](t, f, "/api/competitions")
	if len(comps) != 1 || comps[0].Name != "c00" || comps[0].Models != 5 || comps[0].Steps != 3 || comps[0].Reward != 1 {
		t.Fatalf("competitions %+v", comps)
	}
	lb := getJSON[web.Leaderboard](t, f, "/api/competitions/c00/leaderboard")
	var order []int
	for _, r := range lb.Rows {
		order = append(order, int(r.UID))
	}
	if fmt.Sprint(order) != "[2 1 3 4 5]" {
		t.Fatalf("leaderboard order %v, want by loss [2 1 3 4 5]", order)
	}
	top := lb.Rows[0]
	if top.Hotkey != "5Bravo" || top.Commit != "bbbb2222" || top.Repo != "bravo/m" || top.Weight != 1 || top.WinRate != 0.9 ||
		top.Loss == nil || *top.Loss != 2.5*0.96 || top.Block != 11 || top.Link != "/models/2" || top.Rank != 1 {
		t.Fatalf("top row %+v", top)
	}
	if len(lb.History.Steps) != 3 || len(lb.History.Series) != 5 || *lb.History.Series[0].Loss[0] != 3.0 {
		t.Fatalf("history %+v", lb.History)
	}
	m1 := getJSON[web.Model](t, f, "/api/models/1")
	if m1.HashState != "verified" || m1.Geometry == nil || m1.Geometry.Hidden != 16 || m1.Geometry.Layers != 2 || len(m1.Losses) != 40 || len(m1.History) != 3 {
		t.Fatalf("model 1: hash %s geometry %+v losses %d history %d", m1.HashState, m1.Geometry, len(m1.Losses), len(m1.History))
	}
	if strings.Contains(m1.Geometry.Dir, f.root) {
		t.Fatalf("model page leaks the absolute state path %q", m1.Geometry.Dir)
	}
	if m2 := getJSON[web.Model](t, f, "/api/models/2"); m2.HashState != "mismatch" {
		t.Fatalf("model 2 hash state %q, want mismatch", m2.HashState)
	}
	if m3 := getJSON[web.Model](t, f, "/api/models/3"); m3.HashState != "missing" || m3.Downloaded {
		t.Fatalf("model 3 %+v, want missing", m3)
	}
	for _, uid := range []string{"4", "5"} {
		if m := getJSON[web.Model](t, f, "/api/models/"+uid); m.Downloaded || m.Geometry != nil || !strings.Contains(m.Problem, "leaves the state folder") {
			t.Fatalf("model %s with a link out of the state folder was read: %+v", uid, m)
		}
	}
	steps := getJSON[[]web.StepSummary](t, f, "/api/steps")
	if len(steps) != 3 || steps[2].Name != "step-003.json" {
		t.Fatalf("steps %+v (the linked-out leak.json must be ignored)", steps)
	}
	rep := getJSON[eval.StepReport](t, f, "/api/steps/step-002.json")
	if rep.Step != 2 || len(rep.UIDs) != 5 {
		t.Fatalf("step 2 %+v", rep)
	}
	code, body, h := f.get(t, "/api/models/1/files/config.json")
	if code != 200 || !strings.Contains(body, `"hidden_size"`) || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("config.json: %d %s", code, body)
	}
}

func TestCachedStepKeepsLastLoss(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	models := []webfixture.Model{{UID: 7, Hotkey: "5G", Repo: hf.RepoID{Namespace: "g", Name: "m"}, Commit: "c1", Loss: 2}}
	if err := webfixture.Write(context.Background(), root, webfixture.Options{Models: models, Steps: 3, CachedLastStep: true}); err != nil {
		t.Fatal(err)
	}
	lbs, err := web.Leaderboards(context.Background(), root)
	if err != nil || len(lbs) != 1 || len(lbs[0].Rows) != 1 {
		t.Fatalf("leaderboards %+v, %v", lbs, err)
	}
	row, h := lbs[0].Rows[0], lbs[0].History.Series[0]
	if row.Loss == nil || *row.Loss != 2*0.98 || h.Loss[2] != nil || *h.Loss[1] != 2*0.98 || row.Step != 3 {
		t.Fatalf("row %+v history %v: want the step-2 loss and a gap at step 3", row, h.Loss)
	}
}

func TestPages(t *testing.T) {
	f := newFixture(t, &echoGen{})
	tests := []struct{ path, want string }{
		{"/", `href="/competitions/c00"`},
		{"/competitions/c00", `id="leaderboard"`},
		{"/competitions/c00", `<svg class="chart"`},
		{"/competitions/c00", `5Charlie&lt;sc`},
		{"/competitions/c00", `uid 99: copy: the same content`},
		{"/models/1", `<span class="ok">verified</span>`},
		{"/models/2", `<span class="bad">mismatch</span>`},
		{"/models/1", `loss distribution`},
		{"/models/1", `loss/token 2.8800,`},
		{"/playground?model=2", `<option value="2" selected>`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body, h := f.get(t, tt.path)
			if code != 200 || !strings.Contains(body, tt.want) {
				t.Fatalf("GET %s: %d, want %q in\n%s", tt.path, code, tt.want, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "5Charlie<script>") {
				t.Fatal("unescaped hostile text")
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") == "" {
				t.Fatalf("security headers missing: %v", h)
			}
		})
	}
}

func TestNoFileOutsideState(t *testing.T) {
	f := newFixture(t, &echoGen{})
	paths := []string{
		"/api/models/1/files/../../../../outside/secret.json",
		"/api/models/1/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside/secret.json",
		"/api/models/1/files/..%2f..%2f..%2f..%2f..%2foutside%2fsecret.json",
		"/api/models/1/files/%2Fetc%2Fpasswd",
		"/api/models/1/files//etc/passwd",
		"/api/models/1/files/" + url.PathEscape(filepath.Join(filepath.Dir(f.root), "outside", "secret.json")),
		"/api/models/5/files/leak.json",
		"/api/models/5/files/config.json",
		"/api/models/1/files/..\\..\\outside\\secret.json",
		"/api/models/1/files/config.json%00",
		"/api/models/4/files/secret.json",
		"/api/models/4/files/config.json",
		"/api/steps/leak.json",
		"/api/steps/..%2Foutside%2Fsecret.json",
		"/api/steps/%2e%2e%2f%2e%2e%2foutside%2fsecret.json",
		"/api/steps/../../outside/secret.json",
		"/../../outside/secret.json",
		"/%2e%2e/%2e%2e/outside/secret.json",
		"/api/generate?model=4&prompt=hello",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			code, body, _ := f.get(t, p)
			if strings.Contains(body, secret) {
				t.Fatalf("GET %s exposed the outside file (%d)", p, code)
			}
			if code < 400 || code >= 500 {
				t.Fatalf("GET %s: status %d, want 4xx; body %s", p, code, body)
			}
		})
	}
}

func TestBadParameters(t *testing.T) {
	f := newFixture(t, &echoGen{})
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/api/models/abc", 400, "uid"},
		{"/api/models/70000", 400, "uid"},
		{"/api/models/-1", 400, "uid"},
		{"/api/models/9", 404, "no model for uid 9"},
		{"/models/x", 400, "uid"},
		{"/competitions/nope", 404, `no competition`},
		{"/api/competitions/nope/leaderboard", 404, `no competition \"nope\"`},
		{"/api/steps/step-1.txt", 400, "step name"},
		{"/api/steps/missing.json", 404, "no step"},
		{"/api/generate", 400, "model"},
		{"/api/generate?model=1", 400, "prompt"},
		{"/api/generate?model=x&prompt=a", 400, "uid"},
		{"/api/generate?model=1&prompt=a&max_tokens=0", 400, "max_tokens"},
		{"/api/generate?model=1&prompt=a&max_tokens=33", 400, "max_tokens"},
		{"/api/generate?model=1&prompt=a&max_tokens=ten", 400, "max_tokens"},
		{"/api/generate?model=1&prompt=a&temperature=-1", 400, "temperature"},
		{"/api/generate?model=1&prompt=a&temperature=NaN", 400, "temperature"},
		{"/api/generate?model=1&prompt=a&top_p=1.5", 400, "top_p"},
		{"/api/generate?model=1&prompt=a&top_k=-3", 400, "top_k"},
		{"/api/generate?model=1&prompt=a&seed=-3", 400, "seed"},
		{"/api/generate?model=1&prompt=%ff", 400, "UTF-8"},
		{"/api/generate?model=1&prompt=" + strings.Repeat("a", web.MaxPromptBytes+1), 400, "over"},
		{"/api/generate?model=3&prompt=a", 404, "uid 3"},
		{"/api/nothing", 404, "no page"},
		{"/playground?model=zz", 400, "uid"},
	}
	for _, tt := range tests {
		t.Run(tt.path[:min(len(tt.path), 60)], func(t *testing.T) {
			code, body, _ := f.get(t, tt.path)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Fatalf("GET %s: %d %s, want %d with %q", tt.path, code, body, tt.code, tt.want)
			}
			if strings.HasPrefix(tt.path, "/api/") {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Fatalf("API error is not JSON with an error field: %s", body)
				}
			}
		})
	}
	// Without an engine the playground answers 503.
	g := newFixture(t, nil)
	if code, body, _ := g.get(t, "/api/generate?model=1&prompt=hi"); code != 503 || !strings.Contains(body, "engine") {
		t.Fatalf("no generator: %d %s", code, body)
	}
}

func TestLoopbackHosts(t *testing.T) {
	f := newFixture(t, &echoGen{})
	for host, want := range map[string]int{
		"": 200, "localhost:8080": 200, "LOCALHOST": 200, "[::1]:80": 200, "127.0.0.2": 200,
		"evil.example": 421, "evil.example:8080": 421, "10.0.0.1:80": 421, "localhost.evil.example": 421,
	} {
		req, err := http.NewRequest("GET", f.srv.URL+"/api/competitions", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 421 && !strings.Contains(string(b), "loopback")) {
			t.Errorf("Host %q: %d %s, want %d", host, resp.StatusCode, b, want)
		}
	}
}

type event struct{ name, data string }

func readEvents(t *testing.T, r io.Reader) []event {
	t.Helper()
	var out []event
	var cur event
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		case line == "":
			out = append(out, cur)
			cur = event{}
		}
	}
	return out
}

func TestGenerateStream(t *testing.T) {
	gen := &echoGen{}
	f := newFixture(t, gen)
	q := url.Values{"model": {"1"}, "prompt": {"one two three four"}, "max_tokens": {"3"}, "temperature": {"0.5"}, "top_k": {"5"}, "top_p": {"0.9"}, "seed": {"7"}}
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			var resp *http.Response
			var err error
			if method == "GET" {
				resp, err = f.srv.Client().Get(f.srv.URL + "/api/generate?" + q.Encode())
			} else {
				resp, err = f.srv.Client().PostForm(f.srv.URL+"/api/generate", q)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			evs := readEvents(t, resp.Body)
			var names []string
			var text string
			for _, e := range evs {
				names = append(names, e.name)
				if e.name == "token" {
					var v struct{ Text string }
					if err := json.Unmarshal([]byte(e.data), &v); err != nil {
						t.Fatal(err)
					}
					text += v.Text
				}
			}
			if strings.Join(names, ",") != "start,token,token,token,done" || text != " one two three" {
				t.Fatalf("events %v text %q", names, text)
			}
			if !strings.Contains(evs[0].data, `"seed":7`) || !strings.Contains(evs[0].data, `"top_k":5`) {
				t.Fatalf("start event %s", evs[0].data)
			}
		})
	}
}

type failGen struct{}

func (failGen) Generate(context.Context, string, web.GenerateRequest, func(string) error) (web.GenerateResult, error) {
	return web.GenerateResult{}, errors.New("engine exploded")
}

func TestGenerateError(t *testing.T) {
	f := newFixture(t, failGen{})
	resp, err := f.srv.Client().Get(f.srv.URL + "/api/generate?model=1&prompt=x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body)
	if len(evs) != 2 || evs[1].name != "error" || !strings.Contains(evs[1].data, "engine exploded") {
		t.Fatalf("events %+v", evs)
	}
}

func TestNewRejectsMissingState(t *testing.T) {
	if _, err := web.New(web.Options{StateDir: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Fatal("a missing state folder was accepted")
	}
	// An empty folder is a valid (empty) state.
	s, err := web.New(web.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/api/competitions")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty state: %d %s", resp.StatusCode, b)
	}
}
