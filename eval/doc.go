// Package eval is the coldint validator (subnet 29, reference behaviour
// v1.0.16, see ../shared/spec/coldint.md §4–§6): fetching the competitions
// config and hall of fame, commitment dedup (§6.3), visit scheduling (§6.4),
// model sync with the hash check and the admission rules (§6.5, sync.go), the eval cache
// / sample DB with copy detection (§6.8), scoring from per-sample losses to
// weights (§6.9–§6.11), weight setting with commit-reveal (§6.12), the step
// report and its step JSON (§6.13, stepjson.go), state persistence (§6.14)
// and disk cleanup (§6.15).
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
// The quirks listed in spec §12 are fixed rather than copied; each fix is
// documented where it is made, with a comment starting "Quirk fix".
package eval
