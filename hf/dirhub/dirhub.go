// Package dirhub is a Hugging Face-style hub kept in a local folder: a
// git-like store of immutable, content-addressed commits. It implements
// [hf.Hub] directly (no network) and is the storage behind hf/hubserver.
//
// Layout under the root folder:
//
//	objects/<sha256[:2]>/<sha256>      file contents, named by their sha256
//	repos/<ns>/<name>/repo.json        visibility and branch heads (rewritten atomically)
//	repos/<ns>/<name>/commits/<sha>.json   one immutable commit: parent, message, file list
//	datasets/<ns>/<name>/...           dataset repos, laid out as model repos
//	tmp/                               uploads in progress
//
// A commit sha is the sha1 of the commit record, computed the way git names
// objects, so a commit's content can never change under its name.
package dirhub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/internal/flock"
	"github.com/coldint/coldint/internal/atomicfile"
)

var _ hf.Hub = (*Hub)(nil)

// GitAttributes is the content of the .gitattributes file that every new
// repo starts with, as on the Hugging Face Hub.
const GitAttributes = `*.bin filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
`

// LFSThreshold is the size from which any file is stored with LFS.
const LFSThreshold = 10 << 20

// UseLFS decides how a file is stored, like the Hub's preupload answer: LFS
// for the extensions of [GitAttributes], for files of [LFSThreshold] bytes or
// more, and for binary content (a NUL byte in the first 512 bytes); regular
// otherwise. Empty files are always regular.
func UseLFS(p string, size int64, sample []byte) bool {
	if size == 0 {
		return false
	}
	if size >= LFSThreshold || bytes.IndexByte(sample, 0) >= 0 {
		return true
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".bin", ".ckpt", ".gguf", ".h5", ".model", ".msgpack", ".npy", ".npz", ".onnx", ".pt", ".pth", ".safetensors", ".tar", ".gz", ".zip":
		return true
	}
	return false
}

// GitBlobSHA1 returns the git object id of a blob with the given content hash
// input: sha1("blob <size>\x00" + content), read from r.
func GitBlobSHA1(r io.Reader, size int64) (string, error) {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", size)
	n, err := io.Copy(h, r)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("hash blob: read %d of %d bytes: %w", n, size, hf.ErrIntegrity)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// LFSPointer returns the git-lfs pointer file stored in git for an LFS file.
func LFSPointer(sha256hex string, size int64) []byte {
	return []byte("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256hex + "\nsize " + strconv.FormatInt(size, 10) + "\n")
}

// Entry is one file of a commit.
type Entry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // content hash, also the object name
	BlobID string `json:"blob"`   // git blob sha1 (of the pointer for LFS files)
	LFS    bool   `json:"lfs,omitempty"`
}

// FileInfo converts e to the hf type.
func (e Entry) FileInfo() hf.FileInfo {
	fi := hf.FileInfo{Path: e.Path, Size: e.Size, BlobID: e.BlobID}
	if e.LFS {
		fi.LFS = &hf.LFSInfo{SHA256: e.SHA256, Size: e.Size, PointerSize: int64(len(LFSPointer(e.SHA256, e.Size)))}
	}
	return fi
}

// ETag is what the resolve endpoint reports for the file.
func (e Entry) ETag() string {
	if e.LFS {
		return e.SHA256
	}
	return e.BlobID
}

// Commit is an immutable commit record.
type Commit struct {
	Parent      string    `json:"parent,omitempty"`
	Summary     string    `json:"summary"`
	Description string    `json:"description,omitempty"`
	Time        time.Time `json:"time"`
	Files       []Entry   `json:"files"` // sorted by Path
}

// File returns the entry named p.
func (c *Commit) File(p string) (Entry, bool) {
	i := sort.Search(len(c.Files), func(i int) bool { return c.Files[i].Path >= p })
	if i < len(c.Files) && c.Files[i].Path == p {
		return c.Files[i], true
	}
	return Entry{}, false
}

// RepoState is the mutable part of a repo.
type RepoState struct {
	Private bool              `json:"private"`
	Created time.Time         `json:"created"`
	Refs    map[string]string `json:"refs"` // branch → commit sha
}

// Hub is a directory hub. It is safe for concurrent use within one process.
type Hub struct {
	root string
	mu   sync.Mutex // serialises ref updates and repo creation
	now  func() time.Time
}

// Open opens (creating if needed) a directory hub rooted at root.
func Open(root string) (*Hub, error) {
	for _, d := range []string{"objects", "repos", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("open dir hub %q: %w", root, err)
		}
	}
	h := &Hub{root: root, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
	h.cleanTmp(24 * time.Hour)
	return h, nil
}

// cleanTmp removes uploads abandoned for longer than age.
func (h *Hub) cleanTmp(age time.Duration) {
	dir := filepath.Join(h.root, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// lock serialises writers in this process and, through a file lock, with
// other processes using the same root (a server and a CLI, say).
func (h *Hub) lock(ctx context.Context) (func(), error) {
	h.mu.Lock()
	fl, err := flock.Acquire(ctx, filepath.Join(h.root, "lock"))
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	return func() { fl.Unlock(); h.mu.Unlock() }, nil
}

// Root returns the hub's folder.
func (h *Hub) Root() string { return h.root }

func (h *Hub) repoDir(repo hf.RepoID) string {
	if repo.Type == hf.DatasetRepo {
		return filepath.Join(h.root, "datasets", repo.Namespace, repo.Name)
	}
	return filepath.Join(h.root, "repos", repo.Namespace, repo.Name)
}

func (h *Hub) objectPath(oid string) string {
	return filepath.Join(h.root, "objects", oid[:2], oid)
}

func validOID(oid string) bool {
	if len(oid) != 64 {
		return false
	}
	_, err := hex.DecodeString(oid)
	return err == nil && strings.ToLower(oid) == oid
}

// State returns the repo's visibility and refs.
func (h *Hub) State(repo hf.RepoID) (*RepoState, error) {
	b, err := os.ReadFile(filepath.Join(h.repoDir(repo), "repo.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read repo %q: %w", repo.String(), hf.ErrRepoNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read repo %q: %w", repo.String(), err)
	}
	var st RepoState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse repo %q state: %w", repo.String(), err)
	}
	return &st, nil
}

func (h *Hub) writeState(repo hf.RepoID, st *RepoState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(h.repoDir(repo), "repo.json"), b, 0o644)
}

// ReadCommit loads commit sha of repo.
func (h *Hub) ReadCommit(repo hf.RepoID, sha string) (*Commit, error) {
	if !hf.IsCommitSHA(sha) {
		return nil, fmt.Errorf("read commit %q of %q: %w", sha, repo.String(), hf.ErrRevisionNotFound)
	}
	b, err := os.ReadFile(filepath.Join(h.repoDir(repo), "commits", sha+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read commit %q of %q: %w", sha, repo.String(), hf.ErrRevisionNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %q of %q: %w", sha, repo.String(), err)
	}
	if got := commitSHA(b); got != sha {
		return nil, fmt.Errorf("read commit %q of %q: content hashes to %q: %w", sha, repo.String(), got, hf.ErrIntegrity)
	}
	var c Commit
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse commit %q of %q: %w", sha, repo.String(), err)
	}
	return &c, nil
}

func commitSHA(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "commit %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Resolve turns a revision (branch name or commit sha; empty = main) into a
// commit sha and its record.
func (h *Hub) Resolve(repo hf.RepoID, rev string) (string, *Commit, *RepoState, error) {
	st, err := h.State(repo)
	if err != nil {
		return "", nil, nil, err
	}
	if rev == "" || rev == "HEAD" {
		rev = hf.DefaultRevision
	}
	sha, ok := st.Refs[rev]
	if !ok {
		sha = rev
	}
	c, err := h.ReadCommit(repo, sha)
	if err != nil {
		return "", nil, nil, err
	}
	return sha, c, st, nil
}

// ModelInfo implements [hf.Hub].
func (h *Hub) ModelInfo(ctx context.Context, repo hf.RepoID, revision string) (*hf.ModelInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sha, c, st, err := h.Resolve(repo, revision)
	if err != nil {
		return nil, fmt.Errorf("get model info %q: %w", repo.String(), err)
	}
	info := &hf.ModelInfo{ID: repo, SHA: sha, Private: st.Private, LastModified: c.Time}
	for _, e := range c.Files {
		info.Files = append(info.Files, e.FileInfo())
	}
	return info, nil
}

// OpenFile opens file p of a commit for reading.
func (h *Hub) OpenFile(repo hf.RepoID, c *Commit, p string) (*os.File, Entry, error) {
	e, ok := c.File(p)
	if !ok {
		return nil, Entry{}, fmt.Errorf("open %q in %q: %w", p, repo.String(), hf.ErrEntryNotFound)
	}
	f, err := os.Open(h.objectPath(e.SHA256))
	if err != nil {
		return nil, Entry{}, fmt.Errorf("open %q in %q: object %s: %w", p, repo.String(), e.SHA256, err)
	}
	return f, e, nil
}

// Download implements [hf.Hub]. Files are copied from the object store into
// the Hugging Face cache layout of package hfcache (checked, then linked from
// the snapshot); files the cache already holds are linked, not copied.
func (h *Hub) Download(ctx context.Context, repo hf.RepoID, commit string, files []string, cacheDir string, opts hf.DownloadOptions) (string, error) {
	sha, c, _, err := h.Resolve(repo, commit)
	if err != nil {
		return "", fmt.Errorf("download %q at %q: %w", repo.String(), commit, err)
	}
	info := &hf.ModelInfo{ID: repo, SHA: sha}
	for _, e := range c.Files {
		info.Files = append(info.Files, e.FileInfo())
	}
	plan, err := hf.PlanDownload(info, files, opts)
	if err != nil {
		return "", err
	}
	rc := hfcache.Open(cacheDir, hfcache.Type(repo.Type.String()), repo)
	for _, fi := range plan {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		e, _ := c.File(fi.Path)
		f := hfcache.File{Path: e.Path, ETag: e.ETag(), Size: e.Size}
		_, err := rc.Place(ctx, sha, f, func(ctx context.Context, partial string) error {
			return h.copyOut(ctx, repo, c, fi.Path, partial)
		})
		if err != nil {
			return "", fmt.Errorf("download %q at %q: %w", repo.String(), sha, err)
		}
		if opts.Progress != nil {
			opts.Progress(hf.Progress{Path: fi.Path, Done: fi.Size, Total: fi.Size})
		}
	}
	if err := rc.RecordDownload(info, files, commit); err != nil {
		return "", fmt.Errorf("download %q at %q: %w", repo.String(), sha, err)
	}
	return rc.SnapshotDir(sha), nil
}

// copyOut copies the object of file p into partial, checking it against
// the object name (its sha256) on the way.
func (h *Hub) copyOut(ctx context.Context, repo hf.RepoID, c *Commit, p, partial string) error {
	src, e, err := h.OpenFile(repo, c, p)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	defer dst.Close()
	hs := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, hs), ctxReader{ctx, src})
	if err != nil {
		return fmt.Errorf("copy %q: %w", p, err)
	}
	if n != e.Size || hex.EncodeToString(hs.Sum(nil)) != e.SHA256 {
		dst.Close()
		os.Remove(partial)
		return fmt.Errorf("copy %q: stored object is corrupt: %w", p, hf.ErrIntegrity)
	}
	return dst.Close()
}

// CreateRepo implements [hf.Hub]. The first commit holds .gitattributes.
func (h *Hub) CreateRepo(ctx context.Context, repo hf.RepoID, private bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := h.lock(ctx)
	if err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	defer unlock()
	if _, err := h.State(repo); err == nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), hf.ErrRepoExists)
	}
	if err := os.MkdirAll(filepath.Join(h.repoDir(repo), "commits"), 0o755); err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	oid, size, err := h.PutObject(ctx, strings.NewReader(GitAttributes), "", -1)
	if err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	blob, _ := GitBlobSHA1(strings.NewReader(GitAttributes), size)
	c := &Commit{Summary: "initial commit", Time: h.now(), Files: []Entry{{Path: ".gitattributes", Size: size, SHA256: oid, BlobID: blob}}}
	sha, err := h.writeCommit(repo, c)
	if err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	st := &RepoState{Private: private, Created: h.now(), Refs: map[string]string{hf.DefaultRevision: sha}}
	if err := h.writeState(repo, st); err != nil {
		return fmt.Errorf("create repo %q: %w", repo.String(), err)
	}
	return nil
}

// SetVisibility implements [hf.Hub].
func (h *Hub) SetVisibility(ctx context.Context, repo hf.RepoID, private bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := h.lock(ctx)
	if err != nil {
		return fmt.Errorf("set visibility of %q: %w", repo.String(), err)
	}
	defer unlock()
	st, err := h.State(repo)
	if err != nil {
		return fmt.Errorf("set visibility of %q: %w", repo.String(), err)
	}
	st.Private = private
	if err := h.writeState(repo, st); err != nil {
		return fmt.Errorf("set visibility of %q: %w", repo.String(), err)
	}
	return nil
}

// HasObject reports whether an object with sha256 oid is stored, and its size.
func (h *Hub) HasObject(oid string) (int64, bool) {
	if !validOID(oid) {
		return 0, false
	}
	st, err := os.Stat(h.objectPath(oid))
	if err != nil {
		return 0, false
	}
	return st.Size(), true
}

// PutObject stores the content of r. When wantOID is set the content must hash
// to it, and when wantSize ≥ 0 it must have that size; otherwise nothing is
// stored and the error wraps [hf.ErrIntegrity].
func (h *Hub) PutObject(ctx context.Context, r io.Reader, wantOID string, wantSize int64) (string, int64, error) {
	if wantOID != "" && !validOID(wantOID) {
		return "", 0, fmt.Errorf("store object %q: not a sha256: %w", wantOID, hf.ErrIntegrity)
	}
	tmp, err := os.CreateTemp(filepath.Join(h.root, "tmp"), "obj-*")
	if err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hs := sha256.New()
	if wantSize >= 0 {
		r = io.LimitReader(r, wantSize+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, hs), ctxReader{ctx, r})
	if err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	oid := hex.EncodeToString(hs.Sum(nil))
	if wantSize >= 0 && n != wantSize {
		return "", 0, fmt.Errorf("store object %q: got %d bytes, want %d: %w", wantOID, n, wantSize, hf.ErrIntegrity)
	}
	if wantOID != "" && oid != wantOID {
		return "", 0, fmt.Errorf("store object %q: content hashes to %q: %w", wantOID, oid, hf.ErrIntegrity)
	}
	if _, ok := h.HasObject(oid); ok {
		return oid, n, nil
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	dst := h.objectPath(oid)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
		return "", 0, fmt.Errorf("store object: %w", err)
	}
	return oid, n, nil
}

// TmpDir is a folder on the hub's filesystem for uploads in progress;
// files prepared there can be moved into the store with [Hub.AdoptObject].
func (h *Hub) TmpDir() string { return filepath.Join(h.root, "tmp") }

// AdoptObject moves the file at p (under [Hub.TmpDir]) into the object store
// when its content hashes to wantOID and has wantSize bytes; otherwise it
// leaves p in place and returns an error wrapping [hf.ErrIntegrity]. This
// stores a large upload without copying it.
func (h *Hub) AdoptObject(ctx context.Context, p, wantOID string, wantSize int64) error {
	if !validOID(wantOID) {
		return fmt.Errorf("adopt object %q: not a sha256: %w", wantOID, hf.ErrIntegrity)
	}
	if size, ok := h.HasObject(wantOID); ok && size == wantSize {
		os.Remove(p) // stored already (a concurrent upload of the same content)
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("adopt object %q: %w", wantOID, err)
	}
	defer f.Close()
	hs := sha256.New()
	n, err := io.Copy(hs, ctxReader{ctx, f})
	if err != nil {
		return fmt.Errorf("adopt object %q: %w", wantOID, err)
	}
	if n != wantSize || hex.EncodeToString(hs.Sum(nil)) != wantOID {
		return fmt.Errorf("adopt object %q: content does not hash to it or has %d bytes, not %d: %w", wantOID, n, wantSize, hf.ErrIntegrity)
	}
	if _, ok := h.HasObject(wantOID); ok {
		return os.Remove(p)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("adopt object %q: %w", wantOID, err)
	}
	dst := h.objectPath(wantOID)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("adopt object %q: %w", wantOID, err)
	}
	if err := os.Rename(p, dst); err != nil {
		return fmt.Errorf("adopt object %q: %w", wantOID, err)
	}
	return atomicfile.SyncDir(filepath.Dir(dst))
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Op is one change of a commit: put the stored object OID at Path (LFS
// selects how it is recorded), or delete the file Path, or (DeleteFolder)
// every file under the folder Path.
type Op struct {
	Path         string
	OID          string
	LFS          bool
	Delete       bool
	DeleteFolder bool
}

// CommitRequest is a commit to make on a branch.
type CommitRequest struct {
	Revision     string // branch; empty = main
	Summary      string
	Description  string
	ParentCommit string // optional: fail with ErrConflict if the branch moved
	Ops          []Op
}

// Commit applies req on top of its branch and returns the new commit sha.
// Every path is checked with [hf.ValidateFilePath] and every object must be
// stored already.
func (h *Hub) Commit(ctx context.Context, repo hf.RepoID, req CommitRequest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	branch := req.Revision
	if branch == "" {
		branch = hf.DefaultRevision
	}
	if err := hf.ValidateRevision(branch); err != nil {
		return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
	}
	for _, op := range req.Ops {
		if err := hf.ValidateFilePath(op.Path); err != nil {
			return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
		}
	}
	unlock, err := h.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
	}
	defer unlock()
	st, err := h.State(repo)
	if err != nil {
		return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
	}
	parent, ok := st.Refs[branch]
	if !ok {
		if hf.IsCommitSHA(branch) {
			return "", fmt.Errorf("commit to %q: cannot commit on a detached commit %q: %w", repo.String(), branch, hf.ErrRevisionNotFound)
		}
		parent = st.Refs[hf.DefaultRevision] // new branch from main
	}
	if req.ParentCommit != "" && req.ParentCommit != parent {
		return "", fmt.Errorf("commit to %q: branch %q is at %q, not %q: %w", repo.String(), branch, parent, req.ParentCommit, hf.ErrConflict)
	}
	files := map[string]Entry{}
	if parent != "" {
		pc, err := h.ReadCommit(repo, parent)
		if err != nil {
			return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
		}
		for _, e := range pc.Files {
			files[e.Path] = e
		}
	}
	for _, op := range req.Ops {
		switch {
		case op.DeleteFolder:
			for p := range files {
				if strings.HasPrefix(p, op.Path+"/") {
					delete(files, p)
				}
			}
		case op.Delete:
			delete(files, op.Path)
		default:
			size, ok := h.HasObject(op.OID)
			if !ok {
				return "", fmt.Errorf("commit to %q: file %q: object %q was never uploaded: %w", repo.String(), op.Path, op.OID, hf.ErrIntegrity)
			}
			e := Entry{Path: op.Path, Size: size, SHA256: op.OID, LFS: op.LFS}
			if op.LFS {
				e.BlobID, _ = GitBlobSHA1(bytes.NewReader(LFSPointer(op.OID, size)), int64(len(LFSPointer(op.OID, size))))
			} else {
				f, err := os.Open(h.objectPath(op.OID))
				if err != nil {
					return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
				}
				e.BlobID, err = GitBlobSHA1(f, size)
				f.Close()
				if err != nil {
					return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
				}
			}
			files[op.Path] = e
		}
	}
	// A path cannot be both a file and a folder.
	for p := range files {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, clash := files[d]; clash {
				return "", fmt.Errorf("commit to %q: %q is both a file and a folder: %w", repo.String(), d, hf.ErrUnsafePath)
			}
		}
	}
	c := &Commit{Parent: parent, Summary: req.Summary, Description: req.Description, Time: h.now()}
	for _, e := range files {
		c.Files = append(c.Files, e)
	}
	sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].Path < c.Files[j].Path })
	sha, err := h.writeCommit(repo, c)
	if err != nil {
		return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
	}
	st.Refs[branch] = sha
	if err := h.writeState(repo, st); err != nil {
		return "", fmt.Errorf("commit to %q: %w", repo.String(), err)
	}
	return sha, nil
}

func (h *Hub) writeCommit(repo hf.RepoID, c *Commit) (string, error) {
	if c.Files == nil {
		c.Files = []Entry{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sha := commitSHA(b)
	p := filepath.Join(h.repoDir(repo), "commits", sha+".json")
	if _, err := os.Stat(p); err == nil {
		return sha, nil
	}
	if err := atomicfile.WriteFile(p, b, 0o444); err != nil {
		return "", err
	}
	return sha, nil
}

// Upload implements [hf.Hub]: each file is stored as an object, then one
// commit records them all.
func (h *Hub) Upload(ctx context.Context, repo hf.RepoID, files []hf.UploadFile, message string, opts hf.UploadOptions) (string, error) {
	if _, err := h.State(repo); err != nil {
		return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
	}
	req := CommitRequest{Revision: opts.Revision, Summary: message, Description: opts.Description, ParentCommit: opts.ParentCommit}
	seen := map[string]bool{}
	for _, f := range files {
		if err := hf.ValidateFilePath(f.Path); err != nil {
			return "", fmt.Errorf("upload to %q: %w", repo.String(), err)
		}
		if seen[f.Path] {
			return "", fmt.Errorf("upload to %q: file %q given twice: %w", repo.String(), f.Path, hf.ErrUnsafePath)
		}
		seen[f.Path] = true
		sample := make([]byte, min(512, f.Size))
		if _, err := f.Content.ReadAt(sample, 0); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("upload to %q: read %q: %w", repo.String(), f.Path, err)
		}
		oid, _, err := h.PutObject(ctx, io.NewSectionReader(f.Content, 0, f.Size), "", f.Size)
		if err != nil {
			return "", fmt.Errorf("upload to %q: file %q: %w", repo.String(), f.Path, err)
		}
		if opts.Progress != nil {
			opts.Progress(hf.Progress{Path: f.Path, Done: f.Size, Total: f.Size})
		}
		req.Ops = append(req.Ops, Op{Path: f.Path, OID: oid, LFS: UseLFS(f.Path, f.Size, sample)})
	}
	return h.Commit(ctx, repo, req)
}
