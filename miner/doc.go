// Package miner runs a miner's work as steps that a command calls, each
// from plain options:
//
//   - training a model from its start (a model folder, the competition's
//     current best, or the run's last checkpoint), alone or as one rank of a
//     data-parallel group on this machine or under torchrun;
//   - the pre-check of a trained model: the competition's admission rules,
//     the losses of the model and of the current best on fresh samples, each
//     tokenized as a validator would, and the expected win rate under the
//     validators' rule (time advantage of the older commitment);
//   - publishing: an upload copy in another dtype when asked, the hotkey's
//     registration, then the resumable upload and commitment.
//
// The building blocks live elsewhere, one owner each: the training loop in
// train, the choice of the current best in train/best, the admission and
// sample tokenisation in train/precheck (the rules themselves in
// competition), the upload steps in train/publish. This package joins them
// to the engine (model), the chain and the hub. It parses no flags and
// prints nothing; it logs with log/slog.
package miner
