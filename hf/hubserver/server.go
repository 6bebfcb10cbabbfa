// Package hubserver serves a [dirhub.Hub] over HTTP with the subset of the
// Hugging Face Hub API that model publishing and validation use (docs/hub.md#http-client):
// model info, resolve (with Range), create repo, visibility settings,
// preupload, Git LFS batch (basic and multipart transfers) and the ndjson
// commit endpoint, with bearer-token auth. The official clients
// (@huggingface/hub with hubUrl, huggingface_hub with HF_ENDPOINT and
// HF_HUB_DISABLE_XET=1) and coldint's hf/hub client work against it.
//
// Upload URLs returned by the LFS batch endpoint are presigned with an HMAC
// (clients send no token to them) and the server checks every uploaded
// object against its sha256 before storing it.
package hubserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
)

// Options configure a [Server].
type Options struct {
	// Tokens are the accepted bearer tokens: "TOKEN" may write to every
	// namespace and read every private repo; "NAME:TOKEN" only those under
	// the namespace NAME (so competitors cannot touch each other's repos).
	// With no tokens the server is open: anyone who can reach it may read
	// and write (fine on 127.0.0.1 only).
	Tokens []string
	// ChunkSize is the part size of multipart LFS uploads; objects larger than
	// it are uploaded in parts when the client offers "multipart".
	// 0 means 8 MiB.
	ChunkSize int64
	// MaxInlineBytes caps the decoded inline (non-LFS) file contents of one
	// commit. 0 = 16 MiB.
	MaxInlineBytes int64
	// PublicURL is the base URL written into upload links and commit URLs;
	// empty means http://<Host header>.
	PublicURL string
	// Logger receives one debug line per request (never a token). nil = slog.Default().
	Logger *slog.Logger
}

// Server is an http.Handler serving a directory hub.
type Server struct {
	tokens []namedToken
	hub    *dirhub.Hub
	opts   Options
	secret []byte
	log    *slog.Logger
	reqID  atomic.Uint64
}

type namedToken struct{ name, token string }

// New returns a server for hub.
func New(hub *dirhub.Hub, opts Options) (*Server, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 8 << 20
	}
	if opts.MaxInlineBytes <= 0 {
		opts.MaxInlineBytes = 16 << 20
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("create hub server: %w", err)
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	srv := &Server{hub: hub, opts: opts, secret: secret, log: lg}
	for _, t := range opts.Tokens {
		nt := namedToken{token: t}
		if name, tok, ok := strings.Cut(t, ":"); ok {
			if _, err := hf.ParseRepoID(name + "/repo"); err != nil || tok == "" {
				return nil, fmt.Errorf("create hub server: token for %q: bad namespace or empty token", name)
			}
			nt = namedToken{name: name, token: tok}
		}
		if nt.token == "" {
			return nil, errors.New("create hub server: empty token")
		}
		srv.tokens = append(srv.tokens, nt)
	}
	return srv, nil
}

// apiError is an error with an HTTP status and a Hub error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorFor(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, hf.ErrRepoNotFound):
		return &apiError{404, "RepoNotFound", "Repository not found"}
	case errors.Is(err, hf.ErrRevisionNotFound):
		return &apiError{404, "RevisionNotFound", "Invalid rev id"}
	case errors.Is(err, hf.ErrEntryNotFound):
		return &apiError{404, "EntryNotFound", "Entry not found"}
	case errors.Is(err, hf.ErrRepoExists):
		return &apiError{409, "", "You already created this model repo"}
	case errors.Is(err, hf.ErrConflict):
		return &apiError{412, "", err.Error()}
	case errors.Is(err, errBadRequest), errors.Is(err, hf.ErrUnsafePath), errors.Is(err, hf.ErrInvalidRevision), errors.Is(err, hf.ErrInvalidRepoID):
		return &apiError{400, "", err.Error()}
	case errors.Is(err, hf.ErrIntegrity):
		return &apiError{422, "", err.Error()}
	}
	return &apiError{500, "", "internal error"}
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	ae := errorFor(err)
	if ae.status == 500 {
		s.log.Error("hub server request failed", "err", err)
	}
	if ae.code != "" {
		w.Header().Set("X-Error-Code", ae.code)
	}
	w.Header().Set("X-Error-Message", headerSafe(ae.msg))
	writeJSON(w, ae.status, map[string]string{"error": ae.msg})
}

// headerSafe keeps printable ASCII only, so a message can go in a header.
func headerSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 500 {
		b = b[:500]
	}
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(c int) { w.status = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := strconv.FormatUint(s.reqID.Add(1), 10)
	rw.Header().Set("X-Request-Id", id)
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		s.log.Debug("hub request", "id", id, "method", r.Method, "path", r.URL.Path, "status", w.status, "bytes", w.n, "dur", time.Since(start))
	}()
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		s.fail(w, badRequest("parse path: %v", err))
		return
	}
	s.route(w, r, segs)
}

func splitPath(p string) ([]string, error) {
	raw := strings.Split(strings.Trim(p, "/"), "/")
	out := make([]string, len(raw))
	for i, seg := range raw {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}

var errNotFoundRoute = &apiError{404, "", "not found"}

func methodNotAllowed() error { return &apiError{405, "", "method not allowed"} }

func (s *Server) route(w http.ResponseWriter, r *http.Request, p []string) {
	typ := hf.ModelRepo
	if len(p) >= 1 && p[0] == "datasets" {
		// Dataset repos live under /datasets/{ns}/{name}; the Hub keeps
		// "datasets" from being a user name.
		typ, p = hf.DatasetRepo, p[1:]
	}
	n := len(p)
	switch {
	case n >= 1 && p[0] == "api" && typ == hf.ModelRepo:
		s.routeAPI(w, r, p[1:])
	case n >= 2 && p[0] == "lfs-upload" && typ == hf.ModelRepo:
		s.serveLFSUpload(w, r, p[1:])
	case n == 6 && strings.HasSuffix(p[1], ".git") && p[2] == "info" && p[3] == "lfs" && p[4] == "objects" && p[5] == "batch":
		repo, err := parseRepo(typ, p[0], strings.TrimSuffix(p[1], ".git"))
		if err != nil {
			s.fail(w, err)
			return
		}
		s.serveLFSBatch(w, r, repo)
	case n >= 5 && p[2] == "resolve":
		repo, err := parseRepo(typ, p[0], p[1])
		if err != nil {
			s.fail(w, err)
			return
		}
		s.serveResolve(w, r, repo, p[3], strings.Join(p[4:], "/"))
	default:
		s.fail(w, errNotFoundRoute)
	}
}

// parseRepo reads the namespace and name path segments (already unescaped)
// of a repo of type typ.
func parseRepo(typ hf.RepoType, ns, name string) (hf.RepoID, error) {
	if strings.Contains(ns, "/") || strings.Contains(name, "/") {
		return hf.RepoID{}, fmt.Errorf("parse repo id %q: a part holds an escaped slash: %w", ns+"/"+name, hf.ErrInvalidRepoID)
	}
	return hf.ParseTypedRepo(ns+"/"+name, typ)
}

func (s *Server) routeAPI(w http.ResponseWriter, r *http.Request, p []string) {
	n := len(p)
	switch {
	case n == 2 && p[0] == "repos" && p[1] == "create":
		s.serveCreate(w, r)
		return
	case n == 1 && p[0] == "whoami-v2":
		p, err := s.who(r)
		if err == nil && p == nil {
			err = &apiError{401, "", "Invalid credentials in Authorization header"}
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		name := p.name
		if p.admin {
			name = "admin"
		}
		writeJSON(w, 200, map[string]any{"type": "user", "name": name, "auth": map[string]any{"type": "access_token"}})
		return
	case n >= 3 && (p[0] == "models" || p[0] == "datasets"):
	default:
		s.fail(w, errNotFoundRoute)
		return
	}
	typ, _ := hf.ParseRepoType(p[0])
	repo, err := parseRepo(typ, p[1], p[2])
	if err != nil {
		s.fail(w, err)
		return
	}
	rest := p[3:]
	switch {
	case len(rest) == 0:
		s.serveInfo(w, r, repo, hf.DefaultRevision)
	case len(rest) == 2 && rest[0] == "revision":
		s.serveInfo(w, r, repo, rest[1])
	case len(rest) == 2 && rest[0] == "preupload":
		s.servePreupload(w, r, repo, rest[1])
	case len(rest) == 2 && rest[0] == "commit":
		s.serveCommit(w, r, repo, rest[1])
	case len(rest) == 1 && rest[0] == "settings":
		s.serveSettings(w, r, repo)
	case len(rest) == 2 && rest[0] == "paths-info":
		s.servePathsInfo(w, r, repo, rest[1])
	default:
		s.fail(w, errNotFoundRoute)
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// principal is who a valid token belongs to.
type principal struct {
	name  string // namespace the token may write to
	admin bool   // may write and read everywhere
}

// who returns the principal of the request's token: nil without a token,
// an admin for any token on an open server, and a 401 error for a token the
// server does not know.
func (s *Server) who(r *http.Request) (*principal, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, nil
	}
	if len(s.tokens) == 0 {
		return &principal{admin: true}, nil
	}
	var found *principal
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(t.token), []byte(tok)) == 1 {
			found = &principal{name: t.name, admin: t.name == ""}
		}
	}
	if found == nil {
		return nil, &apiError{401, "", "Invalid credentials in Authorization header"}
	}
	return found, nil
}

// canRead: public repos to anyone (without an invalid token), private ones
// to their namespace's token and admin tokens (to all on an open server).
func (s *Server) canRead(r *http.Request, repo hf.RepoID, st *dirhub.RepoState) error {
	p, err := s.who(r)
	if err != nil {
		return err
	}
	if !st.Private || len(s.tokens) == 0 {
		return nil
	}
	if p == nil {
		return &apiError{401, "RepoNotFound", "Repository not found"}
	}
	if !p.admin && p.name != repo.Namespace {
		return &apiError{404, "RepoNotFound", "Repository not found"}
	}
	return nil
}

// canWrite: on a server with tokens, an admin token or the token of the
// repo's namespace.
func (s *Server) canWrite(r *http.Request, repo hf.RepoID) error {
	if len(s.tokens) == 0 {
		return nil
	}
	p, err := s.who(r)
	if err != nil {
		return err
	}
	if p == nil {
		return &apiError{401, "", "Invalid credentials in Authorization header"}
	}
	if !p.admin && p.name != repo.Namespace {
		return &apiError{403, "", fmt.Sprintf("this token may not write to namespace %q", repo.Namespace)}
	}
	return nil
}

func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimSuffix(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, &apiError{413, "", "request body too large"}
	}
	return b, nil
}

// siblingJSON is a file of the model info answer.
type siblingJSON struct {
	RFilename string      `json:"rfilename"`
	Size      *int64      `json:"size,omitempty"`
	BlobID    string      `json:"blobId,omitempty"`
	LFS       *hf.LFSInfo `json:"lfs,omitempty"`
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request, repo hf.RepoID, rev string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
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
	sha, c, _, err := s.hub.Resolve(repo, rev)
	if err != nil {
		s.fail(w, err)
		return
	}
	// huggingface_hub sends blobs=True (Python's bool), the JS client blobs=true.
	bv := r.URL.Query().Get("blobs")
	blobs := strings.EqualFold(bv, "true") || bv == "1"
	siblings := make([]siblingJSON, 0, len(c.Files))
	var used int64
	for _, e := range c.Files {
		sj := siblingJSON{RFilename: e.Path}
		if blobs {
			fi := e.FileInfo()
			size := e.Size
			sj.Size, sj.BlobID, sj.LFS = &size, fi.BlobID, fi.LFS
		}
		used += e.Size
		siblings = append(siblings, sj)
	}
	idHash := sha256.Sum256([]byte(repo.String()))
	info := map[string]any{
		"_id":          hex.EncodeToString(idHash[:12]),
		"id":           repo.Bare(),
		"author":       repo.Namespace,
		"sha":          sha,
		"lastModified": c.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		"createdAt":    st.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"private":      st.Private,
		"gated":        false,
		"disabled":     false,
		"downloads":    0,
		"likes":        0,
		"tags":         []string{},
		"siblings":     siblings,
		"usedStorage":  used,
	}
	if repo.Type == hf.ModelRepo {
		info["modelId"] = repo.Bare()
	}
	writeJSON(w, 200, info)
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, repo hf.RepoID, rev, p string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
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
	sha, c, _, err := s.hub.Resolve(repo, rev)
	if err != nil {
		s.fail(w, err)
		return
	}
	f, e, err := s.hub.OpenFile(repo, c, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("X-Repo-Commit", sha)
	h.Set("ETag", `"`+e.ETag()+`"`)
	if e.LFS {
		h.Set("X-Linked-Etag", `"`+e.SHA256+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(e.Size, 10))
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", c.Time, f)
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	var req struct {
		Name         string `json:"name"`
		Organization string `json:"organization"`
		Type         string `json:"type"`
		Private      *bool  `json:"private"`
		Visibility   string `json:"visibility"`
		Files        []struct {
			Path     string `json:"path"`
			Content  string `json:"content"`
			Encoding string `json:"encoding"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		s.fail(w, badRequest("parse create repo: %v", err))
		return
	}
	typ, err := hf.ParseRepoType(req.Type)
	if err != nil {
		s.fail(w, badRequest("create repo: type %q not supported (model or dataset)", req.Type))
		return
	}
	full := req.Name
	if req.Organization != "" {
		full = req.Organization + "/" + req.Name
	}
	if strings.Count(full, "/") != 1 {
		s.fail(w, badRequest("create repo %q: must be in the format <org or user name>/<repo_name>", full))
		return
	}
	repo, err := hf.ParseTypedRepo(full, typ)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.canWrite(r, repo); err != nil {
		s.fail(w, err)
		return
	}
	private := req.Private != nil && *req.Private
	switch req.Visibility {
	case "private":
		private = true
	case "public":
		private = false
	case "":
	default:
		s.fail(w, badRequest("create repo: visibility %q must be public or private", req.Visibility))
		return
	}
	u := s.baseURL(r) + "/" + repo.String()
	if err := s.hub.CreateRepo(r.Context(), repo, private); err != nil {
		if errors.Is(err, hf.ErrRepoExists) {
			msg := "You already created this " + repo.Type.String() + " repo"
			w.Header().Set("X-Error-Message", msg)
			writeJSON(w, 409, map[string]string{"error": msg, "url": u})
			return
		}
		s.fail(w, err)
		return
	}
	if len(req.Files) > 0 {
		var body bytes.Buffer
		json.NewEncoder(&body).Encode(map[string]any{"key": "header", "value": map[string]string{"summary": "initial files"}})
		for _, f := range req.Files {
			json.NewEncoder(&body).Encode(map[string]any{"key": "file", "value": f})
		}
		p, err := parseCommit(&body, s.opts.MaxInlineBytes)
		if err == nil {
			_, err = s.applyCommit(r.Context(), repo, hf.DefaultRevision, p)
		}
		if err != nil {
			s.fail(w, err)
			return
		}
	}
	writeJSON(w, 200, map[string]string{"url": u, "id": repo.Bare(), "name": repo.Bare()})
}

func (s *Server) serveSettings(w http.ResponseWriter, r *http.Request, repo hf.RepoID) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	if err := s.canWrite(r, repo); err != nil {
		s.fail(w, err)
		return
	}
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	var req struct {
		Private    *bool  `json:"private"`
		Visibility string `json:"visibility"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		s.fail(w, badRequest("parse settings: %v", err))
		return
	}
	var private bool
	switch {
	case req.Visibility == "private":
		private = true
	case req.Visibility == "public":
	case req.Visibility == "" && req.Private != nil:
		private = *req.Private
	default:
		s.fail(w, badRequest("settings: need private (bool) or visibility (public|private)"))
		return
	}
	if err := s.hub.SetVisibility(r.Context(), repo, private); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"private": private})
}

func (s *Server) servePreupload(w http.ResponseWriter, r *http.Request, repo hf.RepoID, rev string) {
	if r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	if err := s.canWrite(r, repo); err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.hub.State(repo); err != nil {
		s.fail(w, err)
		return
	}
	if err := hf.ValidateRevision(rev); err != nil {
		s.fail(w, err)
		return
	}
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	files, samples, err := parsePreupload(b)
	if err != nil {
		s.fail(w, err)
		return
	}
	type answer struct {
		Path         string `json:"path"`
		UploadMode   string `json:"uploadMode"`
		ShouldIgnore bool   `json:"shouldIgnore"`
	}
	out := make([]answer, len(files))
	for i, f := range files {
		mode := "regular"
		if dirhub.UseLFS(f.Path, f.Size, samples[i]) {
			mode = "lfs"
		}
		out[i] = answer{Path: f.Path, UploadMode: mode}
	}
	writeJSON(w, 200, map[string]any{"files": out, "commitOid": ""})
}

func (s *Server) serveCommit(w http.ResponseWriter, r *http.Request, repo hf.RepoID, rev string) {
	if r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	if err := s.canWrite(r, repo); err != nil {
		s.fail(w, err)
		return
	}
	if r.URL.Query().Get("create_pr") != "" {
		s.fail(w, badRequest("pull requests are not supported by this hub"))
		return
	}
	if _, err := s.hub.State(repo); err != nil {
		s.fail(w, err)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxInlineBytes*2+maxJSONBody)
	p, err := parseCommit(body, s.opts.MaxInlineBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = &apiError{413, "", "commit body too large"}
		}
		s.fail(w, err)
		return
	}
	sha, err := s.applyCommit(r.Context(), repo, rev, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"commitOid": sha, "commitUrl": s.baseURL(r) + "/" + repo.String() + "/commit/" + sha, "success": true})
}

func (s *Server) applyCommit(ctx context.Context, repo hf.RepoID, rev string, p *commitPayload) (string, error) {
	req := dirhub.CommitRequest{Revision: rev, Summary: p.Summary, Description: p.Description, ParentCommit: p.ParentCommit}
	for _, op := range p.Ops {
		switch op.Kind {
		case "file":
			oid, _, err := s.hub.PutObject(ctx, bytes.NewReader(op.Content), "", int64(len(op.Content)))
			if err != nil {
				return "", err
			}
			req.Ops = append(req.Ops, dirhub.Op{Path: op.Path, OID: oid})
		case "lfsFile":
			size, ok := s.hub.HasObject(op.OID)
			if !ok {
				return "", badRequest("lfs object %q for %q was not uploaded", op.OID, op.Path)
			}
			if size != op.Size {
				return "", badRequest("lfs object %q has %d bytes, commit says %d", op.OID, size, op.Size)
			}
			req.Ops = append(req.Ops, dirhub.Op{Path: op.Path, OID: op.OID, LFS: true})
		case "deletedFile":
			req.Ops = append(req.Ops, dirhub.Op{Path: op.Path, Delete: true})
		case "deletedFolder":
			req.Ops = append(req.Ops, dirhub.Op{Path: op.Path, DeleteFolder: true})
		}
	}
	return s.hub.Commit(ctx, repo, req)
}

// --- LFS ---

func (s *Server) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(m.Sum(nil))
}

const uploadURLLifetime = time.Hour

func (s *Server) serveLFSBatch(w http.ResponseWriter, r *http.Request, repo hf.RepoID) {
	if r.Method != http.MethodPost {
		s.fail(w, methodNotAllowed())
		return
	}
	if err := s.canWrite(r, repo); err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.hub.State(repo); err != nil {
		s.fail(w, err)
		return
	}
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	req, err := parseLFSBatch(b)
	if err != nil {
		s.fail(w, err)
		return
	}
	if req.Operation != "upload" {
		s.fail(w, badRequest("lfs batch: only upload is supported; download with /resolve"))
		return
	}
	base := s.baseURL(r)
	exp := strconv.FormatInt(time.Now().Add(uploadURLLifetime).Unix(), 10)
	transfer := "basic"
	type action struct {
		Href      string            `json:"href"`
		Header    map[string]string `json:"header,omitempty"`
		ExpiresIn int               `json:"expires_in"`
	}
	type object struct {
		OID     string             `json:"oid"`
		Size    int64              `json:"size"`
		Actions map[string]*action `json:"actions,omitempty"`
	}
	objs := make([]object, 0, len(req.Objects))
	for _, o := range req.Objects {
		obj := object{OID: o.OID, Size: o.Size}
		if _, ok := s.hub.HasObject(o.OID); !ok {
			size := strconv.FormatInt(o.Size, 10)
			if o.Size > s.opts.ChunkSize && req.offers("multipart") {
				transfer = "multipart"
				chunk := strconv.FormatInt(s.opts.ChunkSize, 10)
				hdr := map[string]string{"chunk_size": chunk}
				nparts := (o.Size + s.opts.ChunkSize - 1) / s.opts.ChunkSize
				for i := int64(1); i <= nparts; i++ {
					n := strconv.FormatInt(i, 10)
					q := url.Values{"size": {size}, "chunk": {chunk}, "exp": {exp}, "sig": {s.sign("part", o.OID, size, chunk, n, exp)}}
					hdr[fmt.Sprintf("%05d", i)] = base + "/lfs-upload/" + o.OID + "/part/" + n + "?" + q.Encode()
				}
				q := url.Values{"size": {size}, "chunk": {chunk}, "exp": {exp}, "sig": {s.sign("complete", o.OID, size, chunk, exp)}}
				obj.Actions = map[string]*action{"upload": {Href: base + "/lfs-upload/" + o.OID + "/complete?" + q.Encode(), Header: hdr, ExpiresIn: int(uploadURLLifetime.Seconds())}}
			} else if req.offers("basic") {
				q := url.Values{"size": {size}, "exp": {exp}, "sig": {s.sign("put", o.OID, size, exp)}}
				obj.Actions = map[string]*action{"upload": {Href: base + "/lfs-upload/" + o.OID + "?" + q.Encode(), ExpiresIn: int(uploadURLLifetime.Seconds())}}
			} else {
				s.fail(w, badRequest("lfs batch: object %q of %d bytes needs the basic transfer", o.OID, o.Size))
				return
			}
		}
		objs = append(objs, obj)
	}
	w.Header().Set("Content-Type", "application/vnd.git-lfs+json")
	b, _ = json.Marshal(map[string]any{"transfer": transfer, "objects": objs, "hash_algo": "sha256"})
	w.WriteHeader(200)
	w.Write(b)
}

// checkSig verifies an upload URL's signature and expiry.
func (s *Server) checkSig(q url.Values, parts ...string) error {
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return &apiError{403, "", "upload link expired"}
	}
	want := s.sign(append(parts, q.Get("exp"))...)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return &apiError{403, "", "bad upload signature"}
	}
	return nil
}

func (s *Server) serveLFSUpload(w http.ResponseWriter, r *http.Request, p []string) {
	oid := p[0]
	if !isOID(oid) {
		s.fail(w, badRequest("lfs upload: oid %q is not a sha256", oid))
		return
	}
	q := r.URL.Query()
	sizeStr := q.Get("size")
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || size < 0 {
		s.fail(w, badRequest("lfs upload: bad size"))
		return
	}
	switch {
	case len(p) == 1 && r.Method == http.MethodPut:
		if err := s.checkSig(q, "put", oid, sizeStr); err != nil {
			s.fail(w, err)
			return
		}
		if _, _, err := s.hub.PutObject(r.Context(), r.Body, oid, size); err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(200)
	case len(p) == 3 && p[1] == "part" && r.Method == http.MethodPut:
		chunkStr := q.Get("chunk")
		if err := s.checkSig(q, "part", oid, sizeStr, chunkStr, p[2]); err != nil {
			s.fail(w, err)
			return
		}
		chunk, _ := strconv.ParseInt(chunkStr, 10, 64)
		n, _ := strconv.ParseInt(p[2], 10, 64)
		s.putPart(w, r, oid, size, chunk, n)
	case len(p) == 2 && p[1] == "complete" && r.Method == http.MethodPost:
		chunkStr := q.Get("chunk")
		if err := s.checkSig(q, "complete", oid, sizeStr, chunkStr); err != nil {
			s.fail(w, err)
			return
		}
		chunk, _ := strconv.ParseInt(chunkStr, 10, 64)
		s.completeMultipart(w, r, oid, size, chunk)
	default:
		s.fail(w, errNotFoundRoute)
	}
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func (s *Server) partDir(oid string, size, chunk int64) string {
	return filepath.Join(s.hub.TmpDir(), fmt.Sprintf("mp-%s-%d-%d", oid, size, chunk))
}

func partLen(size, chunk, n int64) int64 {
	start := (n - 1) * chunk
	return min(chunk, size-start)
}

func (s *Server) putPart(w http.ResponseWriter, r *http.Request, oid string, size, chunk, n int64) {
	if chunk <= 0 {
		s.fail(w, badRequest("lfs upload: bad chunk size"))
		return
	}
	nparts := (size + chunk - 1) / chunk
	if n < 1 || n > nparts {
		s.fail(w, badRequest("lfs upload: part %d out of range", n))
		return
	}
	want := partLen(size, chunk, n)
	dir := s.partDir(oid, size, chunk)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail(w, err)
		return
	}
	// The part's region is about to be rewritten: forget earlier uploads of it.
	old, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%05d.*", n)))
	for _, m := range old {
		os.Remove(m)
	}
	// Parts are written in place into one file, so completion needs no copy.
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	md := sha256.New() // the part's ETag: 32 hex digits of its sha256
	got, err := io.Copy(io.MultiWriter(io.NewOffsetWriter(f, (n-1)*chunk), md), io.LimitReader(r.Body, want))
	if err != nil {
		s.fail(w, fmt.Errorf("read part: %w", err))
		return
	}
	if extra, _ := r.Body.Read(make([]byte, 1)); got != want || extra > 0 {
		s.fail(w, badRequest("lfs upload: part %d must have %d bytes", n, want))
		return
	}
	// No fsync here: completion hashes the whole file and syncs it before
	// storing, so a part lost in a crash fails that check instead.
	etag := hex.EncodeToString(md.Sum(nil)[:16])
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.%s", n, etag)), nil, 0o644); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(200)
}

func (s *Server) completeMultipart(w http.ResponseWriter, r *http.Request, oid string, size, chunk int64) {
	b, err := readBody(r, maxJSONBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	var req struct {
		OID   string `json:"oid"`
		Parts []struct {
			PartNumber int64  `json:"partNumber"`
			ETag       string `json:"etag"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		s.fail(w, badRequest("parse multipart completion: %v", err))
		return
	}
	if chunk <= 0 {
		s.fail(w, badRequest("multipart completion: bad chunk size"))
		return
	}
	nparts := (size + chunk - 1) / chunk
	if req.OID != oid || int64(len(req.Parts)) != nparts {
		s.fail(w, badRequest("multipart completion: want %d parts of %q", nparts, oid))
		return
	}
	sort.Slice(req.Parts, func(i, j int) bool { return req.Parts[i].PartNumber < req.Parts[j].PartNumber })
	dir := s.partDir(oid, size, chunk)
	for i, part := range req.Parts {
		if part.PartNumber != int64(i+1) {
			s.fail(w, badRequest("multipart completion: parts must be 1..%d", nparts))
			return
		}
		etag := strings.Trim(strings.TrimPrefix(part.ETag, "W/"), `"`)
		if !isHex32(etag) {
			s.fail(w, badRequest("multipart completion: bad etag %q for part %d", part.ETag, i+1))
			return
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%05d.%s", i+1, etag))); err != nil {
			s.fail(w, badRequest("multipart completion: part %d with etag %q was not uploaded", i+1, part.ETag))
			return
		}
	}
	if err := s.hub.AdoptObject(r.Context(), filepath.Join(dir, "data"), oid, size); err != nil {
		s.fail(w, err)
		return
	}
	os.RemoveAll(dir)
	writeJSON(w, 200, map[string]any{"oid": oid, "size": size})
}
