package evalproof

import (
	"encoding/json"

	"github.com/coldint/coldint/eval"
)

// FormatVersion names this publication format; it starts every canonical
// encoding and is the "format" of every file.
const FormatVersion = "coldint-evalproof/1"

// File names inside a step folder.
const (
	ManifestFile = "manifest.json"
	// LatestFile, next to the step folders, names the newest step.
	LatestFile = "latest.json"
)

// SampleRef identifies one evaluation sample: where its text comes from and
// the sha256 (hex) of the text as the validator scored it, before capping.
type SampleRef struct {
	// Task is the evaluation task ("" for a competition without tasks).
	Task    string `json:"task"`
	Dataset string `json:"dataset"`
	Config  string `json:"config"`
	Split   string `json:"split"`
	// Row is the row index within the split.
	Row        int64  `json:"row"`
	TextSHA256 string `json:"text_sha256"`
}

// Model is one model of a competition step: who committed what, how it
// fared, and its loss on every sample (nil when it has no results).
type Model struct {
	UID    uint16 `json:"uid"`
	Hotkey string `json:"hotkey"`
	// Repo, Commit and Hash are the committed model id (empty for a local
	// benchmark model, which cannot be audited).
	Repo   string `json:"repo,omitempty"`
	Commit string `json:"commit,omitempty"`
	Hash   string `json:"hash,omitempty"`
	// Block is the commitment block.
	Block   uint64  `json:"block"`
	Status  string  `json:"status"`
	WinRate float64 `json:"win_rate"`
	Weight  float64 `json:"weight"`
	// Losses are the summed per-sample losses, in sample order; "inf" and
	// "nan" spell the non-finite ones.
	Losses []eval.JSONFloat `json:"losses"`
}

// Competition is one competition of a step: the file competition-<i>.json.
type Competition struct {
	Format string `json:"format"`
	Step   uint64 `json:"step"`
	Name   string `json:"name"`
	// Params are the competition's merged parameters from competitions.json
	// (tokenizer, sequence limits, …), which a re-evaluation needs.
	Params  json.RawMessage `json:"params,omitempty"`
	Samples []SampleRef     `json:"samples"`
	Models  []Model         `json:"models"`
}

// CompetitionRef is a competition's line in the manifest.
type CompetitionRef struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Root is the Merkle root over the samples (hex).
	Root string `json:"root"`
	// ModelsDigest is the sha256 (hex) of the canonical model table.
	ModelsDigest string `json:"models_digest"`
	Samples      int    `json:"samples"`
	Models       int    `json:"models"`
}

// UIDWeight is one entry of the validator's weight vector.
type UIDWeight struct {
	UID    uint16  `json:"uid"`
	Weight float64 `json:"weight"`
}

// Link names the previous published step, so the root committed last also
// binds the earlier steps.
type Link struct {
	Step uint64 `json:"step"`
	Root string `json:"root"`
}

// Manifest is manifest.json: the step header, the competitions and the
// step root.
type Manifest struct {
	Format    string  `json:"format"`
	Step      uint64  `json:"step"`
	Block     uint64  `json:"block"`
	Timestamp float64 `json:"timestamp"`
	// Validator is the validator's hotkey (SS58; "" when offline).
	Validator    string           `json:"validator"`
	Netuid       uint16           `json:"netuid"`
	Prev         *Link            `json:"prev,omitempty"`
	Weights      []UIDWeight      `json:"weights"`
	Competitions []CompetitionRef `json:"competitions"`
	// Root is the step root (hex): see [StepRoot].
	Root string `json:"root"`
}

// Step is a whole published step.
type Step struct {
	Manifest     Manifest
	Competitions []Competition
}
