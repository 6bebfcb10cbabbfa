// Package eval is the coldint validator (subnet 29, reference behaviour
// v1.0.16, see docs/validator.md): fetching the competitions
// config and hall of fame, commitment dedup (docs/validator.md#commitments-and-dedup), visit scheduling (docs/validator.md#visiting-uids),
// model sync with the hash check and the admission rules (docs/validator.md#syncing-a-model, sync.go), the eval cache
// / sample DB with copy detection (docs/validator.md#the-eval-cache), scoring from per-sample losses to
// weights (docs/scoring.md#grouping-samples), weight setting with commit-reveal (docs/validator.md#setting-weights), the step
// report and its step JSON (docs/validator.md#step-json, stepjson.go), state persistence (docs/validator.md#state)
// and disk cleanup (docs/validator.md#disk-policy). A competition with
// eval_seed block or weighted tasks draws samples of its own: pages seeded
// by the last sync block's hash, the same on every validator, scored task
// by task ([ScoreTasks]); every evaluated sample is named by a [SampleRef]
// (round.go, docs/validator.md#shared-samples-and-tasks).
//
// [Validator] ties these together over interfaces: a chain.Reader and
// chain.WeightSetter, an hf.Hub, a data.Source and a [Scorer]. The package
// does no inference itself: the engine runs behind a Scorer, normally a
// [SubprocessScorer] that evaluates each model in a child process (`coldint
// eval-worker`) with a hard timeout, so a crash, hang or NaN in one model
// cannot stop the validator; [RandomScorer] gives the fake losses of
// `--device random`. The package builds with CGO_ENABLED=0 and never imports
// the engine (model/) or gotch.
//
// The competition rules themselves (the config format, admission, the
// tokenizer choice, sample tokenisation) live in package competition, which
// the miner and the surgeon also use; eval keeps its former names for them
// as aliases (competitions.go).
//
// The quirks listed in docs/validator.md#fixed-quirks are fixed rather than copied; each fix is
// documented where it is made, with a comment starting "Quirk fix".
package eval
