package hubserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

const tok = "hf_server_test"

func setup(t *testing.T) (*httptest.Server, *dirhub.Hub, string) {
	t.Helper()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{tok}, ChunkSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	repo := hf.RepoID{Namespace: "tester", Name: "m"}
	if err := dh.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	sha, err := dh.Upload(ctx, repo, hubtest.UploadFiles(hubtest.Model(1, 5000)), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ts, dh, sha
}

func call(t *testing.T, method, u, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var auth = map[string]string{"Authorization": "Bearer " + tok}

func TestResolveAndInfo(t *testing.T) {
	ts, _, sha := setup(t)
	resp, body := call(t, "GET", ts.URL+"/tester/m/resolve/"+sha+"/config.json", "", map[string]string{"Range": "bytes=2-5"})
	if resp.StatusCode != 206 || body != string(hubtest.Model(1, 5000)[0].Data[2:6]) || resp.Header.Get("X-Repo-Commit") != sha || resp.Header.Get("ETag") == "" {
		t.Errorf("ranged resolve: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = call(t, "HEAD", ts.URL+"/tester/m/resolve/main/model.safetensors", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Linked-Size") != "5000" || resp.Header.Get("Content-Length") != "5000" {
		t.Errorf("HEAD resolve: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = call(t, "GET", ts.URL+"/tester/m/resolve/main/nope.bin", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("missing file: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = call(t, "GET", ts.URL+"/api/models/tester/m/revision/refs%2Fpr%2F1", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "RevisionNotFound" {
		t.Errorf("missing revision: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = call(t, "GET", ts.URL+"/api/models/tester/none", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "RepoNotFound" {
		t.Errorf("missing repo: %d %v", resp.StatusCode, resp.Header)
	}
	_, body = call(t, "GET", ts.URL+"/api/models/tester/m/revision/"+sha, "", nil)
	if strings.Contains(body, `"size"`) {
		t.Errorf("model info without blobs=true lists sizes: %s", body)
	}
	_, body = call(t, "GET", ts.URL+"/api/models/tester/m/revision/"+sha+"?blobs=True", "", nil) // as Python sends it
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
			Size      int64  `json:"size"`
			LFS       *struct {
				SHA256 string `json:"sha256"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.SHA != sha || len(info.Siblings) != 6 {
		t.Fatalf("model info: %v %s", err, body)
	}
	for _, sb := range info.Siblings {
		if sb.RFilename == "model.safetensors" && (sb.Size != 5000 || sb.LFS == nil || len(sb.LFS.SHA256) != 64) {
			t.Errorf("blobs=True sibling %+v lacks size or lfs", sb)
		}
	}
}

func TestUploadChecks(t *testing.T) {
	ts, dh, _ := setup(t)
	data := "hello lfs"
	oid := "2ae14d0f6b1ad0d2e3a8c1b9eb6c46b3c98cf3e3b8fd4c56a3a1a1a2e1b0f5b0" // not the hash of data
	batch := `{"operation":"upload","transfers":["basic"],"objects":[{"oid":"` + oid + `","size":9}]}`
	resp, _ := call(t, "POST", ts.URL+"/tester/m.git/info/lfs/objects/batch", batch, nil)
	if resp.StatusCode != 401 {
		t.Errorf("anonymous batch: %d", resp.StatusCode)
	}
	resp, body := call(t, "POST", ts.URL+"/tester/m.git/info/lfs/objects/batch", batch, auth)
	if resp.StatusCode != 200 {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	var br struct {
		Objects []struct {
			Actions struct {
				Upload struct {
					Href string `json:"href"`
				} `json:"upload"`
			} `json:"actions"`
		} `json:"objects"`
	}
	json.Unmarshal([]byte(body), &br)
	href := br.Objects[0].Actions.Upload.Href
	// Content that does not hash to the oid is refused and not stored.
	resp, _ = call(t, "PUT", href, data, nil)
	if resp.StatusCode != 422 {
		t.Errorf("PUT of wrong content: %d", resp.StatusCode)
	}
	if _, ok := dh.HasObject(oid); ok {
		t.Errorf("wrong content was stored")
	}
	// A tampered signature is refused.
	resp, _ = call(t, "PUT", strings.Replace(href, "size=9", "size=10", 1), data, nil)
	if resp.StatusCode != 403 {
		t.Errorf("PUT with a tampered link: %d", resp.StatusCode)
	}
	// A commit naming an object never uploaded is refused.
	commit := `{"key":"header","value":{"summary":"x"}}` + "\n" + `{"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":"` + oid + `","size":9}}`
	resp, _ = call(t, "POST", ts.URL+"/api/models/tester/m/commit/main", commit, auth)
	if resp.StatusCode != 400 {
		t.Errorf("commit of a missing object: %d", resp.StatusCode)
	}
	// A commit with an escaping path is refused.
	commit = `{"key":"header","value":{"summary":"x"}}` + "\n" + `{"key":"file","value":{"path":"../w","content":"","encoding":"base64"}}`
	resp, _ = call(t, "POST", ts.URL+"/api/models/tester/m/commit/main", commit, auth)
	if resp.StatusCode != 400 {
		t.Errorf("commit of ../w: %d", resp.StatusCode)
	}
	resp, _ = call(t, "POST", ts.URL+"/api/repos/create", `{"name":"m","organization":"tester","type":"model"}`, auth)
	if resp.StatusCode != 409 {
		t.Errorf("create existing repo: %d", resp.StatusCode)
	}
	resp, _ = call(t, "POST", ts.URL+"/api/repos/create", `{"name":"x/../y","organization":"tester"}`, auth)
	if resp.StatusCode != 400 {
		t.Errorf("create repo with a bad name: %d", resp.StatusCode)
	}
	resp, _ = call(t, "POST", ts.URL+"/api/repos/create", `{"name":"sp","organization":"tester","type":"space"}`, auth)
	if resp.StatusCode != 400 {
		t.Errorf("create space repo: %d", resp.StatusCode)
	}
	resp, _ = call(t, "POST", ts.URL+"/api/repos/create", `{"name":"ds","organization":"tester","type":"dataset"}`, auth)
	if resp.StatusCode != 200 {
		t.Errorf("create dataset repo: %d", resp.StatusCode)
	}
	// The dataset is not a model: its name answers 404 under /api/models.
	resp, _ = call(t, "GET", ts.URL+"/api/models/tester/ds", "", auth)
	if resp.StatusCode != 404 {
		t.Errorf("dataset read as a model: %d", resp.StatusCode)
	}
	resp, _ = call(t, "GET", ts.URL+"/api/datasets/tester/ds", "", auth)
	if resp.StatusCode != 200 {
		t.Errorf("dataset info: %d", resp.StatusCode)
	}
	// An escaped slash cannot smuggle a prefix into a repo name.
	resp, _ = call(t, "GET", ts.URL+"/api/models/datasets/tester%2Fds", "", auth)
	if resp.StatusCode != 400 {
		t.Errorf("escaped slash in a repo name: %d", resp.StatusCode)
	}
}

func TestNamespaceTokens(t *testing.T) {
	ctx := context.Background()
	dh, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hubserver.New(dh, hubserver.Options{Tokens: []string{"bad/ns:tok"}}); err == nil {
		t.Fatal("New accepted a token for an invalid namespace")
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: []string{"alice:hf_alice", "bob:hf_bob", "hf_admin"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := func(tok string) *hub.Client {
		c, err := hub.New(hub.WithEndpoint(ts.URL), hub.WithToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob, admin := client("hf_alice"), client("hf_bob"), client("hf_admin")
	aRepo := hf.RepoID{Namespace: "alice", Name: "model"}
	if err := bob.CreateRepo(ctx, aRepo, true); !errors.Is(err, hf.ErrUnauthorized) {
		t.Fatalf("bob creating alice/model: %v", err)
	}
	if err := alice.CreateRepo(ctx, aRepo, true); err != nil {
		t.Fatal(err)
	}
	sha, err := alice.Upload(ctx, aRepo, hubtest.UploadFiles(hubtest.Model(1, 2<<20)), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Upload(ctx, aRepo, hubtest.UploadFiles(hubtest.Model(2, 10)), "evil", hf.UploadOptions{}); !errors.Is(err, hf.ErrUnauthorized) {
		t.Errorf("bob uploading to alice/model: %v", err)
	}
	if err := bob.SetVisibility(ctx, aRepo, false); !errors.Is(err, hf.ErrUnauthorized) {
		t.Errorf("bob changing alice's visibility: %v", err)
	}
	if _, err := bob.ModelInfo(ctx, aRepo, sha); !errors.Is(err, hf.ErrRepoNotFound) {
		t.Errorf("bob reading alice's private repo: %v", err)
	}
	if _, err := admin.ModelInfo(ctx, aRepo, sha); err != nil {
		t.Errorf("admin reading alice's private repo: %v", err)
	}
	if err := alice.SetVisibility(ctx, aRepo, false); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Download(ctx, aRepo, sha, nil, t.TempDir(), hf.DownloadOptions{}); err != nil {
		t.Errorf("bob downloading alice's public repo: %v", err)
	}
	resp, body := call(t, "GET", ts.URL+"/api/whoami-v2", "", map[string]string{"Authorization": "Bearer hf_bob"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"bob"`) {
		t.Errorf("whoami: %d %s", resp.StatusCode, body)
	}
}

func TestMultipartChecks(t *testing.T) {
	ts, dh, _ := setup(t)
	data := hubtest.RandomBytes(77, 2<<20+100)
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	batch := `{"operation":"upload","transfers":["basic","multipart"],"objects":[{"oid":"` + oid + `","size":` + strconv.Itoa(len(data)) + `}]}`
	resp, body := call(t, "POST", ts.URL+"/tester/m.git/info/lfs/objects/batch", batch, auth)
	if resp.StatusCode != 200 {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	var br struct {
		Transfer string `json:"transfer"`
		Objects  []struct {
			Actions struct {
				Upload struct {
					Href   string            `json:"href"`
					Header map[string]string `json:"header"`
				} `json:"upload"`
			} `json:"actions"`
		} `json:"objects"`
	}
	json.Unmarshal([]byte(body), &br)
	up := br.Objects[0].Actions.Upload
	if br.Transfer != "multipart" || up.Header["chunk_size"] != "1048576" || up.Header["00003"] == "" || up.Header["00004"] != "" {
		t.Fatalf("batch answer %s", body)
	}
	put := func(n int, b []byte) (int, string) {
		resp, _ := call(t, "PUT", up.Header[fmt.Sprintf("%05d", n)], string(b), nil)
		return resp.StatusCode, resp.Header.Get("ETag")
	}
	part := func(n int) []byte { return data[(n-1)<<20 : min(n<<20, len(data))] }
	if code, _ := put(1, part(1)[:100]); code != 400 {
		t.Errorf("short part: %d", code)
	}
	if code, _ := put(1, append(bytes.Clone(part(1)), 'x')); code != 400 {
		t.Errorf("long part: %d", code)
	}
	var etags []string
	for n := 1; n <= 3; n++ {
		code, et := put(n, part(n))
		if code != 200 || et == "" {
			t.Fatalf("part %d: %d %q", n, code, et)
		}
		etags = append(etags, et)
	}
	complete := func(tags []string) int {
		var parts []string
		for i, e := range tags {
			parts = append(parts, fmt.Sprintf(`{"partNumber":%d,"etag":%q}`, i+1, e))
		}
		resp, _ := call(t, "POST", up.Href, `{"oid":"`+oid+`","parts":[`+strings.Join(parts, ",")+`]}`, nil)
		return resp.StatusCode
	}
	if code := complete(etags[:2]); code != 400 {
		t.Errorf("completion with a missing part: %d", code)
	}
	if code := complete([]string{etags[0], etags[2], etags[1]}); code != 400 {
		t.Errorf("completion with swapped etags: %d", code)
	}
	// A failed re-upload of part 2 after its success voids it.
	if code, _ := put(2, part(2)[:10]); code != 400 {
		t.Errorf("short re-upload: %d", code)
	}
	if code := complete(etags); code != 400 {
		t.Errorf("completion after a failed re-upload: %d", code)
	}
	if code, et := put(2, part(2)); code != 200 || et != etags[1] {
		t.Fatalf("re-upload of part 2: %d %q", code, et)
	}
	if code := complete(etags); code != 200 {
		t.Fatalf("completion: %d", code)
	}
	if size, ok := dh.HasObject(oid); !ok || size != int64(len(data)) {
		t.Fatalf("object not stored: %v %d", ok, size)
	}
	// Parts whose bytes do not hash to the oid are refused at completion.
	bad := bytes.Clone(data)
	bad[5] ^= 1
	sum2 := sha256.Sum256(append(data, 'z'))
	oid2 := hex.EncodeToString(sum2[:])
	batch = `{"operation":"upload","transfers":["multipart"],"objects":[{"oid":"` + oid2 + `","size":` + strconv.Itoa(len(data)+1) + `}]}`
	_, body = call(t, "POST", ts.URL+"/tester/m.git/info/lfs/objects/batch", batch, auth)
	json.Unmarshal([]byte(body), &br)
	up = br.Objects[0].Actions.Upload
	bad = append(bad, 'z')
	etags = nil
	for n := 1; n <= 3; n++ {
		code, et := put(n, bad[(n-1)<<20:min(n<<20, len(bad))])
		if code != 200 {
			t.Fatalf("bad part %d: %d", n, code)
		}
		etags = append(etags, et)
	}
	oid = oid2
	if code := complete(etags); code != 422 {
		t.Errorf("completion of wrong content: %d", code)
	}
	if _, ok := dh.HasObject(oid2); ok {
		t.Errorf("wrong content stored")
	}
}
