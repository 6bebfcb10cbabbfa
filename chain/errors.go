package chain

import "errors"

// Sentinel errors. Backends wrap them (test with errors.Is), so callers can
// react the same way to the embedded chain and to subtensor.
var (
	// ErrRateLimited: the action was done too recently (commitment, weights,
	// registration or serving rate limit).
	ErrRateLimited = errors.New("rate limited")
	// ErrNotRegistered: the hotkey has no uid on the subnet.
	ErrNotRegistered = errors.New("hotkey not registered on subnet")
	// ErrAlreadyRegistered: the hotkey already has a uid on the subnet.
	ErrAlreadyRegistered = errors.New("hotkey already registered on subnet")
	// ErrBadVersionKey: the weights version key is below the subnet's WeightsVersionKey.
	ErrBadVersionKey = errors.New("weights version key too low")
	// ErrUnknownNetuid: the subnet does not exist.
	ErrUnknownNetuid = errors.New("unknown netuid")
	// ErrNotFound: the item (commitment, neuron, weights row, block) is absent.
	ErrNotFound = errors.New("not found")
	// ErrMalformedCommitment: commitment data is not a valid model id.
	ErrMalformedCommitment = errors.New("malformed commitment")
	// ErrInvalidWeights: weights are inconsistent (lengths, duplicates, uids out of range, too few).
	ErrInvalidWeights = errors.New("invalid weights")
	// ErrNoPermit: the hotkey lacks the validator permit or the stake to set weights.
	ErrNoPermit = errors.New("no validator permit or stake too low")
	// ErrCommitRevealEnabled: the subnet requires commit-reveal instead of set_weights.
	ErrCommitRevealEnabled = errors.New("commit-reveal enabled on subnet")
	// ErrCommitReveal: a commit/reveal step was refused (no commit, too early, expired, mismatch).
	ErrCommitReveal = errors.New("commit-reveal refused")
	// ErrInsufficientBalance: the signer cannot pay a fee, burn or deposit.
	ErrInsufficientBalance = errors.New("insufficient balance")
	// ErrBadOrigin: the signer is not allowed to make the call (e.g. not sudo).
	ErrBadOrigin = errors.New("bad origin")
	// ErrTooLarge: data exceeds a chain limit (e.g. a commitment over 128 bytes).
	ErrTooLarge = errors.New("too large")
	// ErrTxRejected: the transaction pool refused the extrinsic (bad proof, stale nonce, ...).
	ErrTxRejected = errors.New("transaction rejected")
	// ErrDispatchFailed: the extrinsic was included but its dispatch failed for another reason.
	ErrDispatchFailed = errors.New("dispatch failed")
	// ErrNoSigner: a write was attempted on a backend without a signer.
	ErrNoSigner = errors.New("no signer configured")
)

// ModuleError is a dispatch error named by the runtime (pallet and error
// variant), such as Commitments.CommitmentSetRateLimitExceeded. Is reports the
// sentinel it maps to, if any.
type ModuleError struct {
	Pallet string // pallet name, e.g. "SubtensorModule"
	Name   string // error variant, e.g. "NotEnoughBalanceToStake"
	Docs   string // first doc line from metadata, may be empty
	Kind   error  // sentinel it maps to, or nil
}

// Error formats the error as "pallet.Name: docs".
func (e *ModuleError) Error() string {
	s := e.Pallet + "." + e.Name
	if e.Docs != "" {
		s += ": " + e.Docs
	}
	if e.Kind != nil {
		s += " (" + e.Kind.Error() + ")"
	}
	return s
}

// Unwrap returns the sentinel the error maps to.
func (e *ModuleError) Unwrap() error { return e.Kind }

// moduleKinds maps dispatch error names of subtensor's pallets (spec 218 and
// later) to sentinels. Names are unique enough across pallets to key by name.
var moduleKinds = map[string]error{
	"CommitmentSetRateLimitExceeded":       ErrRateLimited,
	"SpaceLimitExceeded":                   ErrRateLimited,
	"SettingWeightsTooFast":                ErrRateLimited,
	"TooManyRegistrationsThisBlock":        ErrRateLimited,
	"TooManyRegistrationsThisInterval":     ErrRateLimited,
	"NetworkTxRateLimitExceeded":           ErrRateLimited,
	"ServingRateLimitExceeded":             ErrRateLimited,
	"TxRateLimitExceeded":                  ErrRateLimited,
	"DelegateTxRateLimitExceeded":          ErrRateLimited,
	"CommittingWeightsTooFast":             ErrRateLimited,
	"AccountNotAllowedCommit":              ErrNotRegistered,
	"HotKeyNotRegisteredInSubNet":          ErrNotRegistered,
	"HotKeyNotRegisteredInNetwork":         ErrNotRegistered,
	"HotKeyAccountNotExists":               ErrNotRegistered,
	"NotRegistered":                        ErrNotRegistered,
	"HotKeyAlreadyRegisteredInSubNet":      ErrAlreadyRegistered,
	"IncorrectWeightVersionKey":            ErrBadVersionKey,
	"SubNetworkDoesNotExist":               ErrUnknownNetuid,
	"SubnetNotExists":                      ErrUnknownNetuid,
	"MechanismDoesNotExist":                ErrUnknownNetuid,
	"WeightVecNotEqualSize":                ErrInvalidWeights,
	"DuplicateUids":                        ErrInvalidWeights,
	"UidVecContainInvalidOne":              ErrInvalidWeights,
	"WeightVecLengthIsLow":                 ErrInvalidWeights,
	"UidsLengthExceedUidsInSubNet":         ErrInvalidWeights,
	"MaxWeightExceeded":                    ErrInvalidWeights,
	"InputLengthsUnequal":                  ErrInvalidWeights,
	"NeuronNoValidatorPermit":              ErrNoPermit,
	"NotEnoughStakeToSetWeights":           ErrNoPermit,
	"CommitRevealEnabled":                  ErrCommitRevealEnabled,
	"CommitRevealDisabled":                 ErrCommitReveal,
	"NoWeightsCommitFound":                 ErrCommitReveal,
	"InvalidRevealCommitHashNotMatch":      ErrCommitReveal,
	"RevealTooEarly":                       ErrCommitReveal,
	"ExpiredWeightCommit":                  ErrCommitReveal,
	"TooManyUnrevealedCommits":             ErrCommitReveal,
	"NotEnoughBalanceToStake":              ErrInsufficientBalance,
	"NotEnoughBalance":                     ErrInsufficientBalance,
	"InsufficientBalance":                  ErrInsufficientBalance,
	"BalanceWithdrawalError":               ErrInsufficientBalance,
	"RequireSudo":                          ErrBadOrigin,
	"BadOrigin":                            ErrBadOrigin,
	"TooManyFieldsInCommitmentInfo":        ErrTooLarge,
	"RegistrationNotPermittedOnRootSubnet": ErrUnknownNetuid,
}

// KindOf returns the sentinel a runtime dispatch error name maps to, or nil.
func KindOf(errorName string) error { return moduleKinds[errorName] }
