// Package publish is the miner's upload path (docs/mining.md#publishing) as a
// resumable sequence of steps: create the Hugging Face repo private, upload
// the tokenizer and the model as one commit, re-download that commit and hash
// it exactly as a validator does (hf/hub.DownloadModel, hf/modelhash), build
// the model-id commitment and check its length, commit it on chain and read
// it back until it matches (waiting out the commitment rate limit), then make
// the repo public.
//
// Progress is kept in a small JSON state file, rewritten atomically after each
// step, so a run that fails resumes at the step that failed; the error names
// that step. The commitment is built only from a commit that was downloaded
// back and hashed, and the commit's existence is checked again right before
// the chain write, so no commitment ever names a commit that does not exist.
// The package is pure Go.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/internal/atomicfile"
)

// Steps of the flow, in order. State.Done names the last one completed.
const (
	StepCreate  = "create"
	StepUpload  = "upload"
	StepVerify  = "verify"
	StepCommit  = "commit"
	StepPublic  = "public"
	stepsFormat = 1
)

var stepOrder = []string{"", StepCreate, StepUpload, StepVerify, StepCommit, StepPublic}

func stepIndex(s string) int {
	for i, v := range stepOrder {
		if v == s {
			return i
		}
	}
	return -1
}

// Errors of the flow.
var (
	// ErrReadBack means the chain never showed the committed model id.
	ErrReadBack = errors.New("commitment read-back does not match")
	// ErrHashMismatch means the downloaded commit does not hash like the
	// local files.
	ErrHashMismatch = errors.New("downloaded model hash differs from the local files")
	// ErrStateMismatch means the state file belongs to another publish.
	ErrStateMismatch = errors.New("publish state belongs to another model, repo or hotkey")
	// ErrCommitMissing means the recorded hub commit is gone.
	ErrCommitMissing = errors.New("hub commit does not exist")
)

// StepError reports which step failed.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("publish step %q failed: %v (run again to resume from this step)", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// State is the progress file.
type State struct {
	Format      int    `json:"format"`
	Repo        string `json:"repo"`
	Competition string `json:"competition"`
	Hotkey      string `json:"hotkey"`
	Netuid      uint16 `json:"netuid"`
	// LocalHash is the model hash (docs/hashing.md#model-hash) of the files to upload: a changed model
	// folder starts a new publish.
	LocalHash string `json:"local_hash"`
	Done      string `json:"done"`
	Commit    string `json:"commit,omitempty"`
	DirHash   string `json:"dir_hash,omitempty"`
	ModelID   string `json:"model_id,omitempty"`
	Block     uint64 `json:"block,omitempty"`
	Public    bool   `json:"public,omitempty"`
	Failed    string `json:"failed,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Chain is what publishing needs from the chain: reads and commitments
// signed by the miner's hotkey.
type Chain interface {
	chain.Reader
	chain.Committer
}

// Options configure a publish.
type Options struct {
	// Dir is the model folder; the files a validator downloads from it
	// (modelhash.Allowed) are uploaded.
	Dir         string
	Repo        hf.RepoID
	Competition string
	Netuid      chain.NetUID
	// Hotkey is the SS58 address of the signer of Chain (the hash salt).
	Hotkey      chain.Hotkey
	Hub         hf.Hub
	Chain       Chain
	KeepPrivate bool
	// StateFile holds the progress (default Dir + ".publish.json").
	StateFile string
	// WorkDir receives the verification download (default a temp folder,
	// removed afterwards).
	WorkDir string
	// CommitRounds is the number of commit attempts (default 10, as the
	// reference); ReadBacks the read-backs per round (default 10).
	CommitRounds, ReadBacks int
	// ReadBackDelay separates read-backs (default 12 s, one block);
	// RateLimitDelay is the wait after a rate-limited commit (default 60 s).
	ReadBackDelay, RateLimitDelay time.Duration
	// Sleep waits (default: a timer honouring ctx). Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Message is the hub commit message.
	Message string
	// Progress receives upload and download progress.
	Progress hf.ProgressFunc
}

func (o *Options) defaults() {
	if o.StateFile == "" {
		o.StateFile = filepath.Clean(o.Dir) + ".publish.json"
	}
	if o.CommitRounds <= 0 {
		o.CommitRounds = 10
	}
	if o.ReadBacks <= 0 {
		o.ReadBacks = 10
	}
	if o.ReadBackDelay <= 0 {
		o.ReadBackDelay = 12 * time.Second
	}
	if o.RateLimitDelay <= 0 {
		o.RateLimitDelay = 60 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Message == "" {
		o.Message = "Upload model with coldint"
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LoadState reads a state file; a missing file gives nil.
func LoadState(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publish state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read publish state %q: %w", path, err)
	}
	if st.Format != stepsFormat || stepIndex(st.Done) < 0 {
		return nil, fmt.Errorf("read publish state %q: unknown format %d or step %q", path, st.Format, st.Done)
	}
	return &st, nil
}

func saveState(path string, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write publish state: %w", err)
	}
	return nil
}

// uploadFiles lists the files to upload, tokenizer files first.
func uploadFiles(ctx context.Context, dir string) ([]string, error) {
	files, err := modelhash.Allowed(ctx, dir)
	if err != nil {
		return nil, err
	}
	tok := map[string]bool{"tokenizer.json": true, "tokenizer_config.json": true, "special_tokens_map.json": true,
		"added_tokens.json": true, "tokenizer.model": true, "vocab.json": true, "merges.txt": true}
	sort.SliceStable(files, func(i, j int) bool { return tok[files[i]] && !tok[files[j]] })
	return files, nil
}

// Run publishes (or resumes publishing) and returns the final state.
func Run(ctx context.Context, o Options) (*State, error) {
	o.defaults()
	if err := chain.ValidateRepoID(o.Repo.String()); err != nil {
		return nil, err
	}
	files, err := uploadFiles(ctx, o.Dir)
	if err != nil {
		return nil, fmt.Errorf("publish %q: %w", o.Dir, err)
	}
	filter := func(rel string) bool {
		for _, f := range files {
			if f == rel {
				return true
			}
		}
		return false
	}
	local, err := modelhash.Dir(ctx, o.Dir, modelhash.Options{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("publish %q: hash local files: %w", o.Dir, err)
	}
	// The id must fit before anything is uploaded (placeholder commit/hash of
	// the final lengths).
	probe := chain.ModelID{Namespace: o.Repo.Namespace, Name: o.Repo.Name, Commit: fmt40, Hash: local, Competition: o.Competition}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	st, err := LoadState(o.StateFile)
	if err != nil {
		return nil, err
	}
	fresh := &State{Format: stepsFormat, Repo: o.Repo.String(), Competition: o.Competition, Hotkey: o.Hotkey.String(), Netuid: uint16(o.Netuid), LocalHash: local}
	if st == nil {
		st = fresh
	} else if st.Repo != fresh.Repo || st.Hotkey != fresh.Hotkey || st.Netuid != fresh.Netuid || st.Competition != fresh.Competition {
		return st, fmt.Errorf("publish: %w (%q; remove it to start over)", ErrStateMismatch, o.StateFile)
	} else if st.LocalHash != local {
		slog.Info("the model files changed since the last publish; starting over", "state", o.StateFile)
		st = fresh
	} else if st.Done != "" {
		slog.Info("resuming publish", "done", st.Done, "state", o.StateFile)
	}
	p := &run{o: o, st: st, files: files}
	for _, step := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{StepCreate, p.create}, {StepUpload, p.upload}, {StepVerify, p.verify}, {StepCommit, p.commit}, {StepPublic, p.public},
	} {
		if stepIndex(st.Done) >= stepIndex(step.name) {
			continue
		}
		if err := step.fn(ctx); err != nil {
			st.Failed, st.LastError = step.name, err.Error()
			if serr := saveState(o.StateFile, st); serr != nil {
				err = errors.Join(err, serr)
			}
			return st, &StepError{Step: step.name, Err: err}
		}
		st.Done, st.Failed, st.LastError = step.name, "", ""
		if err := saveState(o.StateFile, st); err != nil {
			return st, &StepError{Step: step.name, Err: err}
		}
		slog.Info("publish step done", "step", step.name)
	}
	return st, nil
}

const fmt40 = "0000000000000000000000000000000000000000"

type run struct {
	o     Options
	st    *State
	files []string
}

func (p *run) create(ctx context.Context) error {
	err := p.o.Hub.CreateRepo(ctx, p.o.Repo, true)
	if err != nil && !errors.Is(err, hf.ErrRepoExists) {
		return err
	}
	// Force private even when the repo existed: the weights must not be
	// public before the chain timestamp exists.
	return p.o.Hub.SetVisibility(ctx, p.o.Repo, true)
}

func (p *run) upload(ctx context.Context) error {
	var up []hf.UploadFile
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	for _, name := range p.files {
		f, err := os.Open(filepath.Join(p.o.Dir, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		closers = append(closers, f)
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		up = append(up, hf.UploadFile{Path: name, Size: fi.Size(), Content: f})
	}
	sha, err := p.o.Hub.Upload(ctx, p.o.Repo, up, p.o.Message, hf.UploadOptions{Progress: p.o.Progress})
	if err != nil {
		return err
	}
	p.st.Commit, p.st.DirHash, p.st.ModelID = sha, "", ""
	return nil
}

func (p *run) verify(ctx context.Context) error {
	work := p.o.WorkDir
	if work == "" {
		tmp, err := os.MkdirTemp("", "coldint-publish-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		work = tmp
	}
	snap, _, err := hub.DownloadModel(ctx, p.o.Hub, p.o.Repo, p.st.Commit, work, 0, p.o.Progress)
	if err != nil {
		return fmt.Errorf("download %s@%s: %w", p.o.Repo, p.st.Commit, err)
	}
	h, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		return err
	}
	if h != p.st.LocalHash {
		return fmt.Errorf("%w: %s@%s hashes to %s, local files to %s", ErrHashMismatch, p.o.Repo, p.st.Commit, h, p.st.LocalHash)
	}
	id := chain.ModelID{Namespace: p.o.Repo.Namespace, Name: p.o.Repo.Name, Commit: p.st.Commit,
		Hash: modelhash.Salt(h, p.o.Hotkey.String()), Competition: p.o.Competition}
	if err := id.Validate(); err != nil {
		return err
	}
	p.st.DirHash, p.st.ModelID = h, id.String()
	return nil
}

// readBack returns the parsed commitment of the hotkey, if any.
func (p *run) readBack(ctx context.Context) (chain.ModelID, chain.BlockNumber, bool, error) {
	c, err := p.o.Chain.Commitment(ctx, p.o.Netuid, p.o.Hotkey)
	if errors.Is(err, chain.ErrNotFound) {
		return chain.ModelID{}, 0, false, nil
	}
	if err != nil {
		return chain.ModelID{}, 0, false, err
	}
	id, err := chain.ParseModelID(c.Data)
	if err != nil {
		return chain.ModelID{}, c.Block, false, nil
	}
	return id, c.Block, true, nil
}

func (p *run) commit(ctx context.Context) error {
	want, err := chain.ParseModelID(p.st.ModelID)
	if err != nil {
		return err
	}
	// Never commit a hub commit that is gone.
	if _, err := p.o.Hub.ModelInfo(ctx, p.o.Repo, want.Commit); err != nil {
		return fmt.Errorf("%w: %s@%s: %w", ErrCommitMissing, p.o.Repo, want.Commit, err)
	}
	_, err = Commit(ctx, p.o, want, p.st)
	return err
}

// Commit writes id on chain for o.Hotkey and reads it back until it
// matches (docs/mining.md#publishing, step 5): up to o.CommitRounds commits, each followed by up
// to o.ReadBacks read-backs. A rate-limited commit waits o.RateLimitDelay and
// counts as a round. When the chain already holds id nothing is written (the
// block, and with it the time advantage, is kept). st, when not nil, gets the
// block of the matching commitment.
func Commit(ctx context.Context, o Options, id chain.ModelID, st *State) (chain.BlockNumber, error) {
	o.defaults()
	p := &run{o: o}
	if got, block, ok, err := p.readBack(ctx); err != nil {
		return 0, fmt.Errorf("read commitment: %w", err)
	} else if ok && got == id {
		slog.Info("the chain already holds this model id", "block", block)
		if st != nil {
			st.Block = uint64(block)
		}
		return block, nil
	}
	data := id.String()
	var lastErr error
	for round := 1; round <= o.CommitRounds; round++ {
		b, err := o.Chain.Commit(ctx, o.Netuid, data)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, chain.ErrRateLimited) {
				slog.Warn("commitment rate limited; waiting", "round", round, "of", o.CommitRounds, "wait", o.RateLimitDelay)
				if err := o.Sleep(ctx, o.RateLimitDelay); err != nil {
					return 0, err
				}
				continue
			}
			if errors.Is(err, chain.ErrNotRegistered) || errors.Is(err, chain.ErrTooLarge) || errors.Is(err, chain.ErrUnknownNetuid) {
				return 0, err
			}
			slog.Warn("commit failed; retrying", "round", round, "err", err)
			if err := o.Sleep(ctx, o.ReadBackDelay); err != nil {
				return 0, err
			}
			continue
		}
		slog.Info("committed; reading back", "block", b, "round", round)
		for rb := 1; rb <= o.ReadBacks; rb++ {
			got, block, ok, err := p.readBack(ctx)
			if err == nil && ok && got == id {
				if st != nil {
					st.Block = uint64(block)
				}
				return block, nil
			}
			if err != nil {
				lastErr = err
			} else {
				lastErr = fmt.Errorf("%w: chain holds %q", ErrReadBack, got)
			}
			if rb < o.ReadBacks {
				if err := o.Sleep(ctx, o.ReadBackDelay); err != nil {
					return 0, err
				}
			}
		}
		slog.Warn("read-back did not match; committing again", "round", round, "err", lastErr)
	}
	if !errors.Is(lastErr, ErrReadBack) && !errors.Is(lastErr, chain.ErrRateLimited) {
		lastErr = fmt.Errorf("%w: %w", ErrReadBack, lastErr)
	}
	return 0, fmt.Errorf("commit %q after %d rounds: %w", data, o.CommitRounds, lastErr)
}

func (p *run) public(ctx context.Context) error {
	if p.o.KeepPrivate {
		slog.Warn("the repo stays private: validators cannot download it until it is public", "repo", p.o.Repo)
		return nil
	}
	if err := p.o.Hub.SetVisibility(ctx, p.o.Repo, false); err != nil {
		return err
	}
	p.st.Public = true
	return nil
}
