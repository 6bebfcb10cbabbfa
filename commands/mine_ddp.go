package commands

import "github.com/coldint/coldint/miner"

// launchedEnv marks a process started by `mine train --nproc N` as one of
// its ranks (the launcher and the rank setup live in package miner).
const launchedEnv = miner.LaunchedEnv
