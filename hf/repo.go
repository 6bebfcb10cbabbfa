package hf

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// MaxRepoIDLength is the longest repo id ("namespace/name", slash included)
// that fits a chain commitment (docs/hashing.md#commitment-format: 128 − 40 − 44 − 3).
const MaxRepoIDLength = 41

// ErrInvalidRepoID reports a repo id that is not "namespace/name" within the
// length and character rules.
var ErrInvalidRepoID = errors.New("invalid repo id")

// ErrInvalidRevision reports a revision (branch, tag or commit) that cannot be
// used in a URL or a cache path.
var ErrInvalidRevision = errors.New("invalid revision")

// RepoType is the kind of a Hub repo. The zero value is a model repo, so a
// RepoID written without a type names a model as it always did.
type RepoType uint8

// The repo types coldint reads and writes.
const (
	ModelRepo   RepoType = iota // a model repo: URLs /{ns}/{name}, /api/models/...
	DatasetRepo                 // a dataset repo: URLs /datasets/{ns}/{name}, /api/datasets/...
)

// String returns "model" or "dataset", the "type" the Hub's create call takes.
func (t RepoType) String() string {
	if t == DatasetRepo {
		return "dataset"
	}
	return "model"
}

// Plural returns "models" or "datasets": the word in API paths
// (/api/datasets/...) and cache folder names (datasets--ns--name).
func (t RepoType) Plural() string { return t.String() + "s" }

// URLPrefix returns the prefix of the repo in Hub URLs: "" for a model,
// "datasets/" for a dataset.
func (t RepoType) URLPrefix() string {
	if t == DatasetRepo {
		return "datasets/"
	}
	return ""
}

// ParseRepoType reads "model" or "dataset" (also the plural forms); the empty
// string means model.
func ParseRepoType(s string) (RepoType, error) {
	switch s {
	case "", "model", "models":
		return ModelRepo, nil
	case "dataset", "datasets":
		return DatasetRepo, nil
	}
	return ModelRepo, fmt.Errorf("parse repo type %q: must be model or dataset: %w", s, ErrInvalidRepoID)
}

// RepoID names a Hub repository: Namespace is the user or organisation, Name
// the repository within it, and Type says whether it holds a model (the zero
// value) or a dataset.
type RepoID struct {
	Namespace string
	Name      string
	Type      RepoType
}

// String returns "namespace/name" for a model and "datasets/namespace/name"
// for a dataset, the forms [ParseRepo] reads back.
func (r RepoID) String() string { return r.Type.URLPrefix() + r.Bare() }

// Bare returns "namespace/name" whatever the type (huggingface_hub's repo_id).
func (r RepoID) Bare() string { return r.Namespace + "/" + r.Name }

// IsZero reports whether r is the zero RepoID.
func (r RepoID) IsZero() bool { return r.Namespace == "" && r.Name == "" }

// CacheDirName returns the folder name of the repo in the Hugging Face cache
// layout: "models--namespace--name" or "datasets--namespace--name".
func (r RepoID) CacheDirName() string {
	return r.Type.Plural() + "--" + r.Namespace + "--" + r.Name
}

// MarshalText implements encoding.TextMarshaler.
func (r RepoID) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseRepo], so
// "datasets/namespace/name" reads back as a dataset.
func (r *RepoID) UnmarshalText(b []byte) error {
	id, err := ParseRepo(string(b))
	if err != nil {
		return err
	}
	*r = id
	return nil
}

// ParseRepoID parses a model repo id "namespace/name" with the rules of
// docs/hashing.md#commitment-format: exactly
// one "/", longer than 3 and at most [MaxRepoIDLength] characters. Each part
// must also follow the Hub's naming rules (letters, digits, "-", "_", ".";
// no leading or trailing "-" or "."; no "--" or ".."), which keeps the id
// safe to use in URLs and cache folder names.
func ParseRepoID(s string) (RepoID, error) {
	if n := utf8.RuneCountInString(s); n <= 3 || n > MaxRepoIDLength {
		return RepoID{}, fmt.Errorf("parse repo id %q: must be between 3 and %d characters: %w", s, MaxRepoIDLength, ErrInvalidRepoID)
	}
	return parseParts(s, s)
}

// MaxRepoNameLength is the longest namespace or name the Hub accepts in a
// dataset repo id (a model id is bounded by [MaxRepoIDLength] instead).
const MaxRepoNameLength = 96

// ParseRepo parses a repo id with its type, as the Hub's URLs write it:
// "namespace/name" or "models/namespace/name" is a model (checked by
// [ParseRepoID]); "datasets/namespace/name" is a dataset, whose namespace and
// name may each be up to [MaxRepoNameLength] characters.
func ParseRepo(s string) (RepoID, error) {
	t, rest, _ := cutType(s)
	return parseTyped(s, rest, t)
}

// ParseTypedRepo parses "namespace/name" as a repo of type t (what
// huggingface_hub's repo_type argument does); a "datasets/" or "models/"
// prefix is accepted when it agrees with t.
func ParseTypedRepo(s string, t RepoType) (RepoID, error) {
	pt, rest, prefixed := cutType(s)
	if prefixed && pt != t {
		return RepoID{}, fmt.Errorf("parse repo id %q: names a %s, not a %s: %w", s, pt, t, ErrInvalidRepoID)
	}
	return parseTyped(s, rest, t)
}

// cutType splits a "datasets/" or "models/" prefix off a three-part id.
func cutType(s string) (RepoType, string, bool) {
	if strings.Count(s, "/") == 2 {
		if rest, ok := strings.CutPrefix(s, "datasets/"); ok {
			return DatasetRepo, rest, true
		}
		if rest, ok := strings.CutPrefix(s, "models/"); ok {
			return ModelRepo, rest, true
		}
	}
	return ModelRepo, s, false
}

func parseTyped(s, rest string, t RepoType) (RepoID, error) {
	if t == ModelRepo {
		id, err := ParseRepoID(rest)
		if err != nil && rest != s {
			return RepoID{}, fmt.Errorf("parse repo id %q: %w", s, err)
		}
		return id, err
	}
	id, err := parseParts(s, rest)
	if err != nil {
		return RepoID{}, err
	}
	if utf8.RuneCountInString(id.Namespace) > MaxRepoNameLength || utf8.RuneCountInString(id.Name) > MaxRepoNameLength {
		return RepoID{}, fmt.Errorf("parse repo id %q: namespace and name must be at most %d characters each: %w", s, MaxRepoNameLength, ErrInvalidRepoID)
	}
	id.Type = t
	return id, nil
}

// parseParts splits "ns/name" (rest, taken from the id s) and checks both parts.
func parseParts(s, rest string) (RepoID, error) {
	ns, name, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(name, "/") || ns == "" || name == "" {
		return RepoID{}, fmt.Errorf("parse repo id %q: must be in the format <org or user name>/<repo_name>: %w", s, ErrInvalidRepoID)
	}
	for _, part := range []string{ns, name} {
		if err := checkRepoPart(part); err != nil {
			return RepoID{}, fmt.Errorf("parse repo id %q: %s: %w", s, err, ErrInvalidRepoID)
		}
	}
	return RepoID{Namespace: ns, Name: name}, nil
}

func checkRepoPart(p string) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("character %q not allowed (letters, digits, '-', '_', '.')", rune(c))
		}
	}
	if strings.HasPrefix(p, "-") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, "-") || strings.HasSuffix(p, ".") {
		return fmt.Errorf("part %q must not start or end with '-' or '.'", p)
	}
	if strings.Contains(p, "--") || strings.Contains(p, "..") {
		return fmt.Errorf("part %q must not contain '--' or '..'", p)
	}
	return nil
}

// DefaultRevision is the branch used when no revision is given.
const DefaultRevision = "main"

// IsCommitSHA reports whether s is a full git commit sha: 40 lowercase hex digits.
func IsCommitSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidateRevision checks that rev is usable as a branch, tag or commit name:
// not empty, at most 255 bytes, no control characters, spaces, backslashes,
// "..", or leading/trailing "/".
func ValidateRevision(rev string) error {
	bad := rev == "" || len(rev) > 255 || strings.Contains(rev, "..") ||
		strings.HasPrefix(rev, "/") || strings.HasSuffix(rev, "/") || strings.Contains(rev, "//")
	for _, c := range rev {
		if c < 0x21 || c == 0x7f || c == '\\' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("check revision %q: %w", rev, ErrInvalidRevision)
	}
	return nil
}

// ErrUnsafePath reports a file name in a repo that would escape the snapshot
// folder (absolute, "..", empty segments) or that is otherwise unusable as a
// local path.
var ErrUnsafePath = errors.New("unsafe file path")

// ValidateFilePath checks a repo file name ("dir/file.ext", slash separated)
// before it is joined to a local folder. It refuses absolute paths, ".." and
// "." segments, empty segments, backslashes, NUL and other control characters,
// and the ".git" folder.
func ValidateFilePath(p string) error {
	fail := func(why string) error {
		return fmt.Errorf("check file path %q: %s: %w", p, why, ErrUnsafePath)
	}
	switch {
	case p == "":
		return fail("empty")
	case len(p) > 1024:
		return fail("longer than 1024 bytes")
	case !utf8.ValidString(p):
		return fail("not UTF-8")
	case strings.HasPrefix(p, "/"):
		return fail("absolute")
	case strings.ContainsRune(p, '\\'):
		return fail("backslash")
	case len(p) >= 2 && p[1] == ':':
		return fail("drive letter")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return fail("control character")
		}
	}
	if path.Clean(p) != p {
		return fail("not in clean form")
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".", "..":
			return fail("bad segment")
		case ".git":
			return fail("git folder")
		}
	}
	return nil
}
