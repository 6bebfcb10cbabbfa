package hubserver

import (
	"errors"
	"strings"
	"testing"
)

const oidA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseCommit(t *testing.T) {
	good := `{"key":"header","value":{"summary":"s","description":"d"}}
{"key":"file","value":{"path":"config.json","content":"e30=","encoding":"base64"}}
{"key":"lfsFile","value":{"path":"model.safetensors","algo":"sha256","oid":"` + oidA + `","size":12}}
{"key":"deletedFile","value":{"path":"old.bin"}}
{"key":"deletedFolder","value":{"path":"dir/"}}
`
	p, err := parseCommit(strings.NewReader(good), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary != "s" || len(p.Ops) != 4 || string(p.Ops[0].Content) != "{}" || p.Ops[1].OID != oidA || p.Ops[1].Size != 12 || p.Ops[3].Path != "dir" {
		t.Fatalf("parsed %+v", p)
	}
	bad := map[string]string{
		"empty":          ``,
		"no header":      `{"key":"file","value":{"path":"a","content":""}}`,
		"escape":         `{"key":"header","value":{}}` + "\n" + `{"key":"file","value":{"path":"../x","content":"","encoding":"base64"}}`,
		"absolute":       `{"key":"header","value":{}}` + "\n" + `{"key":"lfsFile","value":{"path":"/x","oid":"` + oidA + `","size":1}}`,
		"bad oid":        `{"key":"header","value":{}}` + "\n" + `{"key":"lfsFile","value":{"path":"x","oid":"zz","size":1}}`,
		"no size":        `{"key":"header","value":{}}` + "\n" + `{"key":"lfsFile","value":{"path":"x","oid":"` + oidA + `"}}`,
		"bad base64":     `{"key":"header","value":{}}` + "\n" + `{"key":"file","value":{"path":"x","content":"!!","encoding":"base64"}}`,
		"dup path":       `{"key":"header","value":{}}` + "\n" + `{"key":"deletedFile","value":{"path":"x"}}` + "\n" + `{"key":"deletedFile","value":{"path":"x"}}`,
		"unknown key":    `{"key":"header","value":{}}` + "\n" + `{"key":"chmod","value":{"path":"x"}}`,
		"bad parent":     `{"key":"header","value":{"parentCommit":"nope"}}`,
		"truncated json": `{"key":"header","value":{}}` + "\n" + `{"key":"file","val`,
		"too big":        `{"key":"header","value":{}}` + "\n" + `{"key":"file","value":{"path":"x","content":"` + strings.Repeat("A", 2000) + `","encoding":"base64"}}`,
	}
	for name, body := range bad {
		if _, err := parseCommit(strings.NewReader(body), 1000); !errors.Is(err, errBadRequest) {
			t.Errorf("%s: got %v, want a bad request", name, err)
		}
	}
}

func TestParseLFSBatch(t *testing.T) {
	req, err := parseLFSBatch([]byte(`{"operation":"upload","transfers":["basic","multipart","xet"],"hash_algo":"sha_256","ref":{"name":"main"},"objects":[{"oid":"` + oidA + `","size":5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !req.offers("multipart") || req.offers("lfs-standalone") || len(req.Objects) != 1 {
		t.Fatalf("parsed %+v", req)
	}
	for _, body := range []string{
		`{}`,
		`{"operation":"delete","objects":[{"oid":"` + oidA + `","size":5}]}`,
		`{"operation":"upload","objects":[]}`,
		`{"operation":"upload","objects":[{"oid":"../../x","size":5}]}`,
		`{"operation":"upload","objects":[{"oid":"` + oidA + `","size":-1}]}`,
		`{"operation":"upload","hash_algo":"md5","objects":[{"oid":"` + oidA + `","size":5}]}`,
		`{"operation":"upload","transfers":["xet"],"objects":[{"oid":"` + oidA + `","size":5}]}`,
		`{"operation":"upload","ref":{"name":"a..b"},"objects":[{"oid":"` + oidA + `","size":5}]}`,
		`not json`,
	} {
		if _, err := parseLFSBatch([]byte(body)); !errors.Is(err, errBadRequest) {
			t.Errorf("parseLFSBatch(%s): got %v, want a bad request", body, err)
		}
	}
}

func TestParsePreupload(t *testing.T) {
	files, samples, err := parsePreupload([]byte(`{"files":[{"path":"a.bin","size":3,"sample":"AAEC"}]}`))
	if err != nil || len(files) != 1 || len(samples[0]) != 3 {
		t.Fatalf("parsePreupload: %v %v %v", files, samples, err)
	}
	for _, body := range []string{
		`{"files":[{"path":"../a","size":3,"sample":""}]}`,
		`{"files":[{"path":"a","size":-3,"sample":""}]}`,
		`{"files":[{"path":"a","size":3,"sample":"%%%"}]}`,
		`{"files":[{"path":"a","size":3,"sample":"` + strings.Repeat("AAAA", 200) + `"}]}`,
	} {
		if _, _, err := parsePreupload([]byte(body)); !errors.Is(err, errBadRequest) {
			t.Errorf("parsePreupload(%s): got %v", body, err)
		}
	}
}

func FuzzParseCommit(f *testing.F) {
	f.Add(`{"key":"header","value":{"summary":"s"}}` + "\n" + `{"key":"file","value":{"path":"a","content":"e30=","encoding":"base64"}}`)
	f.Add(`{"key":"header","value":{}}` + "\n" + `{"key":"lfsFile","value":{"path":"m","oid":"` + oidA + `","size":1}}`)
	f.Add(`{"key":"header","value":{}}` + "\n" + `{"key":"deletedFolder","value":{"path":"d/"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		p, err := parseCommit(strings.NewReader(body), 1<<16)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		var inline int
		for _, op := range p.Ops {
			if strings.HasPrefix(op.Path, "/") || op.Path == ".." || strings.HasPrefix(op.Path, "../") || strings.Contains(op.Path, "/../") {
				t.Fatalf("accepted unsafe path %q", op.Path)
			}
			if op.Kind == "lfsFile" && (!isOID(op.OID) || op.Size < 0) {
				t.Fatalf("accepted bad lfs op %+v", op)
			}
			inline += len(op.Content)
		}
		if inline > 1<<16 {
			t.Fatalf("inline %d over the limit", inline)
		}
	})
}

func FuzzParseLFSBatch(f *testing.F) {
	f.Add([]byte(`{"operation":"upload","transfers":["basic","multipart"],"hash_algo":"sha256","objects":[{"oid":"` + oidA + `","size":5}]}`))
	f.Add([]byte(`{"operation":"download","objects":[{"oid":"` + oidA + `","size":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := parseLFSBatch(b)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		if len(req.Objects) == 0 || len(req.Objects) > maxBatchObjects {
			t.Fatalf("accepted %d objects", len(req.Objects))
		}
		for _, o := range req.Objects {
			if !isOID(o.OID) || o.Size < 0 {
				t.Fatalf("accepted object %+v", o)
			}
		}
	})
}

func FuzzParsePreupload(f *testing.F) {
	f.Add([]byte(`{"files":[{"path":"a.bin","size":3,"sample":"AAEC"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, samples, err := parsePreupload(b)
		if err != nil {
			return
		}
		for i, fl := range files {
			if fl.Size < 0 || len(samples[i]) > 512 || strings.HasPrefix(fl.Path, "/") {
				t.Fatalf("accepted %+v", fl)
			}
		}
	})
}
