// Package audit re-checks a published validator step (package evalproof):
// it verifies the step's files and roots, optionally that the step root is
// the one the validator committed on chain, fetches the sample texts by
// their ids and checks their hashes, downloads every model at its
// committed revision, recomputes its per-sample losses with the same
// tokenization rules and loss engine the validator uses, and reports per
// model how far the published losses are from its own. A sample whose
// published loss disagrees is named, with its inclusion proof against the
// step root.
package audit
