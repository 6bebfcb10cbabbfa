// Package modelhash computes the exact model content hash of the coldint
// validator (docs/hashing.md#model-hash): the file hash B64(sha256(bytes)), the
// directory hash over the ordered file hashes, and the hotkey-salted hash that
// miners commit on chain.
//
// The directory walk is top-down: in every directory the regular files are
// taken sorted by name (byte-wise, which equals Python's code-point order for
// UTF-8 names) and then the subdirectories, also sorted (the Python validator
// uses filesystem order; snapshots are flat in practice). Files are hashed in
// parallel on all cores while the outer digest is fed in walk order. Files are
// read streaming, never whole into memory.
//
// The validator hashes whatever its downloader put in the snapshot directory,
// which is exactly the allow-list of [Allowed]. Use [Options.Filter] with
// [AllowedFilter] to hash only those files of an arbitrary model folder.
package modelhash

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// blockSize is the read size used when hashing a file. The Python validator
// reads 64 KiB blocks; the result does not depend on it.
const blockSize = 1 << 20

// VoidHash is B64(sha256("")), the hash of an empty input. [Dir] never returns
// it for a directory without files; v1.0.7/1.0.8 of the validator wrongly
// cached it for missing directories.
const VoidHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// HashLen is the length of every B64 sha256 hash string.
const HashLen = 44

// ErrNoFiles is returned by [Dir] when no file was hashed: the hash of such a
// directory is "none/invalid", never [VoidHash].
var ErrNoFiles = errors.New("no files to hash")

// encode returns the standard padded base64 of a digest.
func encode(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// Reader returns B64(sha256(all bytes of r)), reading in blocks and checking
// ctx between blocks.
func Reader(ctx context.Context, r io.Reader) (string, error) {
	h := sha256.New()
	if err := copyCtx(ctx, h, r); err != nil {
		return "", err
	}
	return encode(h.Sum(nil)), nil
}

// Bytes returns B64(sha256(b)).
func Bytes(b []byte) string {
	s := sha256.Sum256(b)
	return encode(s[:])
}

// File returns the file hash of the file at name: B64(sha256(contents)).
func File(ctx context.Context, name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("hash file %q: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("hash file %q: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("hash file %q: not a regular file (%s)", name, st.Mode().Type())
	}
	s, err := Reader(ctx, f)
	if err != nil {
		return "", fmt.Errorf("hash file %q: %w", name, err)
	}
	return s, nil
}

// Combine returns the directory hash of the given file hashes in order:
// B64(sha256(hash1 || hash2 || ...)) over the ASCII of each B64 string. It
// returns [ErrNoFiles] for an empty list.
func Combine(fileHashes []string) (string, error) {
	if len(fileHashes) == 0 {
		return "", ErrNoFiles
	}
	h := sha256.New()
	for _, fh := range fileHashes {
		io.WriteString(h, fh)
	}
	return encode(h.Sum(nil)), nil
}

// Salt returns the on-chain hash: B64(sha256(UTF-8(dirHash + hotkey))), plain
// string concatenation of the directory hash and the SS58 hotkey.
func Salt(dirHash, hotkey string) string {
	return Bytes([]byte(dirHash + hotkey))
}

// Options tunes [Dir] and [Files].
type Options struct {
	// Workers is the number of files hashed at once; 0 means GOMAXPROCS.
	Workers int
	// Filter, when set, keeps only the files for which it returns true. It
	// gets the slash-separated path relative to the root. nil keeps every
	// file, as the validator does on a snapshot directory.
	Filter func(rel string) bool
	// OnFile, when set, is called after each file is hashed with its relative
	// path, size and hash (from worker goroutines, possibly concurrently).
	OnFile func(rel string, size int64, hash string)
}

// Entry is one file of a hashed directory.
type Entry struct {
	// Path is relative to the root, slash-separated.
	Path string `json:"path"`
	// Size in bytes.
	Size int64 `json:"size"`
	// Hash is the file hash (B64 sha256), empty until hashed.
	Hash string `json:"hash,omitempty"`
}

// Files lists, in hashing order, the files [Dir] hashes under root. Symbolic
// links to regular files count as files (their target is hashed, as Python's
// os.walk + open does); links to directories are not followed; other special
// files and dangling links are errors.
func Files(ctx context.Context, root string, opts Options) ([]Entry, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("list model files %q: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("list model files %q: not a directory", root)
	}
	var out []Entry
	if err := walk(ctx, root, "", opts.Filter, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func walk(ctx context.Context, root, rel string, filter func(string) bool, out *[]Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(root, filepath.FromSlash(rel))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list model files %q: %w", dir, err)
	}
	// os.ReadDir sorts by name (byte-wise); keep it explicit.
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	var subdirs []string
	for _, e := range ents {
		name := e.Name()
		p := name
		if rel != "" {
			p = path.Join(rel, name)
		}
		full := filepath.Join(dir, name)
		mode := e.Type()
		var size int64
		switch {
		case mode.IsDir():
			subdirs = append(subdirs, p)
			continue
		case mode&fs.ModeSymlink != 0:
			tst, err := os.Stat(full)
			if err != nil {
				return fmt.Errorf("list model files: follow link %q: %w", full, err)
			}
			if tst.IsDir() {
				continue // os.walk does not follow links to directories
			}
			if !tst.Mode().IsRegular() {
				return fmt.Errorf("list model files: %q links to a special file", full)
			}
			size = tst.Size()
		case mode.IsRegular():
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("list model files: stat %q: %w", full, err)
			}
			size = info.Size()
		default:
			return fmt.Errorf("list model files: %q is a special file (%s)", full, mode)
		}
		if filter != nil && !filter(p) {
			continue
		}
		*out = append(*out, Entry{Path: p, Size: size})
	}
	for _, sd := range subdirs {
		if err := walk(ctx, root, sd, filter, out); err != nil {
			return err
		}
	}
	return nil
}

// Result is the outcome of [DirDetail].
type Result struct {
	// Hash is the directory hash.
	Hash string `json:"hash"`
	// Files are the hashed files in hashing order.
	Files []Entry `json:"files"`
	// Bytes is the total size hashed.
	Bytes int64 `json:"bytes"`
}

// Dir returns the directory hash of root (docs/hashing.md#directory-hash). It returns [ErrNoFiles]
// (wrapped) when no file is selected.
func Dir(ctx context.Context, root string, opts Options) (string, error) {
	r, err := DirDetail(ctx, root, opts)
	if err != nil {
		return "", err
	}
	return r.Hash, nil
}

// DirDetail is [Dir] that also returns the hashed files and their hashes.
func DirDetail(ctx context.Context, root string, opts Options) (Result, error) {
	files, err := Files(ctx, root, opts)
	if err != nil {
		return Result{}, err
	}
	if len(files) == 0 {
		return Result{}, fmt.Errorf("hash model dir %q: %w", root, ErrNoFiles)
	}
	if err := hashAll(ctx, root, files, opts); err != nil {
		return Result{}, err
	}
	hashes := make([]string, len(files))
	var total int64
	for i, f := range files {
		hashes[i] = f.Hash
		total += f.Size
	}
	h, err := Combine(hashes)
	if err != nil {
		return Result{}, err
	}
	return Result{Hash: h, Files: files, Bytes: total}, nil
}

// hashAll fills files[i].Hash using a pool of workers. Largest files start
// first so that one big file does not finish last on an idle pool.
func hashAll(ctx context.Context, root string, files []Entry, opts Options) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(files) {
		workers = len(files)
	}
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return files[order[a]].Size > files[order[b]].Size })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, blockSize)
			h := sha256.New()
			for i := range jobs {
				full := filepath.Join(root, filepath.FromSlash(files[i].Path))
				s, n, err := hashFile(ctx, full, h, buf)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				files[i].Hash = s
				files[i].Size = n
				if opts.OnFile != nil {
					opts.OnFile(files[i].Path, n, s)
				}
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func hashFile(ctx context.Context, name string, h hash.Hash, buf []byte) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, fmt.Errorf("hash file %q: %w", name, err)
	}
	defer f.Close()
	h.Reset()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		m, rerr := f.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", 0, fmt.Errorf("hash file %q: %w", name, rerr)
		}
	}
	return encode(h.Sum(nil)), n, nil
}

// copyCtx copies r into w in blocks, stopping when ctx is done.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) error {
	buf := make([]byte, blockSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
