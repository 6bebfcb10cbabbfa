package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
)

// Limits of the playground.
const (
	// DefaultMaxTokens is the cap on max_tokens when [Options.MaxTokens] is 0.
	DefaultMaxTokens = 256
	// MaxPromptBytes bounds a playground prompt.
	MaxPromptBytes = 4096
)

// GenerateRequest is one playground generation.
type GenerateRequest struct {
	Prompt      string  `json:"prompt"`
	MaxTokens   int     `json:"max_tokens"`
	Temperature float64 `json:"temperature"`
	TopK        int     `json:"top_k"`
	TopP        float64 `json:"top_p"`
	Seed        uint64  `json:"seed"`
}

// GenerateResult says how a generation ended.
type GenerateResult struct {
	Tokens int `json:"tokens"`
}

// Generator generates text from the model in modelDir, calling onText with
// each piece of text as it is decoded. The command layer implements it with
// the engine.
type Generator interface {
	Generate(ctx context.Context, modelDir string, req GenerateRequest, onText func(text string) error) (GenerateResult, error)
}

// Options configure [New].
type Options struct {
	// StateDir is the validator's model folder or a folder holding it as
	// validator/ (see the package documentation).
	StateDir string
	// Generator runs the playground; nil disables it (503).
	Generator Generator
	// MaxTokens caps a generation's length (0: [DefaultMaxTokens]).
	MaxTokens int
	// Concurrency is the number of generations run at once (0: 1).
	Concurrency int
	// Logger receives request errors (nil: slog.Default()).
	Logger *slog.Logger
	// LoopbackHosts accepts only requests whose Host header names the
	// loopback interface (localhost or a loopback IP), so that a web page
	// elsewhere cannot reach a loopback server through DNS rebinding.
	LoopbackHosts bool
}

// Server is the web app and JSON API. It is an http.Handler.
type Server struct {
	root   string
	opts   Options
	mux    *http.ServeMux
	sem    chan struct{}
	log    *slog.Logger
	pages  *pages
	hashMu sync.Mutex
	hashes map[string]hashEntry
}

type hashEntry struct {
	mod  time.Time
	hash string
	err  error
}

// New returns a server over opts.StateDir, which must exist.
func New(opts Options) (*Server, error) {
	root, err := resolveRoot(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{root: root, opts: opts, mux: http.NewServeMux(), sem: make(chan struct{}, opts.Concurrency),
		log: opts.Logger, pages: newPages(), hashes: map[string]hashEntry{}}
	s.routes()
	return s, nil
}

// Root returns the resolved state folder.
func (s *Server) Root() string { return s.root }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.pageIndex)
	m.HandleFunc("GET /competitions/{name}", s.pageCompetition)
	m.HandleFunc("GET /models/{uid}", s.pageModel)
	m.HandleFunc("GET /playground", s.pagePlayground)
	m.HandleFunc("GET /api/{$}", s.apiIndex)
	m.HandleFunc("GET /api/competitions", s.apiCompetitions)
	m.HandleFunc("GET /api/competitions/{name}/leaderboard", s.apiLeaderboard)
	m.HandleFunc("GET /api/models", s.apiModels)
	m.HandleFunc("GET /api/models/{uid}", s.apiModel)
	m.HandleFunc("GET /api/models/{uid}/files/{file...}", s.apiModelFile)
	m.HandleFunc("GET /api/steps", s.apiSteps)
	m.HandleFunc("GET /api/steps/{name}", s.apiStep)
	m.HandleFunc("GET /api/generate", s.apiGenerate)
	m.HandleFunc("POST /api/generate", s.apiGenerate)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no page at %q", r.URL.Path))
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:")
	if s.opts.LoopbackHosts && !loopbackHost(r.Host) {
		s.fail(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not a loopback name; this server answers only to localhost", r.Host))
		return
	}
	if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(r.URL.RawPath, "%00") {
		s.fail(w, r, http.StatusBadRequest, "path holds a NUL byte")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names the loopback interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code >= 500 {
		s.log.Warn("web request failed", "path", r.URL.Path, "status", code, "err", msg)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, code, apiError{Error: msg, Status: code})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = s.pages.render(w, "error", map[string]any{"Title": http.StatusText(code), "Status": code, "Message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) (*snapshot, bool) {
	snap, err := load(r.Context(), s.root)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "read state: "+err.Error())
		return nil, false
	}
	return snap, true
}

// ---- data ----

func (s *Server) competitionList(snap *snapshot) []Competition {
	var out []Competition
	for _, n := range snap.competitions() {
		c := Competition{Name: n}
		if snap.config != nil {
			if cc, ok := snap.config.Competition(n); ok {
				c.Reward, c.Dataset, c.ModelTypes, c.Parameters, c.ModelSize = cc.Reward, cc.Dataset, cc.ModelTypes, cc.Parameters, cc.ModelSize
			}
		}
		lb := snap.leaderboard(n)
		c.Models, c.Steps = len(lb.Rows), lb.Steps
		out = append(out, c)
	}
	if out == nil {
		out = []Competition{}
	}
	return out
}

func (s *Server) findCompetition(w http.ResponseWriter, r *http.Request, snap *snapshot) (string, bool) {
	name := r.PathValue("name")
	for _, n := range snap.competitions() {
		if n == name {
			return n, true
		}
	}
	s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no competition %q", name))
	return "", false
}

func parseUID(v string) (chain.UID, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("uid %q must be an integer from 0 to 65535", v)
	}
	return chain.UID(n), nil
}

func (s *Server) findModel(w http.ResponseWriter, r *http.Request, snap *snapshot, v string) (*modelEntry, bool) {
	uid, err := parseUID(v)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return nil, false
	}
	e := snap.models[uid]
	if e == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no model for uid %d in the step reports", uid))
		return nil, false
	}
	return e, true
}

// dirHash returns the model hash of dir, cached by the folder's mtime.
func (s *Server) dirHash(ctx context.Context, dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	s.hashMu.Lock()
	h, ok := s.hashes[dir]
	s.hashMu.Unlock()
	if ok && h.mod.Equal(st.ModTime()) {
		return h.hash, h.err
	}
	hash, err := modelhash.Dir(ctx, dir, modelhash.Options{})
	if ctx.Err() == nil {
		s.hashMu.Lock()
		s.hashes[dir] = hashEntry{mod: st.ModTime(), hash: hash, err: err}
		s.hashMu.Unlock()
	}
	return hash, err
}

func (s *Server) modelView(ctx context.Context, snap *snapshot, e *modelEntry) Model {
	m := Model{UID: e.UID, Hotkey: e.Hotkey, Name: snap.name(e.UID, e.Hotkey), Competition: e.Competition, Label: e.Label,
		Rejected: e.Rejected, Block: e.Block, Last: e.Last, HashState: "unknown", Loss: lossPT(e.LossPT)}
	if e.Meta != nil {
		m.Repo, m.Commit, m.Hash = e.Meta.ID.RepoID(), e.Meta.ID.Commit, e.Meta.ID.Hash
		if m.Block == 0 {
			m.Block = uint64(e.Meta.Block)
		}
	}
	if p, ok := snap.names[e.UID]; ok && e.Meta == nil && p.Hotkey == e.Hotkey && p.Commit != "" {
		m.Repo, m.Commit, m.Block = p.Repo, p.Commit, p.Block
	}
	m.BlockTime = snap.blockTime(m.Block)
	dir, err := snap.modelFolder(s.root, e)
	switch {
	case err != nil && e.Meta != nil:
		m.HashState = "missing"
		m.Problem = strings.ReplaceAll(err.Error(), s.root, "<state>")
	case err == nil:
		m.Downloaded = true
		if info, err := modeldir.Inspect(dir); err == nil {
			info.Dir = strings.TrimPrefix(strings.TrimPrefix(dir, s.root), string(filepath.Separator))
			m.Geometry = info
			for f := range info.Files {
				m.Files = append(m.Files, f)
			}
			sort.Strings(m.Files)
		} else {
			m.Problem = strings.ReplaceAll(err.Error(), s.root, "<state>")
		}
		if h, err := s.dirHash(ctx, dir); err != nil {
			m.HashState = "error"
		} else if modelhash.Salt(h, e.Hotkey) == m.Hash {
			m.HashState = "verified"
		} else {
			m.HashState = "mismatch"
		}
	}
	if e.Last != nil {
		for _, l := range e.Last.Losses {
			if v := float64(l); !math.IsNaN(v) && !math.IsInf(v, 0) {
				m.Losses = append(m.Losses, v)
			}
		}
		m.Histogram = histogram(m.Losses, 20)
	}
	for _, st := range snap.steps {
		for _, u := range st.Report.UIDs {
			if u.UID == e.UID && (u.Hotkey == "" || u.Hotkey == e.Hotkey) {
				m.History = append(m.History, HistoryModelPt{Step: st.Report.Step, Block: st.Report.Block, Timestamp: st.Report.Timestamp,
					Loss: lossPT(float64(u.LossPTAvg)), WinRate: u.WinRate, Weight: u.Weight})
			}
		}
	}
	return m
}

// ---- API ----

func (s *Server) apiIndex(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": []string{
		"/api/competitions", "/api/competitions/{name}/leaderboard", "/api/models", "/api/models/{uid}",
		"/api/models/{uid}/files/{file}", "/api/steps", "/api/steps/{name}",
		"/api/generate?model={uid}&prompt=...&max_tokens=&temperature=&top_k=&top_p=&seed= (text/event-stream)",
	}})
}

func (s *Server) apiCompetitions(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.competitionList(snap))
}

func (s *Server) apiLeaderboard(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	name, ok := s.findCompetition(w, r, snap)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, snap.leaderboard(name))
}

// ModelSummary is one entry of GET /api/models.
type ModelSummary struct {
	UID         chain.UID `json:"uid"`
	Hotkey      string    `json:"hotkey"`
	Name        string    `json:"name"`
	Competition string    `json:"competition"`
	Label       string    `json:"label"`
	Rejected    string    `json:"rejected,omitempty"`
	Link        string    `json:"link"`
}

func (s *Server) modelSummaries(snap *snapshot) []ModelSummary {
	out := []ModelSummary{}
	for _, e := range snap.models {
		out = append(out, ModelSummary{UID: e.UID, Hotkey: e.Hotkey, Name: snap.name(e.UID, e.Hotkey), Competition: e.Competition,
			Label: e.Label, Rejected: e.Rejected, Link: fmt.Sprintf("/models/%d", e.UID)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

func (s *Server) apiModels(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.modelSummaries(snap))
}

func (s *Server) apiModel(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	e, ok := s.findModel(w, r, snap, r.PathValue("uid"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.modelView(r.Context(), snap, e))
}

// cleanRel checks a client-given relative file name: no absolute paths, no
// "..", no backslashes or NUL bytes.
func cleanRel(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty file name")
	case strings.ContainsAny(p, "\\\x00"), !utf8.ValidString(p):
		return "", fmt.Errorf("file name %q holds a forbidden character", p)
	case strings.HasPrefix(p, "/"), filepath.IsAbs(p):
		return "", fmt.Errorf("file name %q is absolute", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "." || part == "" {
			return "", fmt.Errorf("file name %q is not a clean relative path", p)
		}
	}
	return path.Clean(p), nil
}

// serveFile serves rel inside dir through an os.Root, which refuses any
// path or link that leaves dir; dir itself lies inside the state folder.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, dir, rel string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "folder not found")
		return
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		code, msg := http.StatusNotFound, fmt.Sprintf("no file %q", rel)
		if !errors.Is(err, fs.ErrNotExist) {
			code, msg = http.StatusForbidden, fmt.Sprintf("file %q is not readable here", rel)
		}
		s.fail(w, r, code, msg)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		s.fail(w, r, http.StatusForbidden, fmt.Sprintf("%q is not a regular file", rel))
		return
	}
	if strings.HasSuffix(rel, ".json") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, path.Base(rel), st.ModTime(), f)
}

func (s *Server) apiModelFile(w http.ResponseWriter, r *http.Request) {
	rel, err := cleanRel(r.PathValue("file"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	e, ok := s.findModel(w, r, snap, r.PathValue("uid"))
	if !ok {
		return
	}
	dir, err := snap.modelFolder(s.root, e)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, strings.ReplaceAll(err.Error(), s.root, "<state>"))
		return
	}
	s.serveFile(w, r, dir, rel)
}

// StepSummary is one entry of GET /api/steps.
type StepSummary struct {
	Name      string  `json:"name"`
	Step      int     `json:"step"`
	Block     uint64  `json:"block"`
	Timestamp float64 `json:"timestamp"`
	Evaluated int     `json:"evaluated"`
}

func (s *Server) apiSteps(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	out := []StepSummary{}
	for _, st := range snap.steps {
		out = append(out, StepSummary{Name: st.Name, Step: st.Report.Step, Block: st.Report.Block, Timestamp: st.Report.Timestamp, Evaluated: st.Report.Evaluated})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiStep(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !stepName.MatchString(name) {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("step name %q must be a .json file name of letters, digits, '.', '_' and '-'", name))
		return
	}
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	for _, st := range snap.steps {
		if st.Name == name {
			writeJSON(w, http.StatusOK, st.Report)
			return
		}
	}
	s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no step %q", name))
}

// parseGenerate reads and checks the playground parameters.
func (s *Server) parseGenerate(r *http.Request) (uid string, req GenerateRequest, err error) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return "", req, fmt.Errorf("read form: %v", err)
		}
	}
	q := r.Form
	if q == nil {
		q = r.URL.Query()
	}
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	uid = get("model")
	if uid == "" {
		return "", req, errors.New("parameter model (a uid) is required")
	}
	req.Prompt = q.Get("prompt")
	switch {
	case req.Prompt == "":
		return "", req, errors.New("parameter prompt is required")
	case len(req.Prompt) > MaxPromptBytes:
		return "", req, fmt.Errorf("prompt is %d bytes, over %d", len(req.Prompt), MaxPromptBytes)
	case !utf8.ValidString(req.Prompt):
		return "", req, errors.New("prompt is not valid UTF-8")
	}
	req.MaxTokens = min(64, s.opts.MaxTokens)
	if v := get("max_tokens"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.opts.MaxTokens {
			return "", req, fmt.Errorf("max_tokens %q must be an integer from 1 to %d", v, s.opts.MaxTokens)
		}
		req.MaxTokens = n
	}
	if v := get("temperature"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return "", req, fmt.Errorf("temperature %q must be a number from 0 (greedy) to 100", v)
		}
		req.Temperature = f
	}
	if v := get("top_k"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1<<24 {
			return "", req, fmt.Errorf("top_k %q must be a non-negative integer (0: off)", v)
		}
		req.TopK = n
	}
	if v := get("top_p"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return "", req, fmt.Errorf("top_p %q must be a number from 0 to 1 (0 or 1: off)", v)
		}
		req.TopP = f
	}
	if v := get("seed"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return "", req, fmt.Errorf("seed %q must be a non-negative integer", v)
		}
		req.Seed = n
	}
	return uid, req, nil
}

func (s *Server) apiGenerate(w http.ResponseWriter, r *http.Request) {
	uid, req, err := s.parseGenerate(r)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	e, ok := s.findModel(w, r, snap, uid)
	if !ok {
		return
	}
	dir, err := snap.modelFolder(s.root, e)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, strings.ReplaceAll(err.Error(), s.root, "<state>"))
		return
	}
	if s.opts.Generator == nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the playground is off: this server runs without an engine")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, http.StatusInternalServerError, "streaming is not supported by this connection")
		return
	}
	ctx := r.Context()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) error {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	_ = send("start", map[string]any{"model": e.UID, "label": e.Label, "request": req})
	var text strings.Builder
	res, err := s.opts.Generator.Generate(ctx, dir, req, func(t string) error {
		text.WriteString(t)
		return send("token", map[string]string{"text": t})
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("generation failed", "uid", e.UID, "err", err)
			_ = send("error", apiError{Error: strings.ReplaceAll(err.Error(), s.root, "<state>"), Status: 500})
		}
		return
	}
	_ = send("done", map[string]any{"tokens": res.Tokens, "text": text.String()})
}
