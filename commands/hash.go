package commands

import (
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

// hashCommand prints the model hash (docs/hashing.md#model-hash) of a directory.
func hashCommand() *cli.Command {
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
			&cli.StringFlag{Name: "hotkey", Usage: "SS58 hotkey: print the salted (on-chain) hash instead of the directory hash"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object (hashes, files, bytes) instead of one hash"},
			&cli.BoolFlag{Name: "all", Usage: "hash every regular file, not only the validator's download allow-list"},
			&cli.IntFlag{Name: "workers", Usage: "files hashed at once (0: all cores)"},
		},
		Action: func(c *cli.Context) error {
			stdio := ioFrom(c)
			dir, err := modelDir(c, "hash")
			if err != nil {
				return err
			}
			hotkey := c.String("hotkey")
			if c.IsSet("hotkey") {
				if err := checkHotkey(hotkey); err != nil {
					return err
				}
			}
			if c.Int("workers") < 0 {
				return usageErrorf("parse --workers %d: must be 0 or more", c.Int("workers"))
			}
			opts := modelhash.Options{Workers: c.Int("workers")}
			if !c.Bool("all") {
				filter, err := modelhash.AllowedFilter(c.Context, dir)
				if err != nil {
					return fmt.Errorf("%w (use --all to hash every file)", err)
				}
				opts.Filter = filter
			}
			files, err := modelhash.Files(c.Context, dir, opts)
			if err != nil {
				return err
			}
			var total int64
			for _, f := range files {
				total += f.Size
			}
			bar := newProgress(stdio, total, "hashing", true)
			opts.OnFile = func(_ string, size int64, _ string) { bar.Add(size) }
			start := time.Now()
			res, err := modelhash.DirDetail(c.Context, dir, opts)
			if err != nil {
				return err
			}
			bar.Finish()
			secs := time.Since(start).Seconds()
			slog.Debug("hashed model dir", "dir", dir, "files", len(res.Files), "bytes", res.Bytes, "seconds", secs)
			out := hashOutput{Dir: dir, Hash: res.Hash, Bytes: res.Bytes, Seconds: secs, Files: res.Files}
			if c.IsSet("hotkey") {
				out.Hotkey = hotkey
				out.Salted = modelhash.Salt(res.Hash, hotkey)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(stdio.Out)
				return enc.Encode(out)
			}
			line := out.Hash
			if out.Salted != "" {
				line = out.Salted
			}
			_, err = fmt.Fprintln(stdio.Out, line)
			return err
		},
	}
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
