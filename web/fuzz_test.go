package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/web"
)

// FuzzServer sends arbitrary paths and queries: the server must answer
// without a 5xx (except a 503 for a busy or engineless playground) and
// never with the content of a file outside the state folder.
func FuzzServer(f *testing.F) {
	for _, s := range []string{
		"/", "/api/competitions", "/api/models/1/files/config.json", "/api/models/1/files/../../x",
		"/api/models/5/files/leak.json", "/api/steps/step-001.json", "/api/steps/leak.json",
		"/api/generate?model=1&prompt=a+b&max_tokens=2", "/api/generate?model=1&prompt=x&top_p=NaN",
		"/models/2", "/competitions/c00", "/playground?model=1", "/%2e%2e/outside/secret.json",
	} {
		f.Add(s)
	}
	fx := newFixture(f, &echoGen{})
	f.Fuzz(func(t *testing.T, target string) {
		if strings.ContainsAny(target, " \r\n\t") || !strings.HasPrefix(target, "/") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
		req.URL = u
		req.RequestURI = target
		rec := httptest.NewRecorder()
		fx.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d: %s", target, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), secret) {
			t.Fatalf("%s exposed the outside file", target)
		}
	})
}

// FuzzNamesFile writes arbitrary bytes as the state folder's demo.json: the
// pages that show names must still answer without a 5xx.
func FuzzNamesFile(f *testing.F) {
	for _, s := range []string{
		`{"miners":[{"name":"miner1","label":"miner1","uid":1,"hotkey":"5Alpha","block":10,"committed_at":1.8e9}],"validator":{"name":"v","uid":0,"hotkey":"5V"}}`,
		`{"miners":[{"uid":99,"hotkey":"5Other","label":"<b>x</b>","repo":"a/b","commit":"c","block":3}]}`,
		`{"miners":null}`, `[]`, `{"miners":[{"uid":70000}]}`, ``, `{"validator":{"hotkey":""}}`,
	} {
		f.Add([]byte(s))
	}
	fx := newFixture(f, &echoGen{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(fx.root, web.NamesFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/", "/competitions/c00", "/models/99", "/models/1", "/api/competitions/c00/leaderboard"} {
			req := httptest.NewRequest("GET", "http://127.0.0.1"+p, nil)
			rec := httptest.NewRecorder()
			fx.srv.Config.Handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s with demo.json %q: status %d: %s", p, b, rec.Code, rec.Body.String())
			}
		}
	})
}
