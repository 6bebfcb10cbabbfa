package miner

import (
	"context"
	"log/slog"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

// TrainData is where a run's training text comes from and how it is cut
// into rows: local files read up front, or a dataset streamed by each rank.
type TrainData struct {
	// Files are local text files or folders (data.ReadLocalTexts), read and
	// tokenized up front.
	Files []string
	// Stream, when its Dataset is set, streams the training text instead.
	Stream StreamData
	// Config shapes the rows; with Files its EvalDocs is an upper bound (at
	// most a tenth of the documents are held out); its PadID is set from
	// the tokenizer.
	Config train.DataConfig
}

// source is a run's rows and what releases them.
type source struct {
	train.Source
	close func()
}

// openTrainData reads or opens the training text and shapes it into rows
// with the tokenizer's EOS between packed documents and its PAD (else EOS)
// as padding. st is the resumed state (nil: a fresh run); rank and world
// place this process in its group; out is the run folder.
func openTrainData(ctx context.Context, d TrainData, tok *tokenizer.Tokenizer, st *train.State, rank, world int, out string) (*source, error) {
	eos := tok.Roles().EOS
	if eos < 0 {
		slog.Warn("the tokenizer has no EOS token; packed documents are joined without a separator")
	}
	pad := tok.Roles().PAD
	if pad < 0 {
		pad = max(eos, 0)
	}
	dc := d.Config
	dc.PadID = int32(pad)
	if d.Stream.Dataset != "" {
		return openStreamData(ctx, d.Stream, dc, tok, st, rank, world, out)
	}
	texts, err := data.ReadLocalTexts(ctx, d.Files)
	if err != nil {
		return nil, err
	}
	corpus := &train.TextCorpus{Texts: texts, EOS: int32(eos), Encode: EncodeInt32(tok)}
	dc.EvalDocs = min(dc.EvalDocs, len(texts)/10)
	td, err := train.NewData(corpus, dc)
	if err != nil {
		return nil, err
	}
	return &source{Source: td, close: func() {}}, nil
}
