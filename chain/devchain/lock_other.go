//go:build !unix

package devchain

import "os"

// lockFile does nothing where flock is missing.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
