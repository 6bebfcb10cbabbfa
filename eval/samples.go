package eval

import (
	"crypto/sha256"
	"encoding/hex"
)

// SampleRef identifies one evaluated sample so that anyone can fetch it
// again and check it: the task it belongs to, the dataset row it was read
// from and the SHA-256 of its text. A competition's losses (per model, in
// [CompetitionStep.Losses] and the step report's uid_data) are stored in
// the order of its SampleRefs ([CompetitionStep.Samples],
// [StepReport.Samples]).
type SampleRef struct {
	// Task is the evaluation task's name ("" for a competition without
	// tasks, which evaluates on the validator's own text source).
	Task string `json:"task"`
	// Dataset is the dataset repo (for a local source: the task's name or
	// "local").
	Dataset string `json:"dataset"`
	// Config and Split name the dataset split the row is in.
	Config string `json:"config"`
	Split  string `json:"split"`
	// Row is the row index within the split (page offset + position in the
	// page).
	Row int64 `json:"row"`
	// SHA256 is the hex SHA-256 of the sample text as the source returned
	// it (before any cut to cap_sample_len).
	SHA256 string `json:"sha256"`
}

// TextHash is the hex SHA-256 of a sample text, as [SampleRef.SHA256].
func TextHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// SyncRound is the sync block a competition's samples were drawn from
// (eval_seed block): its number and hex hash.
type SyncRound struct {
	Block uint64 `json:"block"`
	Hash  string `json:"hash"`
}
