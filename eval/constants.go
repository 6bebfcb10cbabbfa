package eval

import (
	"time"

	"github.com/coldint/coldint/competition"
)

// Constants of the reference validator (docs/validator.md#constants-and-defaults). Values are those of v1.0.16;
// v1.0.17 differences are noted.
const (
	// SpecVersion is the state version of v1.0.16 (1000·major + 100·minor + patch).
	SpecVersion = 1016
	// NUIDs is the size of the subnet weight vector (SUBNET_N_UIDS).
	NUIDs = competition.NUIDs
	// BlocksPerEpoch is tempo 360 + 1; block ages are converted to epochs with it.
	BlocksPerEpoch = competition.BlocksPerEpoch
	// MaxModelSize is the model_size fallback: 15 GiB.
	MaxModelSize = competition.MaxModelSize

	// RewardsMaxFraction caps the summed hall-of-fame weight (1.0 in v1.0.17).
	RewardsMaxFraction = 0.4
	// RewardsMaxFractionV1017 is the v1.0.17 wind-down cap (--hof-only).
	RewardsMaxFractionV1017 = 1.0
	// RewardsDecayFactor is the per-epoch decay of hall-of-fame rewards.
	RewardsDecayFactor = competition.RewardsDecayFactor
	// RewardsIVFactor is 1/(1−RewardsDecayFactor): initial HoF weight = reward/200.
	RewardsIVFactor = competition.RewardsIVFactor

	// WeightSkewFactor is the default exponent turning win rate into weight.
	WeightSkewFactor = competition.WeightSkewFactor
	// TopMinerFraction: a miner is "top" if a top validator gives it more than
	// this fraction of its positive weight.
	TopMinerFraction = 0.05
	// MaxValidatorAgeBlocks: validators whose last weight update is older are
	// ignored for top-miner detection.
	MaxValidatorAgeBlocks = 1200

	// DefaultMaxSequenceLen is max_sequence_len on the competition-tokenizer path.
	DefaultMaxSequenceLen = competition.DefaultMaxSequenceLen
	// DefaultCapSampleLen is cap_sample_len on the competition-tokenizer path.
	DefaultCapSampleLen = competition.DefaultCapSampleLen
	// DefaultMaxTokenizeFails is the default max_tokenize_fails.
	DefaultMaxTokenizeFails = competition.DefaultMaxTokenizeFails
	// DefaultPoolSize and DefaultPendSize are per-competition pool and pending sizes.
	DefaultPoolSize = competition.DefaultPoolSize
	DefaultPendSize = competition.DefaultPendSize
	// DefaultAdvantageInitial and DefaultAdvantageDecay are the time advantage defaults.
	DefaultAdvantageInitial = competition.DefaultAdvantageInitial
	DefaultAdvantageDecay   = competition.DefaultAdvantageDecay
	// WeightAlpha is the EMA factor on the final weight vector.
	WeightAlpha = 0.5
	// WeightSetMinSum: weights are not set when their sum is below this.
	WeightSetMinSum = 1e-5

	// SampleCheckFraction and SampleCheckMaxN bound the re-verification of cached losses.
	SampleCheckFraction = 0.02
	SampleCheckMaxN     = 10
	// CacheRelTolerance is the relative difference (0.1 %) at which a cached loss
	// is considered wrong and the model's cache row is reset.
	CacheRelTolerance = 0.001

	// ModelRetryMaxNPerLoop is the most UIDs revisited per chain update.
	ModelRetryMaxNPerLoop = 10

	// HOFURL and CompetitionsURL are the reference config locations.
	HOFURL          = "https://github.com/coldint/sn29/raw/main/hall_of_fame.json"
	CompetitionsURL = "https://github.com/coldint/sn29/raw/main/competitions.json"
)

// Durations of the reference validator (docs/validator.md#constants-and-defaults).
const (
	CfgFetchInterval        = 900 * time.Second
	ChainUpdateInterval     = 960 * time.Second
	TTLRunStep              = 7200 * time.Second
	TTLModelEval            = 900 * time.Second
	TTLDownloadModels       = 3600 * time.Second
	TopModelRetryInterval   = 24 * time.Hour
	GenModelRetryInterval   = 48 * time.Hour
	WeightSetMinInterval    = 25 * time.Minute
	WeightSetMinIntervalV17 = 35 * time.Minute
)
