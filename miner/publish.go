package miner

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/train/publish"
)

// Publish uploads the model folder o.Dir to the hub and commits it on chain
// (package publish), after converting its weights to uploadDType when that
// is set (the copy is made once, next to the folder) and checking that the
// hotkey is registered on the subnet. The progress file defaults to
// <o.Dir>.publish.json, also for a converted copy, so a second run resumes.
func Publish(ctx context.Context, o publish.Options, uploadDType safetensors.DType) (*publish.State, error) {
	if o.StateFile == "" {
		o.StateFile = filepath.Clean(o.Dir) + ".publish.json"
	}
	dir, err := publish.UploadDir(ctx, o.Dir, uploadDType)
	if err != nil {
		return nil, err
	}
	o.Dir = dir
	mg, err := o.Chain.Metagraph(ctx, o.Netuid)
	if err != nil {
		return nil, err
	}
	if _, ok := mg.ByHotkey(o.Hotkey); !ok {
		return nil, fmt.Errorf("mine publish: hotkey %s: %w %d", o.Hotkey, chain.ErrNotRegistered, o.Netuid)
	}
	return publish.Run(ctx, o)
}
