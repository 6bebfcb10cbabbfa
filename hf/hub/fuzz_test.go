package hub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/hf"
)

func FuzzModelInfoJSON(f *testing.F) {
	f.Add([]byte(`{"id":"a/bc","sha":"` + strings.Repeat("a", 40) + `","private":true,"gated":"auto","siblings":[{"rfilename":"config.json","size":5,"blobId":"` + strings.Repeat("b", 40) + `"}]}`))
	f.Add([]byte(`{"sha":"` + strings.Repeat("a", 40) + `","siblings":[{"rfilename":"../x","size":5,"lfs":{"sha256":"x","size":5}}]}`))
	repo := hf.RepoID{Namespace: "a", Name: "bc"}
	f.Fuzz(func(t *testing.T, b []byte) {
		var raw modelInfoJSON
		if json.Unmarshal(b, &raw) != nil {
			return
		}
		info, err := parseModelInfo(repo, "main", &raw)
		if err != nil {
			return
		}
		if !hf.IsCommitSHA(info.SHA) {
			t.Fatalf("accepted commit %q", info.SHA)
		}
		plan, err := hf.PlanDownload(info, nil, hf.DownloadOptions{})
		if err != nil {
			return
		}
		for _, fi := range plan {
			if hf.ValidateFilePath(fi.Path) != nil || fi.Size < 0 {
				t.Fatalf("planned unsafe file %+v", fi)
			}
			if h := expectedHash(fi); h != "" && strings.ContainsAny(h, "/\\.") {
				t.Fatalf("hash %q unusable as a file name", h)
			}
		}
	})
}

func FuzzRateLimitHeaders(f *testing.F) {
	f.Add(`"api";r=0;t=55`, "12")
	f.Add(`r=0;t=-1`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(`r=0;t=99999999999999`, "99999999999999")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rl, ra string) {
		d, ok := retryAfter(http.Header{"Ratelimit": {rl}, "Retry-After": {ra}}, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("retryAfter(%q, %q) = %v, %v", rl, ra, d, ok)
		}
	})
}

func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-0/10")
	f.Add("bytes 5-9/10")
	f.Fuzz(func(t *testing.T, h string) {
		if n, ok := contentRangeStart(h); ok && !strings.HasPrefix(h, "bytes ") {
			t.Fatalf("accepted %q as start %d", h, n)
		}
	})
}
