package hub

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubserver"
	"github.com/coldint/coldint/hf/hubtest"
)

// BenchmarkDownloadLoopback downloads 4 × 32 MiB from a hub server on
// 127.0.0.1 (hashes verified). `make bench-hub` measures the CLI on more data.
func BenchmarkDownloadLoopback(b *testing.B) {
	ctx := context.Background()
	dh, err := dirhub.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "bench", Name: "model"}
	dh.CreateRepo(ctx, repo, false)
	var files []hubtest.File
	var total int64
	for i := 0; i < 4; i++ {
		f := hubtest.File{Path: filepath.Join("shard", string(rune('a'+i))+".safetensors"), Data: hubtest.RandomBytes(uint64(i), 32<<20)}
		files = append(files, f)
		total += int64(len(f.Data))
	}
	sha, err := dh.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	srv, _ := hubserver.New(dh, hubserver.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, err := New(WithEndpoint(ts.URL), WithToken(""))
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"shard/a.safetensors", "shard/b.safetensors", "shard/c.safetensors", "shard/d.safetensors"}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cache := b.TempDir()
		if _, err := c.Download(ctx, repo, sha, names, cache, hf.DownloadOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(cache)
		b.StartTimer()
	}
}

// BenchmarkUploadLoopback uploads 4 × 32 MiB (multipart, 8 MiB parts) to a
// hub server on 127.0.0.1.
func BenchmarkUploadLoopback(b *testing.B) {
	ctx := context.Background()
	dh, err := dirhub.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	srv, _ := hubserver.New(dh, hubserver.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, err := New(WithEndpoint(ts.URL), WithToken(""))
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	b.SetBytes(4 * 32 << 20)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		repo := hf.RepoID{Namespace: "bench", Name: "up" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))}
		dh.CreateRepo(ctx, repo, false)
		var files []hubtest.File
		for j := 0; j < 4; j++ {
			files = append(files, hubtest.File{Path: "shard" + string(rune('a'+j)) + ".safetensors", Data: hubtest.RandomBytes(uint64(i*4+j+1000), 32<<20)})
		}
		b.StartTimer()
		if _, err := c.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{}); err != nil {
			b.Fatal(err)
		}
		total += 4 * 32 << 20
	}
	_ = total
}
