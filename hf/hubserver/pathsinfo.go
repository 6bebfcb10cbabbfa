package hubserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
)

// pathInfoJSON is one answer of the paths-info endpoint.
type pathInfoJSON struct {
	Type       string          `json:"type"` // "file" or "directory"
	Path       string          `json:"path"`
	OID        string          `json:"oid"` // git blob sha1 (of the pointer for LFS files)
	Size       int64           `json:"size"`
	LFS        *lfsPathJSON    `json:"lfs,omitempty"`
	LastCommit *lastCommitJSON `json:"lastCommit,omitempty"`
}

type lfsPathJSON struct {
	OID         string `json:"oid"` // sha256 of the content
	Size        int64  `json:"size"`
	PointerSize int64  `json:"pointerSize"`
}

type lastCommitJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

// maxPathsInfo is how many paths one request may ask about.
const maxPathsInfo = 1000

// servePathsInfo answers POST /api/models/{repo}/paths-info/{rev} with the
// files (and folders) of the commit among the paths asked for, as a JSON
// body {"paths": [...], "expand": bool} or a form (the Python client). With
// expand, each file names the last commit that changed it.
func (s *Server) servePathsInfo(w http.ResponseWriter, r *http.Request, repo hf.RepoID, rev string) {
	if r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	st, err := s.hub.State(repo)
	if err == nil {
		err = s.canRead(r, repo, st)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	paths, expand, err := parsePathsInfo(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	sha, c, _, err := s.hub.Resolve(repo, rev)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []pathInfoJSON{}
	for _, p := range paths {
		if e, ok := c.File(p); ok {
			pi := pathInfoJSON{Type: "file", Path: e.Path, OID: e.BlobID, Size: e.Size}
			if e.LFS {
				pi.LFS = &lfsPathJSON{OID: e.SHA256, Size: e.Size, PointerSize: int64(len(dirhub.LFSPointer(e.SHA256, e.Size)))}
			}
			if expand {
				pi.LastCommit = s.lastCommit(repo, sha, c, e)
			}
			out = append(out, pi)
			continue
		}
		for _, e := range c.Files {
			if strings.HasPrefix(e.Path, p+"/") {
				out = append(out, pathInfoJSON{Type: "directory", Path: p})
				break
			}
		}
	}
	writeJSON(w, 200, out)
}

func parsePathsInfo(r *http.Request) ([]string, bool, error) {
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		return nil, false, err
	}
	var req struct {
		Paths  []string `json:"paths"`
		Expand bool     `json:"expand"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, false, fmt.Errorf("parse paths-info request: %v: %w", err, errBadRequest)
		}
	} else {
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("parse paths-info form: %v: %w", err, errBadRequest)
		}
		req.Paths = form["paths"]
		req.Expand = strings.EqualFold(form.Get("expand"), "true") || form.Get("expand") == "1"
	}
	if len(req.Paths) > maxPathsInfo {
		return nil, false, fmt.Errorf("paths-info: %d paths, at most %d: %w", len(req.Paths), maxPathsInfo, errBadRequest)
	}
	return req.Paths, req.Expand, nil
}

// lastCommit walks back from commit sha while the parent holds the same
// entry (at most 1000 commits).
func (s *Server) lastCommit(repo hf.RepoID, sha string, c *dirhub.Commit, e dirhub.Entry) *lastCommitJSON {
	for i := 0; i < 1000 && c.Parent != ""; i++ {
		parent, err := s.hub.ReadCommit(repo, c.Parent)
		if err != nil {
			break
		}
		if pe, ok := parent.File(e.Path); !ok || pe != e {
			break
		}
		sha, c = c.Parent, parent
	}
	return &lastCommitJSON{ID: sha, Title: c.Summary, Date: c.Time.UTC().Format("2006-01-02T15:04:05.000Z")}
}
