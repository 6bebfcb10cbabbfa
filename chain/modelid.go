package chain

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of the model-id commitment format (docs/hashing.md#commitment-format).
const (
	// MaxCommitmentLen is the largest Raw commitment field the chain accepts.
	MaxCommitmentLen = 128
	// MaxRepoIDLen is the longest Hugging Face repo id "namespace/name" allowed.
	MaxRepoIDLen = 41
	// CommitLen is the length of an HF git commit sha (hex).
	CommitLen = 40
	// HashLen is the length of the base64 salted content hash.
	HashLen = 44
)

// ModelID is the model metadata a miner commits: the compressed string
// "namespace:name:commit:hash:competition".
type ModelID struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Commit      string `json:"commit"`
	Hash        string `json:"hash"`
	Competition string `json:"competition"`
}

// String returns the compressed form "ns:name:commit:hash:competition".
func (m ModelID) String() string {
	return strings.Join([]string{m.Namespace, m.Name, m.Commit, m.Hash, m.Competition}, ":")
}

// RepoID returns the Hugging Face repo id "namespace/name".
func (m ModelID) RepoID() string { return m.Namespace + "/" + m.Name }

// Label returns the display label "ns/name|cccc" (first 4 characters of the commit).
func (m ModelID) Label() string {
	c := m.Commit
	if len(c) > 4 {
		c = c[:4]
	}
	return m.RepoID() + "|" + c
}

// FullLabel returns "ns/name|<full commit>", the dedup key of commitments.
func (m ModelID) FullLabel() string { return m.RepoID() + "|" + m.Commit }

// ParseModelID parses a compressed model id. It needs exactly five
// non-empty ':'-separated fields of valid UTF-8 and at most 128 bytes;
// failures wrap ErrMalformedCommitment.
func ParseModelID(s string) (ModelID, error) {
	if len(s) > MaxCommitmentLen {
		return ModelID{}, fmt.Errorf("parse model id: %d bytes, over %d: %w", len(s), MaxCommitmentLen, ErrMalformedCommitment)
	}
	if !utf8.ValidString(s) {
		return ModelID{}, fmt.Errorf("parse model id %q: invalid UTF-8: %w", s, ErrMalformedCommitment)
	}
	if strings.HasPrefix(s, "audit:") {
		return ModelID{}, fmt.Errorf("parse model id %q: a validator's evaluation commitment, not a model id: %w", s, ErrMalformedCommitment)
	}
	t := strings.Split(s, ":")
	if len(t) != 5 {
		return ModelID{}, fmt.Errorf("parse model id %q: %d fields, want 5 (ns:name:commit:hash:competition): %w", s, len(t), ErrMalformedCommitment)
	}
	names := [5]string{"namespace", "name", "commit", "hash", "competition"}
	for i, f := range t {
		if f == "" {
			return ModelID{}, fmt.Errorf("parse model id %q: empty %s: %w", s, names[i], ErrMalformedCommitment)
		}
	}
	return ModelID{Namespace: t[0], Name: t[1], Commit: t[2], Hash: t[3], Competition: t[4]}, nil
}

// Validate checks the stricter rules a miner must meet before committing:
// every field present without ':' or '/', the repo id rule (3 < len ≤ 41,
// exactly one '/'), and a compressed form of at most 128 bytes. Failures
// wrap ErrMalformedCommitment.
func (m ModelID) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"namespace", m.Namespace}, {"name", m.Name}, {"commit", m.Commit}, {"hash", m.Hash}, {"competition", m.Competition},
	} {
		if f.v == "" {
			return fmt.Errorf("validate model id: empty %s: %w", f.name, ErrMalformedCommitment)
		}
		if strings.ContainsRune(f.v, ':') {
			return fmt.Errorf("validate model id: %s %q contains ':': %w", f.name, f.v, ErrMalformedCommitment)
		}
	}
	if err := ValidateRepoID(m.RepoID()); err != nil {
		return err
	}
	if n := len(m.String()); n > MaxCommitmentLen {
		return fmt.Errorf("validate model id: compressed form is %d bytes, over %d: %w", n, MaxCommitmentLen, ErrMalformedCommitment)
	}
	return nil
}

// ValidateRepoID checks a Hugging Face repo id as the validator does: longer
// than 3 and at most 41 characters, with exactly one '/'.
func ValidateRepoID(id string) error {
	if n := len(id); n <= 3 || n > MaxRepoIDLen {
		return fmt.Errorf("validate repo id %q: must be between 3 and %d characters: %w", id, MaxRepoIDLen, ErrMalformedCommitment)
	}
	if strings.Count(id, "/") != 1 {
		return fmt.Errorf("validate repo id %q: must be in the format <org or user name>/<repo_name>: %w", id, ErrMalformedCommitment)
	}
	return nil
}
