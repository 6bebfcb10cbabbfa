// Package train is coldint's engine-neutral training loop for miners
// (docs/mining.md#training): a deterministic data pipeline over tokenized
// documents (sequence packing or one document per row, a held-out split, an
// epoch order drawn from a seed), the learning-rate schedule (linear warmup,
// cosine decay), periodic held-out evaluation, and checkpoints written
// atomically every N steps and on cancellation, from which a run resumes with
// the same loss curve as an uninterrupted one.
//
// The math of a step (causal-LM loss, backward, gradient clipping and
// accumulation, AdamW) lives behind the [Model] interface, implemented on
// libtorch by package model. The loop reports through [Hooks] and knows
// nothing about terminals. It is pure Go.
package train
