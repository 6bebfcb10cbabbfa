package hf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"
)

// Sentinel errors shared by every [Hub] backend. Check them with errors.Is;
// backends wrap them with context (and the network client in [*HTTPError]).
var (
	// ErrRepoNotFound: the repo does not exist or is private to someone else
	// (the Hub answers both alike).
	ErrRepoNotFound = errors.New("repo not found")
	// ErrRevisionNotFound: the repo exists but the branch or commit does not.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: the file is not in the repo at that revision.
	ErrEntryNotFound = errors.New("file not found in repo")
	// ErrRepoExists: CreateRepo on a repo that already exists.
	ErrRepoExists = errors.New("repo already exists")
	// ErrUnauthorized: the token is missing or not allowed to do this.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrGated: the repo is gated and the token has not been granted access.
	ErrGated = errors.New("gated repo")
	// ErrTooLarge: the repo's files at the revision exceed the size limit.
	ErrTooLarge = errors.New("repo exceeds size limit")
	// ErrConflict: the branch moved since the parent commit given to an upload.
	ErrConflict = errors.New("conflicting commit")
	// ErrIntegrity: downloaded or uploaded bytes do not match the expected size or hash.
	ErrIntegrity = errors.New("content does not match its hash or size")
	// ErrRateLimited: the server kept answering 429 after every retry.
	ErrRateLimited = errors.New("rate limited")
)

// HTTPError is an unsuccessful answer from a Hub server. Unwrap yields the
// matching sentinel (for example [ErrRepoNotFound]) when one applies.
type HTTPError struct {
	StatusCode int    // HTTP status code
	Repo       string // "namespace/name", empty when not repo-specific
	Method     string // request method
	URL        string // request URL without query string
	Code       string // X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ...)
	Message    string // X-Error-Message header or the JSON "error" field
	RequestID  string // X-Request-Id, for support
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: http %d", e.Method, e.URL, e.StatusCode)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	return msg
}

// Unwrap maps the status and error code to a sentinel, or returns nil.
func (e *HTTPError) Unwrap() error {
	switch e.Code {
	case "RepoNotFound":
		return ErrRepoNotFound
	case "RevisionNotFound":
		return ErrRevisionNotFound
	case "EntryNotFound":
		return ErrEntryNotFound
	case "GatedRepo":
		return ErrGated
	}
	switch e.StatusCode {
	case 401, 403:
		return ErrUnauthorized
	case 404:
		return ErrRepoNotFound
	case 409:
		return ErrRepoExists
	case 412:
		return ErrConflict
	case 429:
		return ErrRateLimited
	}
	return nil
}

// LFSInfo describes a file stored with Git LFS.
type LFSInfo struct {
	SHA256      string `json:"sha256"`                // hex sha256 of the content
	Size        int64  `json:"size"`                  // content size in bytes
	PointerSize int64  `json:"pointerSize,omitempty"` // size of the git pointer file
}

// FileInfo describes one file of a repo at a revision.
type FileInfo struct {
	Path   string   `json:"rfilename"`        // slash-separated name in the repo
	Size   int64    `json:"size"`             // content size in bytes
	BlobID string   `json:"blobId,omitempty"` // git blob sha1 (of the pointer for LFS files)
	LFS    *LFSInfo `json:"lfs,omitempty"`    // set for LFS files
}

// ETag returns the identifier the Hub gives the file content: the sha256 for
// LFS files, the git blob sha1 otherwise.
func (f FileInfo) ETag() string {
	if f.LFS != nil {
		return f.LFS.SHA256
	}
	return f.BlobID
}

// ModelInfo is what a Hub reports about a model repo at one revision.
type ModelInfo struct {
	ID           RepoID     // the repo
	SHA          string     // the resolved commit (40 hex)
	Private      bool       // whether only the owner can read it
	Gated        bool       // whether access must be requested
	LastModified time.Time  // time of the commit, zero if unknown
	Files        []FileInfo // every file at SHA, with sizes
}

// TotalSize is the sum of the file sizes, what validators compare to a
// competition's size limit (docs/validator.md#syncing-a-model).
func (m *ModelInfo) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// File returns the file named p, if present.
func (m *ModelInfo) File(p string) (FileInfo, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return FileInfo{}, false
}

// Progress reports transfer progress of one file. Done counts bytes so far
// out of Total; Done == Total marks the file complete. Callbacks may be called
// from several goroutines at once.
type Progress struct {
	Path  string
	Done  int64
	Total int64
}

// ProgressFunc receives transfer progress; it must be safe for concurrent use
// and return quickly.
type ProgressFunc func(Progress)

// DownloadOptions tune [Hub.Download]. The zero value downloads every file
// with no size limit.
type DownloadOptions struct {
	// MaxTotalSize refuses (with ErrTooLarge, before writing anything) a repo
	// whose files at the commit sum to more than this many bytes. 0 = no limit.
	MaxTotalSize int64
	// SkipMissing makes requested files that are not in the repo be skipped
	// instead of failing with ErrEntryNotFound (validators fetch an allow-list).
	SkipMissing bool
	// Progress, when set, receives per-file progress.
	Progress ProgressFunc
}

// UploadFile is one file of an upload: Path is the slash-separated name in the
// repo, and Content holds Size bytes (it is read more than once).
type UploadFile struct {
	Path    string
	Size    int64
	Content io.ReaderAt
}

// UploadOptions tune [Hub.Upload].
type UploadOptions struct {
	// Revision is the branch to commit to; empty means "main".
	Revision string
	// ParentCommit, when set, makes the upload fail with ErrConflict if the
	// branch has moved past it.
	ParentCommit string
	// Description is the long commit message.
	Description string
	// Progress, when set, receives per-file upload progress.
	Progress ProgressFunc
}

// Hub is a store of model and dataset repos (the type is in [RepoID]) with immutable commits: the Hugging Face Hub,
// or a local stand-in. Every implementation passes the hf/hubtest suite.
type Hub interface {
	// ModelInfo reports the repo at revision (branch or commit; empty means
	// "main") with the size of every file.
	ModelInfo(ctx context.Context, repo RepoID, revision string) (*ModelInfo, error)
	// Download fetches files (nil: all) of repo at commit into the Hugging Face
	// cache layout under cacheDir and returns the snapshot folder
	// cacheDir/models--ns--name/snapshots/<commit> (datasets--ns--name for a
	// dataset repo). Unsafe file names and
	// oversize repos are refused before anything is written, and a partial
	// file never appears inside the snapshot folder.
	Download(ctx context.Context, repo RepoID, commit string, files []string, cacheDir string, opts DownloadOptions) (string, error)
	// CreateRepo creates an empty repo; ErrRepoExists if it already exists.
	CreateRepo(ctx context.Context, repo RepoID, private bool) error
	// SetVisibility makes the repo private or public.
	SetVisibility(ctx context.Context, repo RepoID, private bool) error
	// Upload writes files as one commit on top of the branch and returns the
	// new commit sha (40 hex). Files not named keep their previous content.
	Upload(ctx context.Context, repo RepoID, files []UploadFile, message string, opts UploadOptions) (string, error)
}

// PlanDownload checks info against opts and returns the files of info to
// fetch for the requested names (nil: all). It refuses, before anything is
// written, a repo with any unsafe file name ([ErrUnsafePath]), with total size
// above opts.MaxTotalSize ([ErrTooLarge]), or a requested name that is absent
// unless opts.SkipMissing ([ErrEntryNotFound]). Backends call it first thing
// in Download.
func PlanDownload(info *ModelInfo, files []string, opts DownloadOptions) ([]FileInfo, error) {
	var total int64
	seen := make(map[string]bool, len(info.Files))
	for _, f := range info.Files {
		if err := ValidateFilePath(f.Path); err != nil {
			return nil, fmt.Errorf("plan download of %q: %w", info.ID.String(), err)
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("plan download of %q: file %q has negative size: %w", info.ID.String(), f.Path, ErrIntegrity)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("plan download of %q: file %q listed twice: %w", info.ID.String(), f.Path, ErrUnsafePath)
		}
		seen[f.Path] = true
		total += f.Size
		if total < 0 {
			total = 1<<63 - 1
		}
	}
	for p := range seen {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if seen[d] {
				return nil, fmt.Errorf("plan download of %q: %q is both a file and a folder: %w", info.ID.String(), d, ErrUnsafePath)
			}
		}
	}
	if opts.MaxTotalSize > 0 && total > opts.MaxTotalSize {
		return nil, fmt.Errorf("plan download of %q: %d bytes > limit %d: %w", info.ID.String(), total, opts.MaxTotalSize, ErrTooLarge)
	}
	if files == nil {
		return append([]FileInfo(nil), info.Files...), nil
	}
	var out []FileInfo
	picked := map[string]bool{}
	for _, name := range files {
		if picked[name] {
			continue
		}
		picked[name] = true
		f, ok := info.File(name)
		if !ok {
			if opts.SkipMissing {
				continue
			}
			return nil, fmt.Errorf("plan download of %q: %q: %w", info.ID.String(), name, ErrEntryNotFound)
		}
		out = append(out, f)
	}
	return out, nil
}
