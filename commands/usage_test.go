package commands

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUsageOneLine: a usage error is one line on stderr naming the problem
// and the command, with a suggestion where one is close, and exit code 2
// (never the command's whole help).
func TestUsageOneLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"typo flag", []string{"eval", "--modle", "x"}, []string{"unknown flag --modle", "did you mean --model?", "coldint eval --help"}},
		{"missing required", []string{"eval", "--data", "x"}, []string{"--model is required"}},
		{"typo command", []string{"evl"}, []string{`unknown command "evl"`, `did you mean "eval"?`}},
		{"typo subcommand", []string{"surgeon", "grow-hiden"}, []string{`did you mean "grow-hidden"?`}},
		{"flag without value", []string{"validate", "--netuid"}, []string{"needs an argument: --netuid"}},
		{"far-off flag", []string{"eval", "--zzzzzzzz"}, []string{"unknown flag --zzzzzzzz; see"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if n := strings.Count(strings.TrimRight(stderr, "\n"), "\n"); n != 0 || strings.Contains(stderr, "USAGE") {
				t.Errorf("stderr is %d lines, want one:\n%s", n+1, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// TestBittensorSpellings: flags as bittensor scripts spell them reach the
// coldint flag (here proven by the value they carry into the error).
func TestBittensorSpellings(t *testing.T) {
	_, stderr, code := runCLI(t, "--logging.debug", "version")
	if code != 0 || !strings.Contains(stderr, "--logging.debug is read as --log-level") {
		t.Fatalf("--logging.debug: %d %q", code, stderr)
	}
	_, stderr, _ = runCLI(t, "chain", "metagraph", "--netuid", "1", "--subtensor.network", "no-such-network")
	if !strings.Contains(stderr, "no-such-network") || strings.Contains(stderr, "unknown flag") {
		t.Fatalf("--subtensor.network did not reach --network: %q", stderr)
	}
	_, stderr, _ = runCLI(t, "chain", "metagraph", "--netuid", "1", "--subtensor.chain_endpoint=ws://127.0.0.1:1")
	if !strings.Contains(stderr, "127.0.0.1:1") || strings.Contains(stderr, "unknown flag") {
		t.Fatalf("--subtensor.chain_endpoint did not reach --network: %q", stderr)
	}
}

// TestInterrupted: Ctrl-C (the context ending) reads "interrupted", exit 130.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel) // as signal.NotifyContext does on SIGINT
	var out, errb bytes.Buffer
	// A download from a port nobody listens on retries with backoff until cancelled.
	code := Main(ctx, []string{"coldint", "hub", "download", "--endpoint", "http://127.0.0.1:1", "--cache-dir", filepath.Join(t.TempDir(), "c"), "someone/model"},
		IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != ExitCancelled || !strings.Contains(errb.String(), "coldint: interrupted") || strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestClosest(t *testing.T) {
	names := []string{"model", "max-memory", "network", "wallet.hotkey", "log-level"}
	for in, want := range map[string]string{"modle": "model", "max_memory": "max-memory", "subtensor.network": "network",
		"netwrk": "network", "wallet-hotkey": "wallet.hotkey", "xyz": "", "m": ""} {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInterruptedLine(t *testing.T) {
	for in, want := range map[string]string{
		"context canceled": "coldint: interrupted",
		"train step 5: context canceled (continue with --resume --out run)": "coldint: interrupted: train step 5 (continue with --resume --out run)",
		"get model info \"a/b\": context canceled":                          "coldint: interrupted: get model info \"a/b\"",
	} {
		if got := interruptedLine(errors.New(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestMaxMemoryOneSpelling: validate takes --max-memory with units as eval
// and surgeon slice-info do; the old --max-memory-mb still parses.
func TestMaxMemoryOneSpelling(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--max-memory", "lots"}, "--max-memory"},
		{[]string{"validate", "--max-memory-mb", "-5"}, "--max-memory-mb -5"},
		{[]string{"surgeon", "slice-info", "--max-memory", "lots", "m"}, "--max-memory"},
	} {
		_, stderr, code := runCLI(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, stderr)
		}
	}
}
