package miner

import (
	"context"
	"log/slog"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

// TrainData is where a run's training text comes from and how it is cut
// into rows.
type TrainData struct {
	// Files are local text files or folders (data.ReadLocalTexts), read and
	// tokenized up front.
	Files []string
	// Config shapes the rows; its EvalDocs is an upper bound (at most a
	// tenth of the documents are held out) and its PadID is set from the
	// tokenizer.
	Config train.DataConfig
}

// openTrainData reads the training text and shapes it into rows with the
// tokenizer's EOS between packed documents and its PAD (else EOS) as
// padding.
func openTrainData(ctx context.Context, d TrainData, tok *tokenizer.Tokenizer) (*train.Data, error) {
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
	texts, err := data.ReadLocalTexts(ctx, d.Files)
	if err != nil {
		return nil, err
	}
	corpus := &train.TextCorpus{Texts: texts, EOS: int32(eos), Encode: EncodeInt32(tok)}
	dc.EvalDocs = min(dc.EvalDocs, len(texts)/10)
	return train.NewData(corpus, dc)
}
