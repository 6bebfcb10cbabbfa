package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: a --config file (YAML and TOML) sets flags; the command
// line and COLDINT_* variables win over it; unknown flags are refused.
func TestConfigFile(t *testing.T) {
	data := writeFile(t, "s.jsonl", `{"ids":[1,2,3]}`+"\n")
	for _, cfg := range []string{
		writeFile(t, "c.yaml", "eval:\n  model: /nonexistent-from-config\n"),
		writeFile(t, "c.toml", "[eval]\nmodel = \"/nonexistent-from-config\"\n"),
	} {
		_, stderr, code := runCLI(t, "--config", cfg, "eval", "--data", data)
		if code != ExitError || !strings.Contains(stderr, "/nonexistent-from-config") {
			t.Errorf("%s did not set --model: %d %q", cfg, code, stderr)
		}
		_, stderr, _ = runCLI(t, "eval", "--data", data, "--model", "/from-command-line", "--config="+cfg)
		if !strings.Contains(stderr, "/from-command-line") {
			t.Errorf("the command line did not win over %s: %q", cfg, stderr)
		}
		t.Setenv("COLDINT_MODEL", "/from-env")
		_, stderr, _ = runCLI(t, "--config", cfg, "eval", "--data", data)
		if !strings.Contains(stderr, "/from-env") {
			t.Errorf("COLDINT_MODEL did not win over %s: %q", cfg, stderr)
		}
		os.Unsetenv("COLDINT_MODEL")
	}
	if _, ok := os.LookupEnv("COLDINT_MODEL"); ok {
		t.Error("the config file's variables outlived the run")
	}
	bad := writeFile(t, "bad.yaml", "eval:\n  modle: x\n")
	// A global flag with a value before the command: the file's section
	// of the command still applies.
	_, stderr, code := runCLI(t, "--log-level", "warn", "--config", cfgYAML(t), "eval", "--data", data)
	if code != ExitError || !strings.Contains(stderr, "/nonexistent-from-config") {
		t.Errorf("after --log-level warn, the config did not set --model: %d %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "--config", bad, "eval", "--data", data)
	if code != ExitUsage || !strings.Contains(stderr, `did you mean "model"?`) {
		t.Errorf("unknown flag in the config: %d %q", code, stderr)
	}
	notCmd := writeFile(t, "nc.yaml", "evaluate:\n  model: x\n")
	if _, stderr, code := runCLI(t, "--config", notCmd, "version"); code != ExitUsage || !strings.Contains(stderr, "evaluate") {
		t.Errorf("a section that is no command: %d %q", code, stderr)
	}
}

func cfgYAML(t *testing.T) string {
	return writeFile(t, "g.yaml", "eval:\n  model: /nonexistent-from-config\n")
}

// TestConfigDumpRoundTrip: what config dump prints is a config file that
// reproduces itself.
func TestConfigDumpRoundTrip(t *testing.T) {
	cfg := writeFile(t, "v.yaml", "validate:\n  netuid: 7\n  device: cpu\n")
	out, stderr, code := runCLI(t, "--config", cfg, "config", "dump", "validate")
	if code != 0 || !strings.Contains(out, "netuid: 7") || !strings.Contains(out, "validate:") {
		t.Fatalf("dump: %d %q\n%s", code, stderr, out)
	}
	again := writeFile(t, "again.yaml", out)
	out2, stderr, code := runCLI(t, "--config", again, "config", "dump", "validate")
	if code != 0 || out2 != out {
		t.Fatalf("round trip differs (%d %q):\n%s\n---\n%s", code, stderr, out, out2)
	}
}
