package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubserver"
)

// hubCommand groups the Hugging Face Hub commands: a local server and a
// client for it or for huggingface.co.
func hubCommand() *cli.Command {
	return &cli.Command{
		Name:  "hub",
		Usage: "serve a local Hugging Face-compatible hub, or talk to one (info, download, upload, create, visibility)",
		Description: `The client commands use https://huggingface.co unless --endpoint or HF_ENDPOINT
names another server (such as one started with "coldint hub serve"), or --dir names
a local directory hub. The access token comes from HF_TOKEN, HF_ACCESS_TOKEN or the
file written by "huggingface-cli login" ($HF_HOME/token); it is never printed.`,
		Subcommands: []*cli.Command{
			hubServeCommand(),
			hubInfoCommand(),
			hubDownloadCommand(),
			hubUploadCommand(),
			hubCreateCommand(),
			hubVisibilityCommand(),
		},
	}
}

func hubClientFlags() []cli.Flag { return new(Factory).hubFlags() }

// openHub returns the backend chosen by --hub-dir / --hub-endpoint.
func openHub(c *cli.Context) (hf.Hub, error) {
	if d := c.String("hub-dir"); d != "" {
		if c.String("hub-endpoint") != "" {
			return nil, usageErrorf("give --hub-dir or --hub-endpoint, not both")
		}
		return dirhub.Open(d)
	}
	opts := []hub.Option{hub.WithParallel(c.Int("hub-parallel"))}
	if e := c.String("hub-endpoint"); e != "" {
		opts = append(opts, hub.WithEndpoint(e))
	}
	return hub.New(opts...)
}

// hubRepoFlags are the client flags of the hub commands that name a repo.
func hubRepoFlags() []cli.Flag {
	return append(hubClientFlags(),
		&cli.StringFlag{Name: "repo-type", Usage: "model or dataset: the kind of REPO (default: model, or dataset for datasets/namespace/name)", Category: "hub"})
}

func repoArg(c *cli.Context, i int) (hf.RepoID, error) {
	if c.NArg() <= i {
		return hf.RepoID{}, usageErrorf("%s: missing REPO argument (namespace/name or datasets/namespace/name)", c.Command.Name)
	}
	s := c.Args().Get(i)
	id, err := hf.ParseRepo(s)
	if c.IsSet("repo-type") {
		typ, terr := hf.ParseRepoType(c.String("repo-type"))
		if terr != nil {
			return hf.RepoID{}, &UsageError{Err: fmt.Errorf("%s: --repo-type: %w", c.Command.Name, terr)}
		}
		id, err = hf.ParseTypedRepo(s, typ)
	}
	if err != nil {
		return hf.RepoID{}, &UsageError{Err: err}
	}
	return id, nil
}

// --- serve ---

type hubServeOptions struct {
	Root      string
	Addr      string
	Tokens    []string
	PublicURL string
	ChunkSize int64
}

func hubServeCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a directory hub over HTTP with the Hub API subset coldint and the official clients use",
		UsageText: "coldint hub serve --root DIR --addr 127.0.0.1:PORT [--token TOKEN]...",
		Description: `Serves model and dataset repos (datasets under /datasets/ and /api/datasets/):
info, resolve (with Range), create repo, visibility, preupload,
Git LFS batch (basic and multipart) and ndjson commits from a local folder, so a
group can run a private competition. Point clients at it with HF_ENDPOINT=http://ADDR
(huggingface_hub also needs HF_HUB_DISABLE_XET=1) or hubUrl in @huggingface/hub.
With --token, writes and private repos need one of the tokens; a token given
as NAME:TOKEN may only write to (and read private repos of) the namespace NAME,
so competitors cannot touch each other's repos. Without --token the server is
open to anyone who can reach the address.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Required: true, Usage: "folder holding the hub (created if missing)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8088", Usage: "listen address host:port"},
			&cli.StringSliceFlag{Name: "token", Usage: "accepted bearer token, repeatable: TOKEN (admin: every namespace) or NAME:TOKEN (writes and private reads under NAME only)"},
			&cli.StringFlag{Name: "public-url", Usage: "base URL written into upload links (default: http://<Host header>)"},
			&cli.Int64Flag{Name: "chunk-size", Value: 8 << 20, Usage: "part size of multipart LFS uploads in bytes"},
		},
		Action: func(c *cli.Context) error {
			return runHubServe(c, hubServeOptions{
				Root: c.String("root"), Addr: c.String("addr"), Tokens: c.StringSlice("token"),
				PublicURL: c.String("public-url"), ChunkSize: c.Int64("chunk-size"),
			})
		},
	}
}

func runHubServe(c *cli.Context, o hubServeOptions) error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return usageErrorf("hub serve: parse --addr %q: %v", o.Addr, err)
	}
	if o.ChunkSize <= 0 {
		return usageErrorf("hub serve: --chunk-size must be positive")
	}
	for _, t := range o.Tokens {
		if strings.TrimSpace(t) == "" {
			return usageErrorf("hub serve: empty --token")
		}
	}
	ip := net.ParseIP(host)
	if len(o.Tokens) == 0 && (ip == nil || !ip.IsLoopback()) {
		slog.Warn("hub server is open (no --token) on a non-loopback address: anyone who can reach it may write", "addr", o.Addr)
	}
	dh, err := dirhub.Open(o.Root)
	if err != nil {
		return err
	}
	srv, err := hubserver.New(dh, hubserver.Options{Tokens: o.Tokens, PublicURL: o.PublicURL, ChunkSize: o.ChunkSize})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("hub serve: listen on %q: %w", o.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	url := "http://" + ln.Addr().String()
	slog.Info("hub server listening", "url", url, "root", o.Root, "auth", len(o.Tokens) > 0)
	fmt.Fprintln(ioFrom(c).Out, url)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("hub serve: %w", err)
	case <-c.Context.Done():
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		slog.Info("hub server stopped")
		return nil
	}
}

// --- info ---

func hubInfoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "show a model repo at a revision: commit, visibility, files and sizes",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(),
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "branch or commit"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		),
		Action: func(c *cli.Context) error {
			repo, err := repoArg(c, 0)
			if err != nil {
				return err
			}
			h, err := openHub(c)
			if err != nil {
				return err
			}
			info, err := h.ModelInfo(c.Context, repo, c.String("revision"))
			if err != nil {
				return err
			}
			out := ioFrom(c).Out
			if c.Bool("json") {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"id": info.ID.String(), "sha": info.SHA, "private": info.Private,
					"lastModified": info.LastModified, "totalSize": info.TotalSize(), "files": info.Files})
			}
			fmt.Fprintf(out, "repo     %s\ncommit   %s\nprivate  %v\nsize     %d bytes\n", info.ID, info.SHA, info.Private, info.TotalSize())
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			for _, f := range info.Files {
				kind := ""
				if f.LFS != nil {
					kind = "lfs"
				}
				fmt.Fprintf(tw, "%d\t%s\t %s\n", f.Size, kind, f.Path)
			}
			return tw.Flush()
		},
	}
}

// --- download ---

func hubDownloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "download",
		Usage:     "download a repo at a commit into the Hugging Face cache layout and print the snapshot folder",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(),
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "commit (or branch) to download"},
			&cli.StringFlag{Name: "cache-dir", Usage: "cache folder (default: HF_HUB_CACHE or $HF_HOME/hub)"},
			&cli.StringSliceFlag{Name: "file", Usage: "file to download (repeatable; default: all, or the validator allow-list with --model)"},
			&cli.BoolFlag{Name: "model-files", Aliases: []string{"model"}, Usage: "download only what validators fetch: config, tokenizer files, safetensors weights"},
			&cli.Int64Flag{Name: "max-size", Usage: "refuse repos whose files sum to more than this many bytes (0: no limit)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON {snapshot, commit, files}"},
		),
		Action: runHubDownload,
	}
}

func runHubDownload(c *cli.Context) error {
	repo, err := repoArg(c, 0)
	if err != nil {
		return err
	}
	if c.Bool("model-files") && c.IsSet("file") {
		return usageErrorf("hub download: give --model or --file, not both")
	}
	h, err := openHub(c)
	if err != nil {
		return err
	}
	stdio := ioFrom(c)
	info, err := h.ModelInfo(c.Context, repo, c.String("revision"))
	if err != nil {
		return err
	}
	files := c.StringSlice("file")
	opts := hf.DownloadOptions{MaxTotalSize: c.Int64("max-size")}
	if c.Bool("model-files") {
		if files, err = hub.ModelFiles(c.Context, h, info); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		files = nil
	}
	plan, err := hf.PlanDownload(info, files, opts)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range plan {
		total += f.Size
	}
	bar := newProgress(stdio, total, "download "+repo.String(), true)
	var mu sync.Mutex
	done := map[string]int64{}
	opts.Progress = func(p hf.Progress) {
		mu.Lock()
		defer mu.Unlock()
		done[p.Path] = p.Done
		var sum int64
		for _, n := range done {
			sum += n
		}
		bar.Set(sum)
	}
	cache := c.String("cache-dir")
	if cache == "" {
		cache = hub.DefaultCacheDir()
	}
	snap, err := h.Download(c.Context, repo, info.SHA, files, cache, opts)
	bar.Finish()
	if err != nil {
		return err
	}
	// A branch asked for is recorded as huggingface_hub does, so that other
	// tools (transformers offline) resolve it from the cache.
	if rev := c.String("revision"); rev != info.SHA {
		if err := hfcache.Open(cache, hfcache.Type(repo.Type.String()), repo).WriteRef(rev, info.SHA); err != nil {
			return fmt.Errorf("download %s: %w", repo, err)
		}
	}
	if c.Bool("json") {
		names := make([]string, len(plan))
		for i, f := range plan {
			names[i] = f.Path
		}
		return json.NewEncoder(stdio.Out).Encode(map[string]any{"snapshot": snap, "commit": info.SHA, "files": names, "bytes": total})
	}
	_, err = fmt.Fprintln(stdio.Out, snap)
	return err
}

// --- upload ---

func hubUploadCommand() *cli.Command {
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload every file of a folder as one commit and print the commit sha",
		ArgsUsage: "REPO DIR",
		Flags: append(hubRepoFlags(),
			&cli.StringFlag{Name: "message", Value: "upload with coldint", Usage: "commit message"},
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "branch to commit to"},
			&cli.BoolFlag{Name: "create", Usage: "create the repo first if it does not exist (private unless --public)"},
			&cli.BoolFlag{Name: "public", Usage: "with --create: create the repo public"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON {commit, files, bytes}"},
		),
		Action: runHubUpload,
	}
}

func runHubUpload(c *cli.Context) error {
	repo, err := repoArg(c, 0)
	if err != nil {
		return err
	}
	if c.NArg() != 2 {
		return usageErrorf("hub upload: need REPO and DIR arguments")
	}
	dir := c.Args().Get(1)
	h, err := openHub(c)
	if err != nil {
		return err
	}
	stdio := ioFrom(c)
	var files []hf.UploadFile
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == ".cache" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		var content io.ReaderAt = f
		if st.Size() < 1<<20 {
			// Small files are read now, so a folder of many files needs few descriptors.
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			content = bytes.NewReader(b)
		}
		files = append(files, hf.UploadFile{Path: filepath.ToSlash(rel), Size: st.Size(), Content: content})
		total += st.Size()
		return nil
	})
	defer func() {
		for _, f := range files {
			if c, ok := f.Content.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("hub upload: read %q: %w", dir, err)
	}
	if len(files) == 0 {
		return usageErrorf("hub upload: %q has no files", dir)
	}
	if c.Bool("create") {
		if err := h.CreateRepo(c.Context, repo, !c.Bool("public")); err != nil && !errors.Is(err, hf.ErrRepoExists) {
			return err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	bar := newProgress(stdio, total, "upload "+repo.String(), true)
	var mu sync.Mutex
	done := map[string]int64{}
	sha, err := h.Upload(c.Context, repo, files, c.String("message"), hf.UploadOptions{Revision: c.String("revision"), Progress: func(p hf.Progress) {
		mu.Lock()
		defer mu.Unlock()
		done[p.Path] = p.Done
		var sum int64
		for _, n := range done {
			sum += n
		}
		bar.Set(sum)
	}})
	bar.Finish()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return json.NewEncoder(stdio.Out).Encode(map[string]any{"commit": sha, "files": len(files), "bytes": total})
	}
	_, err = fmt.Fprintln(stdio.Out, sha)
	return err
}

// --- create / visibility ---

func hubCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a model repo (private unless --public)",
		ArgsUsage: "REPO",
		Flags: append(hubRepoFlags(),
			&cli.BoolFlag{Name: "public", Usage: "create the repo public"},
			&cli.BoolFlag{Name: "exist-ok", Usage: "succeed if the repo already exists"},
		),
		Action: func(c *cli.Context) error {
			repo, err := repoArg(c, 0)
			if err != nil {
				return err
			}
			h, err := openHub(c)
			if err != nil {
				return err
			}
			err = h.CreateRepo(c.Context, repo, !c.Bool("public"))
			if errors.Is(err, hf.ErrRepoExists) && c.Bool("exist-ok") {
				err = nil
			}
			return err
		},
	}
}

func hubVisibilityCommand() *cli.Command {
	return &cli.Command{
		Name:      "visibility",
		Usage:     "make a repo public or private",
		ArgsUsage: "REPO public|private",
		Flags:     hubRepoFlags(),
		Action: func(c *cli.Context) error {
			repo, err := repoArg(c, 0)
			if err != nil {
				return err
			}
			var private bool
			switch c.Args().Get(1) {
			case "private":
				private = true
			case "public":
			default:
				return usageErrorf("hub visibility: second argument must be public or private, got %q", c.Args().Get(1))
			}
			h, err := openHub(c)
			if err != nil {
				return err
			}
			return h.SetVisibility(c.Context, repo, private)
		},
	}
}
