// Package e2e holds cross-package tests that need the engine: surgery
// measured by the engine's losses, and command flows end to end. It has no
// production code.
package e2e
