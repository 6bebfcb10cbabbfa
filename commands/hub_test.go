package commands

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHubServeUploadDownload(t *testing.T) {
	const token = "hf_cli_test_token"
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_ACCESS_TOKEN", "")
	t.Setenv("HF_ENDPOINT", "")
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"coldint", "hub", "serve", "--root", t.TempDir(), "--addr", "127.0.0.1:0", "--token", token},
			IO{In: strings.NewReader(""), Out: out, Err: errb})
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	var url string
	for i := 0; i < 200 && url == ""; i++ {
		if s := strings.TrimSpace(out.String()); strings.HasPrefix(s, "http://") {
			url = s
		}
		time.Sleep(20 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("serve printed no URL; stderr: %s", errb.String())
	}

	src := t.TempDir()
	files := map[string]string{"config.json": `{"model_type":"llama"}`, "model.safetensors": strings.Repeat("w", 5000), "README.md": "# hi"}
	for n, c := range files {
		os.WriteFile(filepath.Join(src, n), []byte(c), 0o644)
	}
	// Without a token the upload is refused.
	if _, stderr, code := runCLI(t, "hub", "upload", "--endpoint", url, "--create", "tester/cli", src); code == 0 || !strings.Contains(stderr, "401") {
		t.Fatalf("anonymous upload: code %d stderr %s", code, stderr)
	}
	t.Setenv("HF_TOKEN", token)
	stdout, stderr, code := runCLI(t, "hub", "upload", "--endpoint", url, "--create", "tester/cli", src)
	if code != 0 {
		t.Fatalf("upload: %d %s", code, stderr)
	}
	commit := strings.TrimSpace(stdout)
	if len(commit) != 40 {
		t.Fatalf("upload printed %q", stdout)
	}
	if strings.Contains(stderr, token) {
		t.Errorf("token printed on stderr")
	}
	stdout, stderr, code = runCLI(t, "hub", "info", "--endpoint", url, "--json", "--revision", commit, "tester/cli")
	if code != 0 {
		t.Fatalf("info: %d %s", code, stderr)
	}
	var info struct {
		SHA     string `json:"sha"`
		Private bool   `json:"private"`
		Total   int64  `json:"totalSize"`
	}
	if err := json.Unmarshal([]byte(stdout), &info); err != nil || info.SHA != commit || !info.Private || info.Total < 5000 {
		t.Fatalf("info: %v %s", err, stdout)
	}
	cache := t.TempDir()
	stdout, stderr, code = runCLI(t, "hub", "download", "--endpoint", url, "--revision", commit, "--cache-dir", cache, "--model", "--json", "tester/cli")
	if code != 0 {
		t.Fatalf("download: %d %s", code, stderr)
	}
	var dl struct {
		Snapshot string   `json:"snapshot"`
		Files    []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &dl); err != nil {
		t.Fatal(err)
	}
	if strings.Join(dl.Files, ",") != "config.json,model.safetensors" {
		t.Errorf("--model downloaded %v", dl.Files)
	}
	for _, n := range dl.Files {
		b, err := os.ReadFile(filepath.Join(dl.Snapshot, n))
		if err != nil || string(b) != files[n] {
			t.Errorf("downloaded %q differs: %v", n, err)
		}
	}
	if _, stderr, code = runCLI(t, "hub", "download", "--endpoint", url, "--revision", commit, "--cache-dir", t.TempDir(), "--max-size", "100", "tester/cli"); code == 0 || !strings.Contains(stderr, "size limit") {
		t.Errorf("download over --max-size: code %d %s", code, stderr)
	}
	if _, stderr, code = runCLI(t, "hub", "visibility", "--endpoint", url, "tester/cli", "public"); code != 0 {
		t.Fatalf("visibility: %s", stderr)
	}
	t.Setenv("HF_TOKEN", "")
	if _, stderr, code = runCLI(t, "hub", "info", "--endpoint", url, "tester/cli"); code != 0 {
		t.Errorf("anonymous info of a public repo: %s", stderr)
	}
	if _, stderr, code = runCLI(t, "hub", "info", "--endpoint", url, "badname"); code != ExitUsage || !strings.Contains(stderr, "format") {
		t.Errorf("bad repo id: code %d %s", code, stderr)
	}
}

func TestHubDirBackend(t *testing.T) {
	root, src := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "config.json"), []byte("{}"), 0o644)
	stdout, stderr, code := runCLI(t, "hub", "upload", "--dir", root, "--create", "tester/local", src)
	if code != 0 {
		t.Fatalf("upload: %s", stderr)
	}
	commit := strings.TrimSpace(stdout)
	stdout, stderr, code = runCLI(t, "hub", "download", "--dir", root, "--revision", commit, "--cache-dir", t.TempDir(), "tester/local")
	if code != 0 {
		t.Fatalf("download: %s", stderr)
	}
	if b, err := os.ReadFile(filepath.Join(strings.TrimSpace(stdout), "config.json")); err != nil || string(b) != "{}" {
		t.Fatalf("downloaded config: %q %v", b, err)
	}
	// By branch: the cache records refs/main -> commit, as huggingface_hub does.
	cache := t.TempDir()
	if _, stderr, code = runCLI(t, "hub", "download", "--dir", root, "--revision", "main", "--cache-dir", cache, "tester/local"); code != 0 {
		t.Fatalf("download main: %s", stderr)
	}
	if b, err := os.ReadFile(filepath.Join(cache, "models--tester--local", "refs", "main")); err != nil || string(b) != commit {
		t.Fatalf("refs/main = %q, %v; want %q", b, err, commit)
	}
}

func TestHubDatasetRepo(t *testing.T) {
	root, src := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "data"), 0o755)
	os.WriteFile(filepath.Join(src, "data", "000_00000.parquet"), []byte("PAR1 shard"), 0o644)
	stdout, stderr, code := runCLI(t, "hub", "upload", "--dir", root, "--create", "--repo-type", "dataset", "tester/corpus", src)
	if code != 0 {
		t.Fatalf("upload dataset: %s", stderr)
	}
	commit := strings.TrimSpace(stdout)
	// The dataset is not a model repo of the same name.
	if _, stderr, code = runCLI(t, "hub", "info", "--dir", root, "tester/corpus"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Fatalf("info of the dataset as a model: code %d %s", code, stderr)
	}
	cache := t.TempDir()
	stdout, stderr, code = runCLI(t, "hub", "download", "--dir", root, "--revision", "main", "--cache-dir", cache, "datasets/tester/corpus")
	if code != 0 {
		t.Fatalf("download dataset: %s", stderr)
	}
	if b, err := os.ReadFile(filepath.Join(strings.TrimSpace(stdout), "data", "000_00000.parquet")); err != nil || string(b) != "PAR1 shard" {
		t.Fatalf("downloaded shard: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(cache, "datasets--tester--corpus", "refs", "main")); err != nil || string(b) != commit {
		t.Fatalf("refs/main = %q, %v; want %q", b, err, commit)
	}
	for _, args := range [][]string{
		{"--repo-type", "space", "tester/corpus"},
		{"--repo-type", "dataset", "models/tester/corpus"},
	} {
		if _, stderr, code = runCLI(t, append([]string{"hub", "info", "--dir", root}, args...)...); code != ExitUsage {
			t.Errorf("info %v: code %d %s", args, code, stderr)
		}
	}
}
