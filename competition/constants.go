package competition

// Defaults of the reference validator that the competition rules use. eval
// re-exports them under the same names.
const (
	// NUIDs is the size of the subnet weight vector (SUBNET_N_UIDS).
	NUIDs = 256
	// BlocksPerEpoch is tempo 360 + 1; block ages are converted to epochs with it.
	BlocksPerEpoch = 361
	// MaxModelSize is the model_size fallback: 15 GiB.
	MaxModelSize = 15 << 30

	// RewardsDecayFactor is the per-epoch decay of hall-of-fame rewards.
	RewardsDecayFactor = 0.995
	// RewardsIVFactor is 1/(1−RewardsDecayFactor): initial HoF weight = reward/200.
	RewardsIVFactor = 200.0

	// WeightSkewFactor is the default exponent turning win rate into weight.
	WeightSkewFactor = 1.2
	// DefaultMaxSequenceLen is max_sequence_len on the competition-tokenizer path.
	DefaultMaxSequenceLen = 4096
	// DefaultCapSampleLen is cap_sample_len on the competition-tokenizer path.
	DefaultCapSampleLen = 20480
	// DefaultMaxTokenizeFails is the default max_tokenize_fails.
	DefaultMaxTokenizeFails = 3
	// DefaultPoolSize and DefaultPendSize are per-competition pool and pending sizes.
	DefaultPoolSize = 7
	DefaultPendSize = 3
	// DefaultAdvantageInitial and DefaultAdvantageDecay are the time advantage defaults.
	DefaultAdvantageInitial = 0.004
	DefaultAdvantageDecay   = 0.995
)
