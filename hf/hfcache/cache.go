package hfcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/coldint/coldint/hf"
)

// Type is the kind of a Hub repo; it prefixes the repo folder name.
type Type string

// The repo types of the Hub.
const (
	Model   Type = "model"
	Dataset Type = "dataset"
	Space   Type = "space"
)

// ErrBadName reports a cache entry name (repo folder, ref, etag, commit)
// that does not follow the layout.
var ErrBadName = errors.New("not a Hugging Face cache name")

// Repo is the folder of one repo in a cache.
type Repo struct {
	cache  string // the cache folder
	folder string // models--ns--name
}

// Open returns the folder of repo in the cache folder cacheDir. Nothing is
// created until a file is placed.
func Open(cacheDir string, typ Type, repo hf.RepoID) *Repo {
	return &Repo{cache: cacheDir, folder: FolderName(typ, repo)}
}

// OpenModel is Open for a model repo.
func OpenModel(cacheDir string, repo hf.RepoID) *Repo { return Open(cacheDir, Model, repo) }

// FolderName is the repo folder name: "models--ns--name" for a model.
func FolderName(typ Type, repo hf.RepoID) string {
	return string(typ) + "s--" + repo.Namespace + "--" + repo.Name
}

// ParseFolderName reads a repo folder name back ("models--ns--name").
func ParseFolderName(name string) (Type, hf.RepoID, error) {
	kind, rest, ok := strings.Cut(name, "--")
	typ := Type(strings.TrimSuffix(kind, "s"))
	if !ok || !strings.HasSuffix(kind, "s") || (typ != Model && typ != Dataset && typ != Space) {
		return "", hf.RepoID{}, fmt.Errorf("parse repo folder %q: no models--, datasets-- or spaces-- prefix: %w", name, ErrBadName)
	}
	ns, repoName, ok := strings.Cut(rest, "--")
	if !ok {
		return "", hf.RepoID{}, fmt.Errorf("parse repo folder %q: no --name part: %w", name, ErrBadName)
	}
	id, err := hf.ParseRepoID(ns + "/" + repoName)
	if typ == Dataset {
		id, err = hf.ParseTypedRepo(ns+"/"+repoName, hf.DatasetRepo)
	}
	if err != nil {
		return "", hf.RepoID{}, fmt.Errorf("parse repo folder %q: %w", name, err)
	}
	return typ, id, nil
}

// Dir is the repo folder.
func (r *Repo) Dir() string { return filepath.Join(r.cache, r.folder) }

// SnapshotDir is snapshots/<commit>.
func (r *Repo) SnapshotDir(commit string) string {
	return filepath.Join(r.Dir(), "snapshots", commit)
}

// BlobPath is blobs/<etag>.
func (r *Repo) BlobPath(etag string) string { return filepath.Join(r.Dir(), "blobs", etag) }

// IncompletePath is where the blob etag is downloaded before it is checked.
func (r *Repo) IncompletePath(etag string) string { return r.BlobPath(etag) + ".incomplete" }

// LockPath is the lock file huggingface_hub takes for the blob etag.
func (r *Repo) LockPath(etag string) string {
	return filepath.Join(r.cache, ".locks", r.folder, etag+".lock")
}

func (r *Repo) entryPath(commit, p string) string {
	return filepath.Join(r.SnapshotDir(commit), filepath.FromSlash(p))
}

// LinkTarget is the relative symlink target of a snapshot entry at path p
// (slash separated) for the blob etag: "../../blobs/<etag>" plus one "../"
// per sub-folder of p.
func LinkTarget(p, etag string) string {
	return strings.Repeat("../", 2+strings.Count(p, "/")) + "blobs/" + etag
}

// ValidETag reports whether etag can name a blob: a sha256 or a git blob
// sha1 in lowercase hex.
func ValidETag(etag string) bool {
	return (len(etag) == 64 || len(etag) == 40) && isLowerHex(etag)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func checkNames(commit, p, etag string) error {
	if !hf.IsCommitSHA(commit) {
		return fmt.Errorf("check commit %q: not 40 lowercase hex digits: %w", commit, ErrBadName)
	}
	if etag != "" && !ValidETag(etag) {
		return fmt.Errorf("check etag %q of %q: not a sha256 or sha1: %w", etag, p, ErrBadName)
	}
	return hf.ValidateFilePath(p)
}

// ParseRef reads the content of a refs/<revision> file: a commit sha. A
// trailing newline (written by hand or by other tools) is accepted.
func ParseRef(b []byte) (string, error) {
	s := strings.TrimSuffix(string(b), "\n")
	if !hf.IsCommitSHA(s) {
		return "", fmt.Errorf("parse ref %.60q: not a commit sha: %w", b, ErrBadName)
	}
	return s, nil
}

// checkRevision refuses a revision that cannot be a file under refs/.
func checkRevision(rev string) error {
	if err := hf.ValidateRevision(rev); err != nil {
		return err
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "." || seg == ".." || seg == "" {
			return fmt.Errorf("check revision %q: %w", rev, hf.ErrInvalidRevision)
		}
	}
	return nil
}

// WriteRef records that revision (a branch or tag; "refs/pr/1" becomes
// refs/refs/pr/1 as with huggingface_hub) points at commit. Nothing is written
// when revision is the commit itself, empty, or already recorded.
func (r *Repo) WriteRef(revision, commit string) error {
	if revision == "" || revision == commit {
		return nil
	}
	if !hf.IsCommitSHA(commit) {
		return fmt.Errorf("write ref %q: commit %q: %w", revision, commit, ErrBadName)
	}
	if err := checkRevision(revision); err != nil {
		return fmt.Errorf("write ref: %w", err)
	}
	p := filepath.Join(r.Dir(), "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := writeFileAtomic(p, []byte(commit)); err != nil {
		return fmt.Errorf("write ref %q: %w", revision, err)
	}
	return nil
}

// ReadRef returns the commit that refs/<revision> records ("" and no error
// when there is none).
func (r *Repo) ReadRef(revision string) (string, error) {
	if err := checkRevision(revision); err != nil {
		return "", fmt.Errorf("read ref: %w", err)
	}
	p := filepath.Join(r.Dir(), "refs", filepath.FromSlash(revision))
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read ref %q: %w", revision, err)
	}
	c, err := ParseRef(b)
	if err != nil {
		return "", fmt.Errorf("read ref %q in %q: %w", revision, r.folder, err)
	}
	return c, nil
}

// MarkMissing records that the repo has no file p at commit, so that
// readers (try_to_load_from_cache in huggingface_hub, [Repo.Lookup]) answer
// "does not exist" without asking the Hub.
func (r *Repo) MarkMissing(commit, p string) error {
	if err := checkNames(commit, p, ""); err != nil {
		return fmt.Errorf("mark %q missing: %w", p, err)
	}
	dst := filepath.Join(r.Dir(), ".no_exist", commit, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return fmt.Errorf("mark %q missing: %w", p, err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("mark %q missing: %w", p, err)
	}
	return f.Close()
}

// Status is what the cache knows about one file at one revision.
type Status int

// The answers of [Repo.Lookup].
const (
	NotCached Status = iota // ask the Hub
	Cached                  // the file is in the snapshot
	Missing                 // the repo has no such file (a .no_exist marker)
)

func (s Status) String() string {
	return [...]string{"not cached", "cached", "missing"}[s]
}

// Lookup answers, from the cache alone, where file p of the repo at
// revision (a commit, or a branch or tag recorded in refs/; "" means main)
// is, the way huggingface_hub's try_to_load_from_cache does: the snapshot
// entry when it resolves to a file, Missing when a .no_exist marker says so,
// NotCached otherwise. It returns the commit it resolved to ("" if none).
func (r *Repo) Lookup(revision, p string) (Status, string, string, error) {
	if revision == "" {
		revision = hf.DefaultRevision
	}
	if err := hf.ValidateFilePath(p); err != nil {
		return NotCached, "", "", fmt.Errorf("look up %q: %w", p, err)
	}
	commit := revision
	if !hf.IsCommitSHA(revision) {
		c, err := r.ReadRef(revision)
		if err != nil || c == "" {
			return NotCached, "", "", err
		}
		commit = c
	}
	if st, err := os.Stat(filepath.Join(r.Dir(), ".no_exist", commit, filepath.FromSlash(p))); err == nil && st.Mode().IsRegular() {
		return Missing, commit, "", nil
	}
	entry := r.entryPath(commit, p)
	if st, err := os.Stat(entry); err == nil && st.Mode().IsRegular() {
		return Cached, commit, entry, nil
	}
	return NotCached, commit, "", nil
}

// RecordDownload writes what a download learnt besides the files: the
// refs/ folder, refs/<revision> when revision (as asked; "" means main) is a branch or
// tag that resolved to info.SHA, and a .no_exist marker for each requested name the repo lacks
// at that commit. Markers are a shortcut for readers, so a name that cannot
// get one (unsafe, or a folder of the repo) is passed over.
func (r *Repo) RecordDownload(info *hf.ModelInfo, requested []string, revision string) error {
	for _, name := range requested {
		if _, ok := info.File(name); ok || hf.ValidateFilePath(name) != nil || isFolderOf(info, name) {
			continue
		}
		_ = r.MarkMissing(info.SHA, name)
	}
	if revision == "" {
		revision = hf.DefaultRevision
	}
	// An empty refs/ when the download was by commit: the JS client's
	// scanCacheDir gives up on a repo folder without one.
	if err := os.MkdirAll(filepath.Join(r.Dir(), "refs"), 0o777); err != nil {
		return fmt.Errorf("record download of %q: %w", r.folder, err)
	}
	return r.WriteRef(revision, info.SHA)
}

func isFolderOf(info *hf.ModelInfo, name string) bool {
	for _, f := range info.Files {
		if strings.HasPrefix(f.Path, name+"/") || strings.HasPrefix(name, f.Path+"/") {
			return true
		}
	}
	return false
}
