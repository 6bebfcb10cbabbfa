package hubserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
)

// FuzzServer sends arbitrary requests to the server: it must never answer
// 5xx (no panic, no internal error) to any of them.
func FuzzServer(f *testing.F) {
	f.Add("GET", "/api/models/tester/m/revision/main", "")
	f.Add("POST", "/api/models/tester/m/commit/main", `{"key":"header","value":{}}`+"\n"+`{"key":"file","value":{"path":"a","content":"eA==","encoding":"base64"}}`)
	f.Add("POST", "/tester/m.git/info/lfs/objects/batch", `{"operation":"upload","objects":[{"oid":"`+strings.Repeat("a", 64)+`","size":3}]}`)
	f.Add("PUT", "/lfs-upload/"+strings.Repeat("a", 64)+"/part/1?size=9&chunk=0&exp=9999999999&sig=x", "abc")
	f.Add("POST", "/api/repos/create", `{"name":"x","organization":"tester"}`)
	f.Add("GET", "/tester/m/resolve/main/%2e%2e/%2e%2e/etc/passwd", "")
	f.Add("PUT", "/api/models/tester/m/settings", `{"private":true}`)
	f.Add("POST", "/api/models/tester/m/paths-info/main", "paths=.gitattributes&paths=x/y&expand=true")
	f.Add("GET", "/api/datasets/tester/d/revision/main", "")
	f.Add("POST", "/api/repos/create", `{"name":"d","organization":"tester","type":"dataset"}`)
	f.Add("POST", "/datasets/tester/d.git/info/lfs/objects/batch", `{"operation":"upload","objects":[]}`)
	f.Add("GET", "/datasets/tester/d/resolve/main/.gitattributes", "")
	f.Add("GET", "/datasets/api/models/tester/m", "")
	dh, err := dirhub.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "tester", Name: "m"}
	if err := dh.CreateRepo(context.Background(), repo, false); err != nil {
		f.Fatal(err)
	}
	ds := hf.RepoID{Namespace: "tester", Name: "d", Type: hf.DatasetRepo}
	if err := dh.CreateRepo(context.Background(), ds, false); err != nil {
		f.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		req, err := http.NewRequest(method, "http://hub.test"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s → %d: %s", method, target, w.Code, w.Body.String())
		}
	})
}
