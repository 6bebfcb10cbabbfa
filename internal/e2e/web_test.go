package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/web"
	"github.com/coldint/coldint/web/webfixture"
)

// webState writes a state folder with three tiny byte-tokenizer models.
func webState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	base := t.TempDir()
	tok := filepath.Join(base, "tokenizer")
	if err := demorun.WriteByteTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	var models []webfixture.Model
	for i, name := range []string{"ada", "bob", "cy"} {
		dir := filepath.Join(base, "src", name)
		cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 257, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
			NumAttentionHeads: 2, NumKeyValueHeads: 2, MaxPositionEmbeddings: 512, RopeTheta: 10000, HiddenAct: "silu",
			InitializerRange: 0.02, RMSNormEps: 1e-5}
		if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: uint64(i + 1), DType: safetensors.BF16, TokenizerDir: tok}); err != nil {
			t.Fatal(err)
		}
		models = append(models, webfixture.Model{UID: chain.UID(i + 1), Hotkey: "5Hotkey" + strings.ToUpper(name),
			Repo: hf.RepoID{Namespace: name, Name: "tiny"}, Commit: fmt.Sprintf("%040x", i+1), Dir: dir, Loss: 5.6 - 0.3*float64(i)})
	}
	state := filepath.Join(base, "state")
	if err := webfixture.Write(ctx, state, webfixture.Options{Models: models, Steps: 4, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	return state
}

// startServe runs `coldint serve` on a free loopback port and returns its URL.
func startServe(t *testing.T, state string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, coldintBin(t), "serve", "--addr", "127.0.0.1:0", "--state", state, "--threads", "1", "--max-tokens", "64")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		i := strings.Index(l, "http://")
		if i < 0 {
			t.Fatalf("serve printed %q", l)
		}
		return strings.TrimSuffix(l[i:], "/")
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return ""
}

type browserResult struct {
	Competitions []string `json:"competitions"`
	Title        string   `json:"title"`
	Rows         []struct {
		UID     int    `json:"uid"`
		Rank    int    `json:"rank"`
		Hotkey  string `json:"hotkey"`
		Model   string `json:"model"`
		Commit  string `json:"commit"`
		Block   uint64 `json:"block"`
		Loss    string `json:"loss"`
		WinRate string `json:"winRate"`
		Link    string `json:"link"`
	} `json:"rows"`
	Charts          int               `json:"charts"`
	ModelURL        string            `json:"modelURL"`
	HashState       string            `json:"hashState"`
	Geometry        map[string]string `json:"geometry"`
	PlaygroundModel string            `json:"playgroundModel"`
	Status          string            `json:"status"`
	Generated       string            `json:"generated"`
	Screenshots     []string          `json:"screenshots"`
	Console         []string          `json:"console"`
	PageErrors      []string          `json:"pageErrors"`
}

// TestWebBrowser drives Debian's chromium (headless, through playwright-core)
// over `coldint serve`: leaderboard rows, a model page and the playground.
// Screenshots go to $WEBTEST_OUT when set, else to the test's temp folder.
func TestWebBrowser(t *testing.T) {
	needBrowser(t)
	state := webState(t)
	base := startServe(t, state)
	lb := apiLeaderboard(t, base)
	if len(lb.Rows) != 3 {
		t.Fatalf("leaderboard API: %+v", lb)
	}
	r := runBrowser(t, base, "browser")
	checkBrowser(t, r, lb)
	// Lowest loss first: cy (uid 3) was built with the lowest loss.
	if r.Rows[0].UID != 3 || r.Charts < 3 || r.ModelURL != "/models/3" || r.PlaygroundModel != "3" {
		t.Errorf("top uid %d, %d chart lines, model page %q, playground model %q", r.Rows[0].UID, r.Charts, r.ModelURL, r.PlaygroundModel)
	}
	if r.Geometry["layers"] != "2" || r.Geometry["hidden"] != "32" {
		t.Errorf("geometry %v", r.Geometry)
	}
	// Greedy generation through the API is deterministic.
	q := "/api/generate?model=3&prompt=Once+upon+a+time&max_tokens=12&temperature=0"
	a, b := sseText(t, base+q), sseText(t, base+q)
	if a == "" || a != b {
		t.Fatalf("greedy API generations %q and %q", a, b)
	}
}

// needBrowser skips (or fails under COLDINT_TEST_REQUIRE_DEPS) without
// chromium, node and playwright-core.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "Debian chromium is not installed (make setup-web)")
	}
	testenv.Node(t)
	testenv.NodeModules(t, "web")
}

const chromiumPath = "/usr/bin/chromium"

func apiLeaderboard(t *testing.T, base string) web.Leaderboard {
	t.Helper()
	resp, err := http.Get(base + "/api/competitions/c00/leaderboard")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lb web.Leaderboard
	if err := json.NewDecoder(resp.Body).Decode(&lb); err != nil {
		t.Fatal(err)
	}
	return lb
}

// runBrowser runs tools/webtest/webtest.js against base. Screenshots go to
// $WEBTEST_OUT/<name> when WEBTEST_OUT is set, else to a temp folder.
func runBrowser(t *testing.T, base, name string) browserResult {
	t.Helper()
	out := os.Getenv("WEBTEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	out = filepath.Join(out, name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Node(t), filepath.Join(testenv.Root(), "tools", "webtest", "webtest.js"))
	cmd.Env = append(os.Environ(), "WEBTEST_URL="+base, "WEBTEST_OUT="+out, "WEBTEST_PROFILE="+filepath.Join(t.TempDir(), "profile"),
		"WEBTEST_NODE_MODULES="+testenv.NodeModules(t, "web"), "WEBTEST_CHROMIUM="+chromiumPath, "WEBTEST_PROMPT=Once upon a time")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser driver: %v\n%s\n%s", err, stderr.String(), stdout.String())
	}
	var r browserResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("driver output: %v\n%s", err, stdout.String())
	}
	t.Logf("screenshots: %v", r.Screenshots)
	return r
}

// checkBrowser compares what the browser saw with the API's leaderboard.
func checkBrowser(t *testing.T, r browserResult, lb web.Leaderboard) {
	t.Helper()
	if fmt.Sprint(r.Competitions) != "[c00]" || !strings.Contains(r.Title, "Leaderboard c00") {
		t.Fatalf("competitions %v, title %q", r.Competitions, r.Title)
	}
	if len(r.Rows) != len(lb.Rows) || len(r.Rows) == 0 {
		t.Fatalf("browser saw %d rows, API has %d", len(r.Rows), len(lb.Rows))
	}
	for i, row := range r.Rows {
		want := lb.Rows[i]
		loss := "∞"
		if want.Loss != nil {
			loss = fmt.Sprintf("%.4f", *want.Loss)
		}
		if row.UID != int(want.UID) || row.Rank != i+1 || row.Hotkey != want.Hotkey || row.Model != want.Model ||
			!strings.HasPrefix(want.Commit, strings.TrimSuffix(row.Commit, "…")) || row.Block != want.Block ||
			row.Loss != loss || row.Link != want.Link {
			t.Errorf("row %d: browser %+v, API %+v", i, row, want)
		}
	}
	if want := fmt.Sprintf("/models/%d", lb.Rows[0].UID); r.ModelURL != want || !strings.HasPrefix(r.HashState, "verified") {
		t.Errorf("model page %q (want %q) hash %q", r.ModelURL, want, r.HashState)
	}
	if !strings.HasPrefix(r.Status, "done") || strings.TrimSpace(r.Generated) == "" {
		t.Errorf("playground: status %q generated %q", r.Status, r.Generated)
	}
	if len(r.PageErrors) > 0 || len(r.Console) > 0 {
		t.Errorf("page errors %v console errors %v", r.PageErrors, r.Console)
	}
	for _, p := range r.Screenshots {
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", p, err)
		}
	}
	if len(r.Screenshots) != 4 {
		t.Errorf("%d screenshots, want 4", len(r.Screenshots))
	}
}

func sseText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var text string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"text"`) && !strings.Contains(line, `"tokens"`) {
			var v struct{ Text string }
			if err := json.Unmarshal([]byte(line[6:]), &v); err == nil {
				text += v.Text
			}
		}
	}
	if !strings.Contains(string(body), "event: done") {
		t.Fatalf("generation did not finish: %s", body)
	}
	return text
}
