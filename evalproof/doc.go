// Package evalproof is the publication format of a validator step that anyone
// can re-check: per competition, the ids of the samples scored and the
// sha256 of each sample text, every model's per-sample loss, win rates and
// weights, bound together by one root hash.
//
// A published step is a folder (or the same files in a Hub dataset repo):
// manifest.json and one competition-<i>.json per competition. The leaves of
// each competition's Merkle tree are its samples, each with every model's
// loss on it, so a single sample can be proven against the root with an
// inclusion [Proof]. The step root hashes the manifest's header, the
// competition roots and a digest of each competition's model table, and is
// what the validator records in its chain commitment ([FormatCommitment]).
// The canonical encoding is described in docs/evalproof.md.
//
// [FromStep] builds a step from the validator's report, [WriteDir] and
// [Publisher] publish it, [ReadDir] and [Step.Verify] read and check it.
package evalproof
