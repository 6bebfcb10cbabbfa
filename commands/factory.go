package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
)

// Factory builds what commands talk to — the chain, the hub, the engine
// choice, the hotkey — from the shared flags, lazily: a command that never
// asks for the chain never dials it, and whatever is opened is opened once
// and closed by Close when the command ends. One Factory serves one
// invocation; the shared flags of every command are bound to its fields.
type Factory struct {
	IO     IO
	Chain  ChainFlags
	Wallet WalletFlags
	Hub    HubFlags
	Engine EngineFlags

	mu    sync.Mutex
	chain *chainConn
	hub   hf.Hub
}

// ChainFlags are --network and --netuid.
type ChainFlags struct {
	Network string
	Netuid  uint
}

// WalletFlags are the --wallet.* flags, defaulting as btcli does.
type WalletFlags struct {
	Name, Hotkey, Path string
}

// HubFlags are the hub client flags: --hub-endpoint, --hub-dir, --hub-parallel.
type HubFlags struct {
	Endpoint string
	Dir      string
	Parallel int
}

// EngineFlags are --device and --dtype of the commands that compute.
type EngineFlags struct {
	Device string
	DType  string
}

// newFactory returns the factory of one invocation writing to stdio.
func newFactory(stdio IO) *Factory { return &Factory{IO: stdio} }

// ChainConn opens the backend named by --network, once.
func (f *Factory) ChainConn(ctx context.Context) (*chainConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.chain != nil {
		return f.chain, nil
	}
	cc, err := openNetwork(ctx, f.Chain.Network)
	if err != nil {
		return nil, err
	}
	f.chain = cc
	return cc, nil
}

// HubClient returns the hub chosen by --hub-dir / --hub-endpoint, once.
func (f *Factory) HubClient() (hf.Hub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hub != nil {
		return f.hub, nil
	}
	h, err := openHubFlags(f.Hub)
	if err != nil {
		return nil, err
	}
	f.hub = h
	return h, nil
}

// openHubFlags opens the hub backend the flags name.
func openHubFlags(h HubFlags) (hf.Hub, error) {
	if h.Dir != "" {
		if h.Endpoint != "" {
			return nil, usageErrorf("give --hub-dir or --hub-endpoint, not both")
		}
		return dirhub.Open(h.Dir)
	}
	opts := []hub.Option{hub.WithParallel(h.Parallel)}
	if h.Endpoint != "" {
		opts = append(opts, hub.WithEndpoint(h.Endpoint))
	}
	return hub.New(opts...)
}

// EngineChoice resolves --device and --dtype for the command cmd (named in
// errors). A misspelled value is a usage error; CUDA asked for where there
// is none is an error wrapping model.ErrNoCUDA, never a silent fallback.
func (f *Factory) EngineChoice(cmd string) (engineChoice, error) {
	return resolveEngineStrings(cmd, f.Engine.Device, f.Engine.DType)
}

// WalletKeys returns the wallet named by the --wallet.* flags.
func (f *Factory) WalletKeys() keys.Wallet {
	return keys.Wallet{Path: keys.ExpandPath(f.Wallet.Path), Name: f.Wallet.Name, Hotkey: f.Wallet.Hotkey}
}

// Hotkey reads the hotkey of the --wallet.* flags; a missing file says how
// to create one.
func (f *Factory) Hotkey(ctx context.Context) (*keys.Pair, error) {
	w := f.WalletKeys()
	p, err := w.ReadHotkey(ctx)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (create one with `coldint wallet new-hotkey --wallet.name %s --wallet.hotkey %s`)", err, w.Name, w.Hotkey)
	}
	return p, err
}

// SignedChain reads the hotkey of the --wallet.* flags and opens the chain
// of --network with writes signed by it.
func (f *Factory) SignedChain(ctx context.Context) (*keys.Pair, chain.Chain, error) {
	hk, err := f.Hotkey(ctx)
	if err != nil {
		return nil, nil, err
	}
	cc, err := f.ChainConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	return hk, cc.As(hk), nil
}

// Close releases what was opened.
func (f *Factory) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.chain != nil {
		err = f.chain.Close()
		f.chain = nil
	}
	return err
}
