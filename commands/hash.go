package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/urfave/cli/v2"
)

// hashOutput is the --json shape of `coldint hash`.
type hashOutput struct {
	Dir     string            `json:"dir"`
	Hash    string            `json:"hash"`
	Hotkey  string            `json:"hotkey,omitempty"`
	Salted  string            `json:"salted,omitempty"`
	Bytes   int64             `json:"bytes"`
	Seconds float64           `json:"seconds"`
	Files   []modelhash.Entry `json:"files"`
}

// hashOptions are the inputs of `coldint hash`.
type hashOptions struct {
	IO        IO
	Dir       string // the model folder: DIR or --model
	Hotkey    string
	HotkeySet bool // --hotkey given: print the salted hash
	JSON      bool
	All       bool
	Workers   int
}

// newHashCmd is `coldint hash`: the model hash (docs/hashing.md#model-hash)
// of a directory. runF replaces runHash in tests.
func newHashCmd(f *Factory, runF func(context.Context, *hashOptions) error) *cli.Command {
	o := &hashOptions{IO: f.IO}
	if runF == nil {
		runF = runHash
	}
	return &cli.Command{
		Name:      "hash",
		Usage:     "print the model content hash of a directory (the directory hash, or the hotkey-salted chain hash)",
		ArgsUsage: "DIR",
		Description: `Computes the exact model hash of the coldint validator: every file hashed as
base64(sha256(bytes)), the directory hash as base64(sha256) over those strings in
walk order (files sorted by name, then sorted subdirectories), and with --hotkey the
on-chain hash base64(sha256(dirhash + hotkey)).

By default only the files the validator downloads are hashed: config.json,
generation_config.json, the tokenizer files, and model.safetensors (or the
safetensors index and its shards); README.md and other files are left out, so the
result is what a validator computes from the uploaded repo. --all hashes every
regular file, as the validator does on its snapshot directory.

Files are hashed in parallel (--workers, default all cores).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "hotkey", Usage: "SS58 hotkey: print the salted (on-chain) hash instead of the directory hash", Destination: &o.Hotkey},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object (hashes, files, bytes) instead of one hash", Destination: &o.JSON},
			&cli.BoolFlag{Name: "all", Usage: "hash every regular file, not only the validator's download allow-list", Destination: &o.All},
			&cli.IntFlag{Name: "workers", Usage: "files hashed at once (0: all cores)", Destination: &o.Workers},
		},
		Action: func(c *cli.Context) error {
			dir, err := modelDir(c, "hash")
			if err != nil {
				return err
			}
			o.Dir, o.HotkeySet = dir, c.IsSet("hotkey")
			return runF(c.Context, o)
		},
	}
}

func runHash(ctx context.Context, o *hashOptions) error {
	if o.HotkeySet {
		if err := checkHotkey(o.Hotkey); err != nil {
			return err
		}
	}
	if o.Workers < 0 {
		return usageErrorf("parse --workers %d: must be 0 or more", o.Workers)
	}
	opts := modelhash.Options{Workers: o.Workers}
	if !o.All {
		filter, err := modelhash.AllowedFilter(ctx, o.Dir)
		if err != nil {
			return fmt.Errorf("%w (use --all to hash every file)", err)
		}
		opts.Filter = filter
	}
	res, secs, err := hashWithProgress(ctx, o.IO, o.Dir, opts)
	if err != nil {
		return err
	}
	out := hashOutput{Dir: o.Dir, Hash: res.Hash, Bytes: res.Bytes, Seconds: secs, Files: res.Files}
	if o.HotkeySet {
		out.Hotkey = o.Hotkey
		out.Salted = modelhash.Salt(res.Hash, o.Hotkey)
	}
	if o.JSON {
		return json.NewEncoder(o.IO.Out).Encode(out)
	}
	line := out.Hash
	if out.Salted != "" {
		line = out.Salted
	}
	_, err = fmt.Fprintln(o.IO.Out, line)
	return err
}

// hashWithProgress hashes dir with a progress bar over its bytes and
// returns the result and the seconds it took.
func hashWithProgress(ctx context.Context, stdio IO, dir string, opts modelhash.Options) (modelhash.Result, float64, error) {
	files, err := modelhash.Files(ctx, dir, opts)
	if err != nil {
		return modelhash.Result{}, 0, err
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	bar := newProgress(stdio, total, "hashing", true)
	opts.OnFile = func(_ string, size int64, _ string) { bar.Add(size) }
	start := time.Now()
	res, err := modelhash.DirDetail(ctx, dir, opts)
	if err != nil {
		return res, 0, err
	}
	bar.Finish()
	secs := time.Since(start).Seconds()
	slog.Debug("hashed model dir", "dir", dir, "files", len(res.Files), "bytes", res.Bytes, "seconds", secs)
	return res, secs, nil
}

// checkHotkey rejects a hotkey that is not an SS58 address of a 32-byte
// account (checksum included): the salt is a plain string concatenation, so
// a typo would silently give a wrong hash.
func checkHotkey(h string) error {
	if _, _, err := chain.DecodeSS58(h); err != nil {
		return usageErrorf("parse --hotkey: %w", err)
	}
	return nil
}
