package evalproof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
)

// Publisher publishes validator steps to a folder or a Hub dataset repo and
// records each step root in the validator's chain commitment. Steps are
// numbered on from the destination's latest.json, and each links to the
// one before. It is not safe for concurrent use.
type Publisher struct {
	// Dir is the destination folder; or else Hub and Repo.
	Dir  string
	Hub  hf.Hub
	Repo hf.RepoID
	// Committer, when set, commits "audit:<root>:<step>" on Netuid.
	Committer chain.Committer
	Netuid    chain.NetUID
	// Info fills the manifest's validator, netuid and dataset.
	Info   StepInfo
	Logger *slog.Logger

	started bool
	prev    *Link
}

// Published is what [Publisher.Publish] did.
type Published struct {
	Step *Step
	// Where is the step's folder or repo path.
	Where string
	// Committed is the commitment's block (0: not committed).
	Committed chain.BlockNumber
	// CommitError says why the root is not on chain (rate limit, …).
	CommitError string
}

// Publish builds, writes and commits the publication of one step.
func (p *Publisher) Publish(ctx context.Context, rep *eval.StepReport, ids map[string]*eval.ModelMetadata) (*Published, error) {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if !p.started {
		prev, err := p.latest(ctx)
		if err != nil {
			return nil, fmt.Errorf("publish step: %w", err)
		}
		p.prev, p.started = prev, true
	}
	info := p.Info
	info.Step, info.Prev = 1, p.prev
	if p.prev != nil {
		info.Step = p.prev.Step + 1
	}
	s, err := FromStep(rep, StepRefs(rep, info.Dataset), ids, info)
	if err != nil {
		return nil, err
	}
	out := &Published{Step: s}
	if out.Where, err = p.write(ctx, s); err != nil {
		return nil, err
	}
	p.prev = &Link{Step: s.Manifest.Step, Root: s.Manifest.Root}
	if p.Committer != nil {
		c := FormatCommitment(s.Manifest.Root, s.Manifest.Step)
		blk, err := p.Committer.Commit(ctx, p.Netuid, c)
		if err != nil {
			out.CommitError = err.Error()
			p.Logger.Warn("evaluation root not committed on chain", "step", s.Manifest.Step, "err", err)
		} else {
			out.Committed = blk
		}
	}
	p.Logger.Info("step published", "step", s.Manifest.Step, "root", s.Manifest.Root, "where", out.Where, "committed_block", out.Committed)
	return out, nil
}

func (p *Publisher) write(ctx context.Context, s *Step) (string, error) {
	if p.Dir != "" {
		return filepath.Join(p.Dir, StepDir(s.Manifest.Step)), WriteDir(p.Dir, s)
	}
	names, datas, err := s.Files()
	if err != nil {
		return "", err
	}
	files := make([]hf.UploadFile, len(names))
	for i := range names {
		files[i] = hf.UploadFile{Path: names[i], Size: int64(len(datas[i])), Content: bytes.NewReader(datas[i])}
	}
	msg := fmt.Sprintf("evaluation step %d, root %s", s.Manifest.Step, s.Manifest.Root)
	if _, err := p.Hub.Upload(ctx, p.Repo, files, msg, hf.UploadOptions{}); err != nil {
		return "", fmt.Errorf("publish step %d to %s: %w", s.Manifest.Step, p.Repo, err)
	}
	return p.Repo.String() + "/" + StepDir(s.Manifest.Step), nil
}

// latest reads the destination's latest.json (nil when it has none),
// creating the Hub repo when it does not exist.
func (p *Publisher) latest(ctx context.Context) (*Link, error) {
	if p.Dir == "" && (p.Hub == nil || p.Repo.IsZero()) {
		return nil, fmt.Errorf("no destination: a folder or a hub repo is needed")
	}
	var b []byte
	var err error
	if p.Dir != "" {
		b, err = os.ReadFile(filepath.Join(p.Dir, LatestFile))
	} else {
		b, err = ReadHubFile(ctx, p.Hub, p.Repo, "", LatestFile)
		if errors.Is(err, hf.ErrRepoNotFound) {
			if err := p.Hub.CreateRepo(ctx, p.Repo, false); err != nil && !errors.Is(err, hf.ErrRepoExists) {
				return nil, fmt.Errorf("create %s: %w", p.Repo, err)
			}
			return nil, nil
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseLatest(b)
}
