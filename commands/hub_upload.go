package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
)

// hubUploadOptions are the inputs of `coldint hub upload`.
type hubUploadOptions struct {
	hubRepoArgs
	Message  string
	Revision string
	Create   bool
	Public   bool
	JSON     bool
}

func newHubUploadCmd(f *Factory, runF func(context.Context, *hubUploadOptions) error) *cli.Command {
	o := &hubUploadOptions{hubRepoArgs: hubRepoArgs{F: f}}
	if runF == nil {
		runF = runHubUpload
	}
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload every file of a folder as one commit and print the commit sha",
		ArgsUsage: "REPO DIR",
		Flags: append(hubRepoFlags(&o.hubRepoArgs),
			&cli.StringFlag{Name: "message", Value: "upload with coldint", Usage: "commit message", Destination: &o.Message},
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "branch to commit to", Destination: &o.Revision},
			&cli.BoolFlag{Name: "create", Usage: "create the repo first if it does not exist (private unless --public)", Destination: &o.Create},
			&cli.BoolFlag{Name: "public", Usage: "with --create: create the repo public", Destination: &o.Public},
			&cli.BoolFlag{Name: "json", Usage: "print JSON {commit, files, bytes}", Destination: &o.JSON},
		),
		Action: func(c *cli.Context) error {
			o.Args, o.RepoTypeSet = c.Args().Slice(), c.IsSet("repo-type")
			return runF(c.Context, o)
		},
	}
}

func runHubUpload(ctx context.Context, o *hubUploadOptions) error {
	repo, err := o.repo("upload", 0)
	if err != nil {
		return err
	}
	if len(o.Args) != 2 {
		return usageErrorf("hub upload: need REPO and DIR arguments")
	}
	dir := o.Args[1]
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	files, total, err := readUploadFiles(dir)
	defer closeUploadFiles(files)
	if err != nil {
		return fmt.Errorf("hub upload: read %q: %w", dir, err)
	}
	if len(files) == 0 {
		return usageErrorf("hub upload: %q has no files", dir)
	}
	if o.Create {
		if err := h.CreateRepo(ctx, repo, !o.Public); err != nil && !errors.Is(err, hf.ErrRepoExists) {
			return err
		}
	}
	bar := newProgress(o.F.IO, total, "upload "+repo.String(), true)
	sha, err := h.Upload(ctx, repo, files, o.Message, hf.UploadOptions{Revision: o.Revision, Progress: sumProgress(bar)})
	bar.Finish()
	if err != nil {
		return err
	}
	if o.JSON {
		return json.NewEncoder(o.F.IO.Out).Encode(map[string]any{"commit": sha, "files": len(files), "bytes": total})
	}
	_, err = fmt.Fprintln(o.F.IO.Out, sha)
	return err
}

// readUploadFiles lists the regular files under dir (skipping .git and
// .cache folders), sorted by path, with their total size. Small files are
// read now, so a folder of many files needs few descriptors; larger ones
// stay open: close them with closeUploadFiles, also after an error.
func readUploadFiles(dir string) ([]hf.UploadFile, int64, error) {
	var files []hf.UploadFile
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		f, err := openUploadFile(p)
		if err != nil {
			return err
		}
		f.Path = filepath.ToSlash(rel)
		files = append(files, f)
		total += f.Size
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, total, err
}

// openUploadFile opens the file at p: read into memory under 1 MiB, else
// left open.
func openUploadFile(p string) (hf.UploadFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return hf.UploadFile{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return hf.UploadFile{}, err
	}
	if st.Size() >= 1<<20 {
		return hf.UploadFile{Size: st.Size(), Content: f}, nil
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return hf.UploadFile{}, err
	}
	return hf.UploadFile{Size: st.Size(), Content: bytes.NewReader(b)}, nil
}

func closeUploadFiles(files []hf.UploadFile) {
	for _, f := range files {
		if c, ok := f.Content.(io.Closer); ok {
			c.Close()
		}
	}
}
