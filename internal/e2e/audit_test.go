package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/internal/testenv"
)

// runAudit runs `coldint audit` with args; it returns stdout, stderr and
// the exit status.
func runAudit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, coldintBin(t), append([]string{"--log-level", "warn", "audit"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestAuditDemo runs the demo (engine training and evaluation), then the
// audit command it prints: the honest steps agree with this engine's own
// losses; a step with one loss changed names that sample and model and
// fails the root check; bad input gets a clear error.
func TestAuditDemo(t *testing.T) {
	if _, err := os.Stat("/usr/share/doc/jargon-text/jargon.txt.gz"); err != nil {
		testenv.Missing(t, "corpus Debian packages are not installed (make setup-data)")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	out, err := exec.Command(coldintBin(t), "demo", "--dir", dir, "--miners", "2", "--steps", "2", "--train-steps", "2", "--threads", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	var res demorun.Result
	if b, err := os.ReadFile(filepath.Join(dir, "demo.json")); err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("demo.json: %v", err)
	}
	line := res.Commands["audit"]
	if !strings.Contains(string(out), line) {
		t.Fatalf("the demo does not print its audit command %q", line)
	}
	args := append(strings.Fields(line)[2:], "--download-dir", t.TempDir(), "--threads", "2")
	stdout, stderr, code := runAudit(t, args...)
	if code != 0 || !strings.Contains(stdout, "AGREE") || !strings.Contains(stdout, "covers this step") {
		t.Fatalf("honest demo step (%d):\n%s\n%s", code, stdout, stderr)
	}
	if n := len(regexp.MustCompile(`: agree \(48 samples`).FindAllString(stdout, -1)); n != 2 {
		t.Fatalf("%d models agree, want 2:\n%s", n, stdout)
	}
	published := filepath.Join(dir, demorun.PublishedDir)
	t.Run("validate --publish", func(t *testing.T) { auditValidateStep(t, dir, args) })
	t.Run("altered loss", func(t *testing.T) { auditAltered(t, published, args) })
	t.Run("bad input", func(t *testing.T) { auditBadInput(t, published, args) })
}

// auditValidateStep runs one more validator step with the demo's config
// (which publishes to the demo's folder): it becomes step 3, whose chain
// commitment also covers step 1 through the links.
func auditValidateStep(t *testing.T, dir string, args []string) {
	out, err := exec.Command(coldintBin(t), "validate", "--config", filepath.Join(dir, demorun.ValidatorConfig), "--threads", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	for _, step := range []string{"3", "1"} {
		stdout, stderr, code := runAudit(t, append(args, "--step", step)...)
		if code != 0 || !strings.Contains(stdout, "step "+step+" (block") || !strings.Contains(stdout, `:3" (block`) || !strings.Contains(stdout, "AGREE") {
			t.Fatalf("step %s after validate --publish (%d):\n%s\n%s", step, code, stdout, stderr)
		}
	}
}

// auditAltered changes uid 1's loss on sample 4 of step 2 (roots as
// published) and audits the copy.
func auditAltered(t *testing.T, published string, args []string) {
	step := filepath.Join(t.TempDir(), "step-2")
	copyTree(t, filepath.Join(published, "step-2"), step)
	f := filepath.Join(step, "competition-0.json")
	b, _ := os.ReadFile(f)
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, m := range c["models"].([]any) {
		mm := m.(map[string]any)
		if mm["uid"].(float64) == 1 {
			mm["losses"].([]any)[4] = mm["losses"].([]any)[4].(float64) * 1.01
		}
	}
	b, _ = json.Marshal(c)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runAudit(t, append([]string{step}, args[1:]...)...)
	if code != 1 || !strings.Contains(stdout, "ROOT CHECK FAILED") || !regexp.MustCompile(`uid 1 \S+: disagree`).MatchString(stdout) ||
		!strings.Contains(stdout, "DISPUTED sample 4 ") || strings.Count(stdout, "DISPUTED") != 1 {
		t.Fatalf("altered loss (%d):\n%s\n%s", code, stdout, stderr)
	}
}

func auditBadInput(t *testing.T, published string, args []string) {
	missing := filepath.Join(t.TempDir(), "step-2")
	copyTree(t, filepath.Join(published, "step-2"), missing)
	os.Remove(filepath.Join(missing, "competition-0.json"))
	wrongRoot := filepath.Join(t.TempDir(), "step-2")
	copyTree(t, filepath.Join(published, "step-2"), wrongRoot)
	mf := filepath.Join(wrongRoot, "manifest.json")
	b, _ := os.ReadFile(mf)
	b = regexp.MustCompile(`"root": "[0-9a-f]{64}"\n}`).ReplaceAll(b, []byte(`"root": "`+strings.Repeat("0", 64)+`"`+"\n}"))
	os.WriteFile(mf, b, 0o644)
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"missing file", missing, `competition-0.json of competition "c00": missing file`},
		{"wrong root", wrongRoot, "ROOT CHECK FAILED: verify step 2: the manifest's step root 0000"},
		{"no such step", filepath.Join(t.TempDir(), "nothing"), "not a folder"},
	} {
		stdout, stderr, code := runAudit(t, append([]string{tc.arg}, args[1:]...)...)
		if code == 0 || !strings.Contains(stdout+stderr, tc.want) || strings.Contains(stderr, "panic") {
			t.Errorf("%s (%d): want %q\n%s\n%s", tc.name, code, tc.want, stdout, stderr)
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}
