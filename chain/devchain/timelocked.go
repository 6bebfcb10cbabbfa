package devchain

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
)

// Timelocked commit-reveal (commit-reveal version 4). A validator commits
// its weight row encrypted to a beacon round; at the epoch of its reveal
// epoch, before Yuma runs, the chain decrypts it with the beacon's
// signature of that round and sets the weights as if set_weights had been
// called in that block. Subtensor reads the signatures from drand pulses
// that relayers put on chain; the devchain is its own beacon: a test
// beacon whose secret key is derived from the genesis record, so it is the
// same after a restart and differs between chains. The devchain does not
// model when a pulse arrives: every round counts as published by the time
// its commit's reveal epoch comes.

// opCommitTimelocked is SubtensorModule.commit_timelocked_weights.
const opCommitTimelocked = "commit_timelocked_weights"

// maxTimelockedCommits bounds one hotkey's unrevealed timelocked commits
// on a subnet.
const maxTimelockedCommits = 10

// tlCommit is one unrevealed timelocked commit.
type tlCommit struct {
	Hotkey chain.Hotkey      `json:"hotkey"`
	Commit []byte            `json:"commit"`
	Round  uint64            `json:"round"`
	Block  chain.BlockNumber `json:"block"`
}

// genesisBeacon returns the devchain's beacon, derived from the digest of
// its genesis record.
func genesisBeacon(genesisDigest [32]byte) *timelock.TestBeacon {
	b, err := timelock.NewTestBeaconFromSeed(genesisDigest[:])
	if err != nil {
		panic("devchain: derive the beacon: " + err.Error()) // reads from a byte slice long enough
	}
	return b
}

// beaconInfo is the beacon in the chain package's form.
func (st *state) beaconInfo() (chain.BeaconInfo, error) {
	if st.beacon == nil {
		return chain.BeaconInfo{}, fmt.Errorf("read beacon: the chain has no genesis: %w", chain.ErrNotFound)
	}
	return st.beacon.Info().BeaconInfo(), nil
}

// Beacon returns the beacon timelocked commits on this chain are decrypted with.
func (c *Chain) Beacon(ctx context.Context) (chain.BeaconInfo, error) {
	var info chain.BeaconInfo
	err := c.read(ctx, func(chain.BlockNumber) error {
		var err error
		info, err = c.st.beaconInfo()
		return err
	})
	return info, err
}

// Beacon returns the beacon timelocked commits on the served chain are decrypted with.
func (c *Client) Beacon(ctx context.Context) (chain.BeaconInfo, error) {
	var info chain.BeaconInfo
	err := c.call(ctx, "devchain_beacon", struct{}{}, &info)
	return info, err
}

// CommitTimelockedWeights stores a timelocked weight commit of the
// account's hotkey (see [chain.TimelockedWeightSetter]).
func (a *Account) CommitTimelockedWeights(ctx context.Context, netuid chain.NetUID, commit []byte, revealRound uint64, version uint16) (chain.BlockNumber, error) {
	b, err := a.seal(ctx, &op{Kind: opCommitTimelocked, Netuid: netuid, Hotkey: a.hotkey, Commit: commit, Round: revealRound, CRVersion: version})
	if err != nil {
		return 0, fmt.Errorf("commit timelocked weights: %w", err)
	}
	return b, nil
}

// CommitTimelockedWeights submits a timelocked weight commit signed by the
// account's hotkey.
func (a *RemoteAccount) CommitTimelockedWeights(ctx context.Context, netuid chain.NetUID, commit []byte, revealRound uint64, version uint16) (chain.BlockNumber, error) {
	return a.submit(ctx, signedCall{Method: "commit_timelocked_weights", Netuid: netuid, Commit: commit, Round: revealRound, CRVersion: version})
}

// checkTimelocked checks a timelocked commit for inclusion in block b.
func (st *state) checkTimelocked(o *op, b chain.BlockNumber) error {
	s, uid, err := st.registered(o.Netuid, o.Hotkey)
	if err != nil {
		return err
	}
	switch v := s.Params.CommitRevealVersion; {
	case !s.Params.CommitReveal:
		return fmt.Errorf("commit timelocked weights on netuid %d: commit-reveal disabled: %w", o.Netuid, chain.ErrCommitReveal)
	case v < timelock.CommitRevealVersion:
		return fmt.Errorf("commit timelocked weights on netuid %d: the subnet has commit-reveal version %d, timelocked commits need %d: %w",
			o.Netuid, v, timelock.CommitRevealVersion, chain.ErrCommitReveal)
	case o.CRVersion != v:
		return fmt.Errorf("commit timelocked weights: commit-reveal version %d, the chain expects %d: %w", o.CRVersion, v, chain.ErrCommitReveal)
	case len(o.Commit) == 0 || len(o.Commit) > timelock.MaxCommitBytes:
		return fmt.Errorf("commit timelocked weights: commit is %d bytes, want 1 to %d: %w", len(o.Commit), timelock.MaxCommitBytes, chain.ErrTooLarge)
	case o.Round == 0:
		return fmt.Errorf("commit timelocked weights: reveal round 0: %w", errBadRequest)
	}
	n := 0
	for _, c := range s.TLCommits {
		if c.Hotkey == o.Hotkey {
			n++
		}
	}
	if n >= maxTimelockedCommits {
		return fmt.Errorf("commit timelocked weights: %d unrevealed commits: %w", n, chain.ErrCommitReveal)
	}
	return checkRate(s, uid, b)
}

// applyTimelocked stores a checked timelocked commit made in block b.
func (st *state) applyTimelocked(o *op, b chain.BlockNumber) {
	s := st.Subnets[o.Netuid]
	uid, _ := s.uidOf(o.Hotkey)
	s.TLCommits = append(s.TLCommits, tlCommit{Hotkey: o.Hotkey, Commit: o.Commit, Round: o.Round, Block: b})
	s.Neurons[uid].LastUpdate = b
}

// revealTimelocked runs at s's epoch block b, before Yuma: the commits made
// RevealPeriodEpochs epochs ago are decrypted and their weights set; older
// ones (their epoch was skipped) and those that do not decrypt or check are
// dropped with a log line; newer ones wait.
func (st *state) revealTimelocked(s *subnet, b chain.BlockNumber) {
	if len(s.TLCommits) == 0 {
		return
	}
	now := epoch(s.Netuid, s.Params.Tempo, b)
	if now < s.Params.RevealPeriodEpochs {
		return // nothing committed that long ago
	}
	due := now - s.Params.RevealPeriodEpochs
	var keep []tlCommit
	for _, c := range s.TLCommits {
		ce := epoch(s.Netuid, s.Params.Tempo, c.Block)
		if ce > due {
			keep = append(keep, c)
			continue
		}
		attrs := []any{"netuid", s.Netuid, "hotkey", c.Hotkey.String(), "commit_block", c.Block, "reveal_round", c.Round, "block", b}
		if ce < due {
			st.logger().Warn("devchain: timelocked commit expired unrevealed, dropped", attrs...)
			continue
		}
		if err := st.revealOne(s, c, b); err != nil {
			st.logger().Warn("devchain: timelocked commit dropped", append(attrs, "err", err)...)
			continue
		}
		st.logger().Info("devchain: timelocked commit revealed", attrs...)
	}
	s.TLCommits = keep
}

// revealOne decrypts c and sets its weights in block b, with the checks
// subtensor applies: the payload's hotkey is the committer's, and the row
// passes set_weights' checks (version key, uids, lengths).
func (st *state) revealOne(s *subnet, c tlCommit, b chain.BlockNumber) error {
	if st.beacon == nil {
		return fmt.Errorf("reveal: the chain has no beacon")
	}
	sig, err := st.beacon.Sign(c.Round)
	if err != nil {
		return fmt.Errorf("reveal: sign round %d: %w", c.Round, err)
	}
	pt, err := timelock.Decrypt(sig, c.Commit)
	if err != nil {
		return fmt.Errorf("reveal: %w", err)
	}
	p, err := timelock.DecodePayload(pt)
	if err != nil {
		return fmt.Errorf("reveal: %w", err)
	}
	if chain.Hotkey(p.Hotkey) != c.Hotkey {
		return fmt.Errorf("reveal: payload hotkey %s is not the committer %s: %w", chain.Hotkey(p.Hotkey), c.Hotkey, chain.ErrInvalidWeights)
	}
	uid, ok := s.uidOf(c.Hotkey)
	if !ok {
		return fmt.Errorf("reveal: hotkey %s on netuid %d: %w", c.Hotkey, s.Netuid, chain.ErrNotRegistered)
	}
	o := &op{Kind: opSetWeights, Netuid: s.Netuid, Hotkey: c.Hotkey, Values: p.Values, Version: p.VersionKey}
	for _, u := range p.UIDs {
		o.UIDs = append(o.UIDs, chain.UID(u))
	}
	if err := st.checkWeights(s, uid, o, b, false); err != nil {
		return fmt.Errorf("reveal: %w", err)
	}
	s.setRow(uid, o.UIDs, o.Values, b)
	return nil
}

func (st *state) logger() *slog.Logger {
	if st.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return st.log
}

var (
	_ chain.TimelockedWeightSetter = (*Account)(nil)
	_ chain.TimelockedWeightSetter = (*RemoteAccount)(nil)
)
