package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
)

// scoreOptions are the inputs of `coldint score`.
type scoreOptions struct {
	IO        IO
	Input     string // score input JSON file, - for stdin
	JSON      bool
	GroupSeed uint64
	SeedSet   bool // --group-seed given (else a random seed)
}

// newScoreCmd is `coldint score`, the offline explainer of the validator's
// scoring rules. runF replaces runScore in tests.
func newScoreCmd(f *Factory, runF func(context.Context, *scoreOptions) error) *cli.Command {
	opts := &scoreOptions{IO: f.IO}
	if runF == nil {
		runF = runScore
	}
	return &cli.Command{
		Name:  "score",
		Usage: "explain a competition's scoring: win rates and weights from per-sample losses",
		Description: `Runs the validator's scoring on given per-sample losses of one competition:
sample grouping (group_samples g > 1: NaN → +Inf, all-+Inf columns zeroed,
truncation to a multiple of g, one random shuffle, sums of g), the sequential-
incumbent win rule with time advantage (f = 1 − advantage_initial ·
advantage_decay^(age/361), oldest commitment first), the absolute win rate, and
weights = win_rate^weight_skew_factor normalised. The weights are those of the
competition before the hall of fame and the EMA.

Input (--input FILE, or - for stdin):
  {"current_block": N, "advantage_initial": a, "advantage_decay": d,
   "weight_skew_factor": k, "group_samples": g,
   "models": [{"uid": u, "block": b, "losses": [...]}, ...]}
A loss may be a number, "inf", "nan" or null (+Inf); "losses": null means the
model has no results (weight 0). Missing parameters default to 0.004, 0.995,
1.2 and 1.

Output: win_rate, win_abs_rate and weights keyed by uid, plus the advantage
factors; a table, or JSON with --json. With g > 1, --seed fixes the shuffle
(the seed used is always printed).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Usage: "score input JSON file (- for stdin)", Destination: &opts.Input},
			jsonFlagTo(&opts.JSON),
			&cli.Uint64Flag{Name: "group-seed", Aliases: []string{"seed"}, Usage: "seed of the grouping shuffle (default: random)", Destination: &opts.GroupSeed},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageErrorf("score: unexpected argument %q (use --input FILE)", c.Args().First())
			}
			opts.SeedSet = c.IsSet("group-seed")
			return runF(c.Context, opts)
		},
	}
}

func runScore(_ context.Context, opts *scoreOptions) error {
	path := opts.Input
	if path == "" {
		return usageErrorf("score: --input FILE is required")
	}
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(opts.IO.In, 1<<30))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("read score input %q: %w", path, err)
	}
	in, err := eval.ParseScoreInput(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	seed := opts.GroupSeed
	if !opts.SeedSet {
		seed = rand.Uint64()
	}
	rep, err := eval.Explain(in, seed)
	if errors.Is(err, eval.ErrNoResults) {
		return fmt.Errorf("%s: %w (no model has losses: the competition would keep its previous weights)", path, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	slog.Debug("scored", "models", len(in.Models), "groups", rep.Groups, "seed", seed)
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(opts.IO.Out)
}
