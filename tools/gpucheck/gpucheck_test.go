package gpucheck

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

// row is one line of the summary table run.sh prints last.
type row struct {
	Check, Status, Text string
}

var (
	rowRE    = regexp.MustCompile(`^(\S+)\s+(PASS|FAIL|SKIP)\s+(.*)$`)
	footerRE = regexp.MustCompile(`^gpucheck: (\d+) PASS, (\d+) FAIL, (\d+) SKIP$`)
)

// parseSummary reads the table between its header line ("check  result ...")
// and its footer ("gpucheck: N PASS, N FAIL, N SKIP"), and checks that the
// footer's counts match the rows.
func parseSummary(out string) ([]row, error) {
	var rows []row
	in, done := false, false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case done:
		case strings.HasPrefix(line, "check ") && strings.Contains(line, "result"):
			in, rows = true, nil
		case !in:
		case footerRE.MatchString(line):
			m := footerRE.FindStringSubmatch(line)
			counts := map[string]int{}
			for _, r := range rows {
				counts[r.Status]++
			}
			for i, st := range []string{"PASS", "FAIL", "SKIP"} {
				if n, _ := strconv.Atoi(m[i+1]); n != counts[st] {
					return nil, fmt.Errorf("footer says %d %s, the table has %d", n, st, counts[st])
				}
			}
			done = true
		default:
			m := rowRE.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("table line %q is not CHECK STATUS TEXT", line)
			}
			rows = append(rows, row{Check: m[1], Status: m[2], Text: m[3]})
		}
	}
	switch {
	case !in:
		return nil, errors.New("no table header")
	case !done:
		return nil, errors.New("no table footer")
	}
	return rows, nil
}

func TestParseSummary(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseSummary(string(good))
	if err != nil {
		t.Fatalf("parse testdata/summary.txt: %v", err)
	}
	if len(rows) != 3 || rows[0] != (row{"2-parity-f32", "PASS", "worst rel err 1e-07  [<= 1e-05]"}) || rows[2].Status != "SKIP" {
		t.Errorf("rows = %+v", rows)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"no header", "2-x PASS ok\ngpucheck: 1 PASS, 0 FAIL, 0 SKIP\n", "no table header"},
		{"no footer", "check  result  value\n2-x  PASS  ok\n", "no table footer"},
		{"bad status", "check  result  value\n2-x  MAYBE  ok\ngpucheck: 0 PASS, 0 FAIL, 0 SKIP\n", "is not CHECK STATUS TEXT"},
		{"wrong count", "check  result  value\n2-x  FAIL  bad\ngpucheck: 1 PASS, 0 FAIL, 0 SKIP\n", "footer says 1 PASS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseSummary(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseSummary(f *testing.F) {
	f.Add("check  result  value\n2-x  PASS  ok\ngpucheck: 1 PASS, 0 FAIL, 0 SKIP\n")
	f.Add("check result\ngpucheck: 0 PASS, 0 FAIL, 0 SKIP")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseSummary(s)
		if err == nil {
			for _, r := range rows {
				if r.Status != "PASS" && r.Status != "FAIL" && r.Status != "SKIP" {
					t.Fatalf("row %+v has a bad status", r)
				}
			}
		}
	})
}

// dryRun runs tools/gpucheck/run.sh --dry-run with the given extra
// arguments and environment; it returns the parsed table and the exit code.
func dryRun(t *testing.T, bin, py string, env []string, args ...string) ([]row, int, string) {
	t.Helper()
	root := testenv.Root()
	out, work := t.TempDir(), t.TempDir()
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "tools", "gpucheck", "run.sh"), "--dry-run", "--out", out}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), append([]string{"GPUCHECK_COLDINT=" + bin, "PYTHON=" + py, "GPUCHECK_WORK=" + work}, env...)...)
	stdout, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run.sh: %v", err)
	}
	logText, _ := os.ReadFile(filepath.Join(out, "gpucheck.log"))
	rows, perr := parseSummary(string(stdout))
	if perr != nil {
		t.Fatalf("summary of run.sh (exit %d): %v\n%s\nlog:\n%s", code, perr, stdout, logText)
	}
	return rows, code, string(stdout) + "\nlog:\n" + string(logText)
}

// buildColdint builds bin/coldint from this checkout into a temporary folder.
func buildColdint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "coldint")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = testenv.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDryRun runs the whole GPU check on the CPU with tiny models and the
// real coldint, then once more with the coldint losses scaled by 1+1e-3:
// that run must show the f32 parity check as FAIL and exit 1.
func TestDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: the dry run takes a minute or two")
	}
	py := testenv.DebianPython(t)
	bin := buildColdint(t)

	rows, code, text := dryRun(t, bin, py, nil)
	got := map[string]row{}
	for _, r := range rows {
		got[r.Check] = r
		if r.Status == "SKIP" && !strings.ContainsAny(r.Text, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("%s is skipped without a reason: %q", r.Check, r.Text)
		}
	}
	for _, want := range []struct{ check, status, text string }{
		{"1-build", "SKIP", "dry run"},
		{"2-parity-f32", "PASS", "worst rel err"},
		{"3-eval-long-loss", "PASS", "rel err"},
		{"3-eval-vs-sdpa", "SKIP", "dry run"},
		{"4-train-vs-pytorch", "SKIP", "tok/s"},
		{"4-train-ddp-1rank", "PASS", "worst rel loss diff"},
		{"5-sliced-7b", "PASS", "4 slices"},
		{"6-too-large", "SKIP", "needs a GPU"},
		{"6-oom-sample", "SKIP", "needs a GPU"},
	} {
		r, ok := got[want.check]
		if !ok || r.Status != want.status || !strings.Contains(r.Text, want.text) {
			t.Errorf("%s = %+v, want %s with %q", want.check, r, want.status, want.text)
		}
	}
	if code != 0 {
		t.Errorf("dry run exit %d, want 0", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}

	rows, code, text = dryRun(t, bin, py, []string{"GPUCHECK_PERTURB_REL=1e-3"}, "--only", "prep-parity,parity")
	found := false
	for _, r := range rows {
		if r.Check == "2-parity-f32" {
			found = true
			if r.Status != "FAIL" {
				t.Errorf("with losses scaled by 1+1e-3: %+v, want FAIL", r)
			}
		}
	}
	if !found || code != 1 {
		t.Errorf("perturbed run: parity row found %v, exit %d (want 1)\n%s", found, code, text)
	}
}
