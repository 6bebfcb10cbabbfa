// Package precheck is the miner's check of a model before publishing it: the
// competition's admission rules on the model folder (package competition,
// the rules a validator applies, reported as `surgeon check` reports them)
// and the validator's tokenisation of fresh samples for a model, so that the
// local loss comparison feeds each model what a validator would.
package precheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// ErrNotAdmitted means the competition does not admit the model.
var ErrNotAdmitted = errors.New("not admitted")

// Admission applies the rules of the competition called name in cfg to the
// model folder dir. A model the competition does not admit gets an error
// wrapping [ErrNotAdmitted] that holds the report; the report comes back
// either way.
func Admission(ctx context.Context, dir string, cfg *competition.Config, name string) (*surgeon.CheckReport, *surgeon.CompetitionCheck, error) {
	rep, err := surgeon.Check(ctx, dir, cfg, name)
	if err != nil {
		return nil, nil, err
	}
	cc := &rep.Competitions[0]
	if !cc.Accepted {
		b, _ := json.MarshalIndent(rep, "", "  ")
		return rep, cc, fmt.Errorf("precheck %q: %w by %q: %s:\n%s", dir, ErrNotAdmitted, name, cc.Reasons[0], b)
	}
	return rep, cc, nil
}

// LoadFunc loads the competition tokenizer id (see [competition.LoadTokenizer]).
type LoadFunc func(ctx context.Context, id string) (*tokenizer.Tokenizer, error)

// Samples tokenizes texts for the model folder dir as a validator does for
// comp: with the model's own tokenizer when the competition lets it use it,
// falling back to the competition tokenizer (loaded by load, never the
// model's own) when that one cannot be used or fails the samples. It returns
// the token rows (nil for a sample that gets +Inf loss) and the tokenizer
// used.
func Samples(ctx context.Context, comp *competition.Competition, dir string, texts []string, load LoadFunc) ([][]int, competition.TokenizerChoice, error) {
	m := competition.Inspect(ctx, dir)
	choice, err := comp.ChooseTokenizer(m.HasTokenizer, m.TokenizerErr)
	if err != nil {
		return nil, choice, err
	}
	var ownErr error
	if choice.Own {
		tok, err := tokenizer.Load(dir)
		if err == nil {
			rows, _, _, err := comp.Tokenize(texts, tok, true)
			if err == nil {
				return rows, choice, nil
			}
			ownErr = err
		} else {
			ownErr = err
		}
		if comp.Tokenizer == "" {
			return nil, choice, fmt.Errorf("model tokenizer: %w", ownErr)
		}
		choice.Own = false
	}
	tok, err := load(ctx, comp.Tokenizer)
	if err != nil {
		return nil, choice, fmt.Errorf("competition tokenizer: %w", err)
	}
	rows, _, _, err := comp.Tokenize(texts, tok, false)
	if err != nil {
		if ownErr != nil {
			return nil, choice, fmt.Errorf("model tokenizer: %v; competition tokenizer: %w", ownErr, err)
		}
		return nil, choice, fmt.Errorf("competition tokenizer: %w", err)
	}
	return rows, choice, nil
}
