package chain

import (
	"context"
	"time"
)

// Reader reads chain state. Methods that read one item return an error
// wrapping ErrNotFound when it is absent and ErrUnknownNetuid when the subnet
// does not exist.
type Reader interface {
	// BlockNumber returns the current head (best) block number.
	BlockNumber(ctx context.Context) (BlockNumber, error)
	// Metagraph returns every neuron of the subnet at the head block.
	Metagraph(ctx context.Context, netuid NetUID) (*Metagraph, error)
	// Commitment returns what hotkey committed on netuid (ErrNotFound if nothing).
	Commitment(ctx context.Context, netuid NetUID, hotkey Hotkey) (Commitment, error)
	// Commitments returns every commitment on netuid, in no particular order.
	Commitments(ctx context.Context, netuid NetUID) ([]Commitment, error)
	// Weights returns the weight row set by uid on netuid (empty if none).
	Weights(ctx context.Context, netuid NetUID, uid UID) (Weights, error)
}

// BlockHashReader reads the hashes of final blocks: randomness that every
// validator sees alike and nobody knows before the block is made.
type BlockHashReader interface {
	// FinalizedBlock returns the newest finalised block number (the head
	// on a chain without forks).
	FinalizedBlock(ctx context.Context) (BlockNumber, error)
	// BlockHash returns the hash of block n of the canonical chain; an
	// error wrapping ErrNotFound when n is beyond the head.
	BlockHash(ctx context.Context, n uint64) ([32]byte, error)
}

// Committer publishes commitment data (a model id) for the signer's hotkey.
type Committer interface {
	// Commit publishes data on netuid and returns the block it was included in.
	// A second commit inside the chain's rate limit fails with ErrRateLimited.
	Commit(ctx context.Context, netuid NetUID, data string) (BlockNumber, error)
}

// WeightSetter sets weights for the signer's hotkey. Values are u16-scaled
// (see NormalizeWeights).
type WeightSetter interface {
	// SetWeights sets the signer's weight row and returns the inclusion block.
	SetWeights(ctx context.Context, netuid NetUID, uids []UID, values []uint16, versionKey uint64) (BlockNumber, error)
	// CommitWeights publishes a commit-reveal hash (see CommitHash).
	CommitWeights(ctx context.Context, netuid NetUID, hash [32]byte) (BlockNumber, error)
	// RevealWeights reveals weights committed earlier with the same salt and version key.
	RevealWeights(ctx context.Context, netuid NetUID, uids []UID, values, salt []uint16, versionKey uint64) (BlockNumber, error)
}

// Registrar registers hotkeys on subnets (burned registration, paid by the signer).
type Registrar interface {
	// Register registers hotkey on netuid and returns its uid.
	Register(ctx context.Context, netuid NetUID, hotkey Hotkey) (UID, error)
}

// Signer signs extrinsics. chain/keys implements it with sr25519.
type Signer interface {
	// AccountID returns the signer's public key as an account id.
	AccountID() AccountID
	// Sign signs msg (sr25519 with the "substrate" context); 64 bytes.
	Sign(msg []byte) ([]byte, error)
}

// Chain is a full backend: reads plus writes signed by one signer.
type Chain interface {
	Reader
	Committer
	WeightSetter
}

// WeightParams are the subnet settings that decide how and when a validator
// may put weights on chain, read at one head block.
type WeightParams struct {
	// Block is the head block the settings were read at.
	Block BlockNumber
	// Tempo is the epoch length in blocks.
	Tempo uint16
	// WeightsRateLimit is the least number of blocks between two weight
	// settings (or commits) of one uid.
	WeightsRateLimit uint64
	// CommitRevealEnabled makes set_weights fail: weights go through a commit
	// and a later reveal.
	CommitRevealEnabled bool
	// CommitRevealVersion is the runtime's commit-reveal version (4: the
	// timelocked variant); 0 when the runtime has no such setting (spec 218),
	// where only the hash variant exists.
	CommitRevealVersion uint16
	// RevealPeriodEpochs is the epoch distance between a hash commit and its
	// reveal (1 when the runtime has no such setting).
	RevealPeriodEpochs uint64
}

// WeightParamsReader reads a subnet's [WeightParams].
type WeightParamsReader interface {
	WeightParams(ctx context.Context, netuid NetUID) (WeightParams, error)
}

// TimelockedWeightSetter submits timelocked weight commits (commit-reveal
// version 4): commit is the ciphertext of chain/timelock, revealRound the
// beacon round it opens at; the chain reveals it by itself.
type TimelockedWeightSetter interface {
	CommitTimelockedWeights(ctx context.Context, netuid NetUID, commit []byte, revealRound uint64, version uint16) (BlockNumber, error)
}

// Epoch is subtensor's epoch index of block b on netuid:
// (b + netuid + 1) / (tempo + 1).
func Epoch(netuid NetUID, tempo uint16, b BlockNumber) uint64 {
	return (uint64(b) + uint64(netuid) + 1) / (uint64(tempo) + 1)
}

// RevealEpoch is the only epoch in which a hash commit made at block b can
// be revealed: Epoch(b) + RevealPeriodEpochs.
func (p WeightParams) RevealEpoch(netuid NetUID, b BlockNumber) uint64 {
	return Epoch(netuid, p.Tempo, b) + p.RevealPeriodEpochs
}

// BeaconInfo describes the drand beacon a chain decrypts timelocked weight
// commits with: its public key (a 96-byte compressed G2 point), the Unix
// time of round 1, the time between rounds, the signature scheme and the
// chain hash drand serves it under ("" for a beacon drand does not serve).
type BeaconInfo struct {
	PublicKey []byte        `json:"public_key"`
	Genesis   int64         `json:"genesis"`
	Period    time.Duration `json:"period"`
	Scheme    string        `json:"scheme"`
	Hash      string        `json:"hash,omitempty"`
}

// BeaconReader reads the beacon the chain follows (see [BeaconInfo]).
type BeaconReader interface {
	Beacon(ctx context.Context) (BeaconInfo, error)
}
