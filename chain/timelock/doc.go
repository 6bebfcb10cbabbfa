// Package timelock builds timelocked weight commits (commit-reveal version 4
// of the subtensor chain): the weights payload is encrypted to a future round
// of the drand quicknet beacon, and the chain decrypts it by itself once that
// round's signature is published.
//
// The ciphertext is the byte format of the Rust `tle` crate (ideal-lab5,
// used by subtensor and bittensor-drand): Boneh-Franklin identity-based
// encryption over BLS12-381, where the identity is sha256 of the round number
// (big-endian u64), hashed to G1 as drand quicknet signs it, and the beacon
// public key is on G2. The IBE layer hides a random 32-byte key; the payload
// itself is sealed with AES-256-GCM under that key. Everything is laid out
// as arkworks' compressed serialization: points in the zcash compressed form,
// byte vectors as a u64 little-endian length followed by the bytes.
//
// This is not drand's own tlock format (age framing, different hashes); the
// two do not interoperate.
//
// The package also computes the reveal round as the reference SDK does
// ([RevealRound]), encodes the payload the chain decodes ([Payload]) and the
// arguments of SubtensorModule.commit_timelocked_weights ([CallArgs]).
package timelock
