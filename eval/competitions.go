package eval

import (
	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
)

// The competition rules live in package competition; these names keep the
// validator's code and its callers unchanged.
type (
	// Config is [competition.Config].
	Config = competition.Config
	// Competition is [competition.Competition].
	Competition = competition.Competition
	// Defaults is [competition.Defaults].
	Defaults = competition.Defaults
	// HallOfFame is [competition.HallOfFame].
	HallOfFame = competition.HallOfFame
	// HoFEntry is [competition.HoFEntry].
	HoFEntry = competition.HoFEntry
	// SampleTokenizer is [competition.SampleTokenizer].
	SampleTokenizer = competition.SampleTokenizer
	// TokenizeStats is [competition.TokenizeStats].
	TokenizeStats = competition.TokenizeStats
)

// Errors of package competition.
var (
	ErrInvalidConfig     = competition.ErrInvalidConfig
	ErrTokenizerRejected = competition.ErrTokenizerRejected
	ErrVocabMismatch     = competition.ErrVocabMismatch
)

// RequiredCompetitionKeys is [competition.RequiredCompetitionKeys].
var RequiredCompetitionKeys = competition.RequiredCompetitionKeys

// ParseCompetitions is [competition.Parse].
func ParseCompetitions(data []byte) (*Config, error) { return competition.Parse(data) }

// BuiltinDefaults is [competition.BuiltinDefaults].
func BuiltinDefaults() Defaults { return competition.BuiltinDefaults() }

// ParseHallOfFame is [competition.ParseHallOfFame].
func ParseHallOfFame(data []byte) (HallOfFame, error) { return competition.ParseHallOfFame(data) }

// HoFEntryWeight is [competition.HoFEntryWeight].
func HoFEntryWeight(e HoFEntry, currentBlock uint64) float64 {
	return competition.HoFEntryWeight(e, currentBlock)
}

// HoFWeights is [competition.HoFWeights].
func HoFWeights(hof HallOfFame, hotkeys []string, currentBlock uint64, maxFraction float64) (map[chain.UID]float64, float64) {
	return competition.HoFWeights(hof, hotkeys, currentBlock, maxFraction)
}

// CapSample is [competition.CapSample].
func CapSample(text string, cap int) (string, bool) { return competition.CapSample(text, cap) }

// TokenizeSamples is [competition.TokenizeSamples].
func TokenizeSamples(texts []string, tok SampleTokenizer, eos, maxLen, capLen, maxFails int) ([][]int, int, TokenizeStats, error) {
	return competition.TokenizeSamples(texts, tok, eos, maxLen, capLen, maxFails)
}

// CheckVocab is [competition.CheckVocab].
func CheckVocab(maxID, embeddingRows int) error { return competition.CheckVocab(maxID, embeddingRows) }
