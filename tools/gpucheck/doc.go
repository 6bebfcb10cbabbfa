// Package gpucheck holds the prepared check of coldint on a lent NVIDIA GPU
// (run.sh and its Python steps; see README.md). The package itself has only
// tests: they run the check's dry run on the CPU and read its summary table.
package gpucheck
