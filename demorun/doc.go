// Package demorun runs a whole local competition on one machine for
// `coldint demo`: an embedded chain, a directory hub, a public-domain corpus,
// miners that train and publish tiny LLaMA models, validator steps and the
// leaderboard, all left in one folder that the other commands can be pointed
// at. The engine-bound steps (training, evaluation) are injected by the
// command layer, so this package stays pure Go.
package demorun
