package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runHashCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"coldint"}, args...), IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestHashCommand(t *testing.T) {
	const (
		dirHash = "rzfrK2kpRaaPUO/FRaNL5l7J8FrjMSlpkixOIftUk+M="
		hotkey  = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
		salted  = "ktFuodCq2kFeW1QHYAC65Ue/k5CY/+I+8jo9I9Oeb1s="
	)
	vec := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(vec, n), []byte("test text."), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := t.TempDir()
	for n, c := range map[string]string{"config.json": "{}", "model.safetensors": "weights", "README.md": "readme"} {
		if err := os.WriteFile(filepath.Join(model, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		out  string
		code int
	}{
		{"dir hash", []string{"hash", "--all", vec}, dirHash + "\n", 0},
		{"salted", []string{"hash", "--all", "--hotkey", hotkey, vec}, salted + "\n", 0},
		{"allow-list needs config", []string{"hash", vec}, "", 1},
		{"no dir", []string{"hash"}, "", 2},
		{"bad hotkey", []string{"hash", "--all", "--hotkey", "0OIl", vec}, "", 2},
		{"hotkey checksum", []string{"hash", "--all", "--hotkey", hotkey[:len(hotkey)-1] + "w", vec}, "", 2},
		{"missing dir", []string{"hash", "--all", filepath.Join(vec, "nope")}, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runHashCLI(t, tc.args...)
			if code != tc.code || (tc.code == 0 && out != tc.out) {
				t.Fatalf("exit %d, out %q, err %q; want %d, %q", code, out, errs, tc.code, tc.out)
			}
		})
	}

	// Allow-list: README.md is not hashed; --all hashes it.
	outAllow, _, code := runHashCLI(t, "hash", "--json", model)
	if code != 0 {
		t.Fatalf("hash --json exit %d", code)
	}
	var got hashOutput
	if err := json.Unmarshal([]byte(outAllow), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != 2 || got.Files[0].Path != "config.json" || got.Files[1].Path != "model.safetensors" || got.Salted != "" {
		t.Fatalf("json = %+v", got)
	}
	outAll, _, _ := runHashCLI(t, "hash", "--all", model)
	if strings.TrimSpace(outAll) == got.Hash {
		t.Fatal("--all gave the allow-list hash although README.md exists")
	}
}
