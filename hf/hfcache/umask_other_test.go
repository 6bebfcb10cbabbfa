//go:build !unix

package hfcache

import "testing"

func withUmask(t *testing.T, m int) { t.Skip("file modes are checked on unix only") }
