// Package chain holds the domain types of the Bittensor chain as coldint sees
// it (hotkeys, neurons, metagraphs, commitments, weights, block numbers), the
// small role interfaces that every chain backend implements (Reader,
// Committer, WeightSetter, Registrar, Signer), the sentinel errors that
// backends wrap, and pure helpers: SS58 addresses, the SDK's u16 weight
// normalisation, the commit-reveal hash and the model-id commitment format.
//
// The package imports no network or codec library. The network backend lives
// in chain/substrate, the embedded local chain in chain/devchain.
package chain
