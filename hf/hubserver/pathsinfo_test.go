package hubserver_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
)

func TestPathsInfo(t *testing.T) {
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "tester", Name: "p"}
	if err := dh.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	up := func(files map[string]string) string {
		var u []hf.UploadFile
		for p, s := range files {
			u = append(u, hf.UploadFile{Path: p, Size: int64(len(s)), Content: strings.NewReader(s)})
		}
		sha, err := dh.Upload(ctx, repo, u, "c", hf.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	first := up(map[string]string{"a.txt": "same", "w.safetensors": "one"})
	second := up(map[string]string{"w.safetensors": "two", "d/e.txt": "nested"})
	srv, err := hubserver.New(dh, hubserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(method, ctype, body string) (int, []map[string]any) {
		req := httptest.NewRequest(method, "/api/models/tester/p/paths-info/main", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		var out []map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	code, out := ask("POST", "application/json", `{"paths":["a.txt","w.safetensors","d","nope"],"expand":true}`)
	if code != 200 || len(out) != 3 {
		t.Fatalf("JSON request: %d %v", code, out)
	}
	byPath := map[string]map[string]any{}
	for _, o := range out {
		byPath[o["path"].(string)] = o
	}
	a, w, d := byPath["a.txt"], byPath["w.safetensors"], byPath["d"]
	if a["type"] != "file" || a["lfs"] != nil || a["lastCommit"].(map[string]any)["id"] != first {
		t.Errorf("a.txt = %v; want a regular file last changed in %s", a, first)
	}
	if lfs, _ := w["lfs"].(map[string]any); lfs == nil || len(lfs["oid"].(string)) != 64 || w["lastCommit"].(map[string]any)["id"] != second {
		t.Errorf("w.safetensors = %v; want an LFS file last changed in %s", w, second)
	}
	if d["type"] != "directory" {
		t.Errorf("d = %v, want a directory", d)
	}
	if code, out := ask("POST", "application/x-www-form-urlencoded", "paths=a.txt&paths=d%2Fe.txt"); code != 200 || len(out) != 2 || out[0]["lastCommit"] != nil {
		t.Errorf("form request: %d %v", code, out)
	}
	for _, tc := range []struct{ method, ctype, body string }{
		{"GET", "", ""},
		{"POST", "application/json", "{"},
		{"POST", "application/json", `{"paths":[` + strings.Repeat(`"x",`, 1000) + `"x"]}`},
	} {
		if code, _ := ask(tc.method, tc.ctype, tc.body); code < 400 || code >= 500 {
			t.Errorf("%s %.20q: status %d, want 4xx", tc.method, tc.body, code)
		}
	}
}
