package hfcache

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/internal/flock"
	"github.com/coldint/coldint/internal/atomicfile"
)

// File is one file of a repo at a commit, as the Hub describes it.
type File struct {
	Path string // slash separated name in the repo
	ETag string // the LFS sha256 (64 hex) or the git blob sha1 (40 hex)
	Size int64
}

// FileOf converts the Hub's description of a file.
func FileOf(fi hf.FileInfo) File { return File{Path: fi.Path, ETag: fi.ETag(), Size: fi.Size} }

// NewHash returns the hash whose hex digest must equal f.ETag: sha256 of
// the content for a 64-digit etag, the git blob sha1 ("blob <size>\0" then
// the content) for a 40-digit one.
func (f File) NewHash() hash.Hash {
	if len(f.ETag) == 64 {
		return sha256.New()
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", f.Size)
	return h
}

// Verify checks that the file at p has f's size and hash; a mismatch wraps
// [hf.ErrIntegrity].
func (f File) Verify(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.Size() != f.Size {
		return fmt.Errorf("check %q: %d bytes, want %d: %w", f.Path, st.Size(), f.Size, hf.ErrIntegrity)
	}
	r, err := os.Open(p)
	if err != nil {
		return err
	}
	defer r.Close()
	h := f.NewHash()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("check %q: %w", f.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.ETag {
		return fmt.Errorf("check %q: hash %s, want %s: %w", f.Path, got, f.ETag, hf.ErrIntegrity)
	}
	return nil
}

// symlink makes symbolic links; tests replace it to act as a file system
// without them.
var symlink = os.Symlink

// Fetch writes the whole content of a file into partial, resuming from
// what partial already holds where it can. The caller of [Repo.Place]
// supplies it; Place checks the result.
type Fetch func(ctx context.Context, partial string) error

// Place makes snapshots/<commit>/<f.Path> a link to the checked blob
// blobs/<f.ETag>. It fetches only when no checked copy is in the cache: an
// entry that already links to a good blob is kept, a good blob placed for
// another commit is linked, and a plain file left by an older coldint is
// checked and moved into blobs/. Fetched content is checked against size
// and hash before it enters blobs/; a wrong result is fetched once more from
// scratch and then refused with [hf.ErrIntegrity]. One process at a time
// works on a blob (the lock huggingface_hub also takes). fetched reports
// whether fetch ran.
func (r *Repo) Place(ctx context.Context, commit string, f File, fetch Fetch) (fetched bool, err error) {
	if err := checkNames(commit, f.Path, f.ETag); err != nil {
		return false, fmt.Errorf("place %q: %w", f.Path, err)
	}
	if f.ETag == "" {
		return false, fmt.Errorf("place %q: no etag: %w", f.Path, hf.ErrIntegrity)
	}
	if r.present(commit, f) {
		return false, nil
	}
	for _, d := range []string{filepath.Dir(r.LockPath(f.ETag)), filepath.Dir(r.BlobPath(f.ETag))} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return false, fmt.Errorf("place %q: %w", f.Path, err)
		}
	}
	lk, err := flock.Acquire(ctx, r.LockPath(f.ETag))
	if err != nil {
		return false, err
	}
	defer lk.Unlock()
	if r.present(commit, f) { // placed by the process that held the lock
		return false, nil
	}
	entry := r.entryPath(commit, f.Path)
	blob := r.BlobPath(f.ETag)
	if err := r.adoptPlainEntry(entry, blob, f); err != nil {
		return false, err
	}
	if _, err := os.Lstat(blob); err == nil {
		if f.Verify(blob) == nil {
			return false, r.link(entry, f)
		}
		// A blob that does not match its name (written by a tool that does
		// not check): drop it and fetch again.
		if err := os.Remove(blob); err != nil {
			return false, fmt.Errorf("place %q: remove bad blob: %w", f.Path, err)
		}
	}
	if err := r.fetchBlob(ctx, f, fetch); err != nil {
		return true, err
	}
	return true, r.link(entry, f)
}

// present reports whether the snapshot entry already resolves to a checked
// copy: a symlink to blobs/<etag>, or the copy made where symlinks fail.
func (r *Repo) present(commit string, f File) bool {
	entry := r.entryPath(commit, f.Path)
	st, err := os.Lstat(entry)
	if err != nil {
		return false
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(entry)
		if err != nil || filepath.ToSlash(target) != LinkTarget(f.Path, f.ETag) {
			return false
		}
		return f.Verify(r.BlobPath(f.ETag)) == nil
	}
	// A plain file is kept as is only where symlinks cannot be made.
	return st.Mode().IsRegular() && !r.canSymlink() && f.Verify(entry) == nil
}

// adoptPlainEntry moves a checked plain file at entry (older coldint
// versions wrote those) into blobs/ when the blob is not there yet. A plain
// file with the wrong content is left for the link to replace.
func (r *Repo) adoptPlainEntry(entry, blob string, f File) error {
	st, err := os.Lstat(entry)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if _, err := os.Lstat(blob); err == nil || f.Verify(entry) != nil {
		return nil
	}
	if err := os.Link(entry, blob); err != nil {
		// No hard links here: copy it in, atomically.
		if err := copyFile(entry, blob); err != nil {
			return fmt.Errorf("move %q into blobs: %w", f.Path, err)
		}
	}
	_ = os.Chmod(blob, blobMode(r.Dir()))
	return atomicfile.SyncDir(filepath.Dir(blob))
}

// fetchBlob fetches into blobs/<etag>.incomplete, checks and renames it.
func (r *Repo) fetchBlob(ctx context.Context, f File, fetch Fetch) error {
	partial := r.IncompletePath(f.ETag)
	var err error
	for try := 0; try < 2; try++ {
		if err = fetch(ctx, partial); err != nil {
			return err
		}
		if err = f.Verify(partial); err == nil {
			break
		}
		// Wrong bytes: start over once from scratch, then give up.
		os.Remove(partial)
		if !errors.Is(err, hf.ErrIntegrity) || ctx.Err() != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if err := syncFile(partial); err != nil {
		return err
	}
	blob := r.BlobPath(f.ETag)
	if err := os.Rename(partial, blob); err != nil {
		return fmt.Errorf("move %q into blobs: %w", f.Path, err)
	}
	return atomicfile.SyncDir(filepath.Dir(blob))
}

// link points the entry at the blob: a relative symlink made under a
// temporary name and renamed over the entry. Where symlinks fail the blob is
// copied instead.
func (r *Repo) link(entry string, f File) error {
	dir := filepath.Dir(entry)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("link %q: %w", f.Path, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(entry)+"."+randomSuffix()+".link")
	if err := symlink(LinkTarget(f.Path, f.ETag), tmp); err != nil {
		if err := copyFile(r.BlobPath(f.ETag), entry); err != nil {
			return fmt.Errorf("copy %q into snapshot (no symlinks here): %w", f.Path, err)
		}
		return atomicfile.SyncDir(dir)
	}
	if err := os.Rename(tmp, entry); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %q: %w", f.Path, err)
	}
	return atomicfile.SyncDir(dir)
}

// canSymlink tries a symlink in the repo folder.
func (r *Repo) canSymlink() bool {
	tmp := filepath.Join(r.Dir(), ".symlink-test-"+randomSuffix())
	if err := symlink("blobs", tmp); err != nil {
		return false
	}
	os.Remove(tmp)
	return true
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// writeFileAtomic writes data to p (mode 0666 less the umask) through a
// temporary file and a rename.
func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return err
	}
	return writeAtomic(p, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeAtomic(dst, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

func writeAtomic(dst string, fill func(io.Writer) error) error {
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+"."+randomSuffix()+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dst))
}

// blobMode is 0666 less the umask, found from a fresh file (the way
// huggingface_hub finds it), for files that arrive with another mode.
func blobMode(dir string) fs.FileMode {
	tmp := filepath.Join(dir, ".mode-"+randomSuffix())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return 0o644
	}
	st, err := f.Stat()
	f.Close()
	os.Remove(tmp)
	if err != nil {
		return 0o644
	}
	return st.Mode().Perm()
}
