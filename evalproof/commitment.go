package evalproof

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CommitmentPrefix starts a validator's evaluation commitment
// "audit:<step root hex>:<step>" (at most 92 bytes, within the chain's 128
// byte field). It has three ':'-separated fields, so it never parses as a
// miner's five-field model id.
const CommitmentPrefix = "audit:"

// ErrNotAudit means a commitment is not an evaluation commitment.
var ErrNotAudit = errors.New("not an evaluation commitment")

// FormatCommitment is the chain commitment of a step root.
func FormatCommitment(root string, step uint64) string {
	return CommitmentPrefix + root + ":" + strconv.FormatUint(step, 10)
}

// ParseCommitment reads "audit:<root>:<step>".
func ParseCommitment(s string) (root string, step uint64, err error) {
	rest, ok := strings.CutPrefix(s, CommitmentPrefix)
	if !ok {
		return "", 0, fmt.Errorf("parse commitment %q: %w", s, ErrNotAudit)
	}
	root, num, ok := strings.Cut(rest, ":")
	if !ok {
		return "", 0, fmt.Errorf("parse commitment %q: want audit:<root>:<step>: %w", s, ErrNotAudit)
	}
	if _, err := ParseHash(root); err != nil {
		return "", 0, fmt.Errorf("parse commitment %q: %v: %w", s, err, ErrNotAudit)
	}
	step, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("parse commitment %q: step %q is not a number: %w", s, num, ErrNotAudit)
	}
	return root, step, nil
}
