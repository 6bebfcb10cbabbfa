package model

import (
	"context"
	"errors"
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// GenerateOptions control [Model.Generate].
type GenerateOptions struct {
	SampleOptions
	// MaxTokens is the number of tokens to generate at most (1..[MaxGenerateTokens]).
	MaxTokens int
	// StopIDs end the generation when sampled (the token is not reported).
	StopIDs []int32
	// noCache forces full recomputation at every token (tests).
	noCache bool
}

// ErrStop may be returned by a Generate callback to end the generation
// early without an error.
var ErrStop = errors.New("stop generation")

// NextLogits returns the float32 logits [vocab_size] of the token that
// follows ids (only the last position goes through the LM head).
func (m *Model) NextLogits(ctx context.Context, ids []int32) ([]float32, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("compute next logits: empty sequence")
	}
	samples := []Sample{{Ids: ids, Valid: true}}
	if err := m.CheckVocab(samples); err != nil {
		return nil, fmt.Errorf("compute next logits: %w", err)
	}
	var out []float32
	var sampleErr error
	err := m.e.Do(ctx, func() error {
		if m.closed {
			return ErrClosed
		}
		return m.run(ctx, samples, nil, func(_ int, w *sliceWeights, x *ts.Tensor) {
			last := must(x.Narrow(0, int64(len(ids)-1), 1, false))
			defer drop(last)
			out = m.logitsOf(w, last)
		}, func(_ int, err error) { sampleErr = err })
	})
	if err == nil {
		err = sampleErr
	}
	if err != nil {
		return nil, fmt.Errorf("compute next logits: %w", err)
	}
	return out, nil
}

// Generate samples up to opts.MaxTokens tokens after prompt and calls onToken
// with each one as it is chosen. It returns the generated ids. The context
// is the last max_position_embeddings tokens. Generation stops at a stop id,
// at MaxTokens, when ctx ends (its error is returned) or when onToken returns
// an error ([ErrStop] ends without an error).
func (m *Model) Generate(ctx context.Context, prompt []int32, opts GenerateOptions, onToken func(id int32) error) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt (give at least one token)")
	}
	if opts.MaxTokens < 1 || opts.MaxTokens > MaxGenerateTokens {
		return nil, fmt.Errorf("generate: max tokens %d must be between 1 and %d", opts.MaxTokens, MaxGenerateTokens)
	}
	sampler, err := NewSampler(opts.SampleOptions)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	stop := map[int32]bool{}
	for _, id := range opts.StopIDs {
		stop[id] = true
	}
	window := m.cfg.MaxPositionEmbeddings
	if window <= 0 {
		window = 2048
	}
	dec := m.newDecoder(window)
	if opts.noCache {
		dec.cache = nil
	}
	defer dec.close()
	feed := prompt
	var out []int32
	for len(out) < opts.MaxTokens {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err := dec.next(ctx, feed)
		if err != nil {
			return out, fmt.Errorf("generate: %w", err)
		}
		id := sampler.Sample(logits)
		if stop[id] {
			break
		}
		feed = []int32{id}
		out = append(out, id)
		if onToken != nil {
			if err := onToken(id); err != nil {
				if errors.Is(err, ErrStop) {
					break
				}
				return out, err
			}
		}
	}
	return out, nil
}
