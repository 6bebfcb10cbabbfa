package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/tokenizer"
	"github.com/urfave/cli/v2"
)

// tokenizeOptions are the inputs of `coldint tokenize`.
type tokenizeOptions struct {
	IO          IO
	Tokenizer   string
	Decode      bool
	AddSpecial  bool
	SkipSpecial bool
	Raw         bool
	JSON        bool
	Args        []string
}

// newTokenizeCmd is `coldint tokenize`: encode or decode text line by line
// with a tokenizer.json. runF replaces runTokenize in tests.
func newTokenizeCmd(f *Factory, runF func(context.Context, *tokenizeOptions) error) *cli.Command {
	o := &tokenizeOptions{IO: f.IO}
	if runF == nil {
		runF = runTokenize
	}
	return &cli.Command{
		Name:  "tokenize",
		Usage: "encode text lines to token ids (or decode ids) with a Hugging Face tokenizer.json",
		Description: `Reads standard input line by line and writes one line per input line.

Encoding (default): each input line, without its "\n", is tokenized; the output is
the ids separated by spaces. With --json the input line is a JSON string (so it can
hold newlines) and the output is a JSON array of ids.

Decoding (--decode): each input line holds ids separated by spaces (with --json, a
JSON array of ids); the output is the text (with --json, a JSON string). Decoding
follows transformers: the tokenizer.json decoder, then clean_up_tokenization_spaces
when tokenizer_config.json sets it (--raw: the HF tokenizers library's output).

Added tokens written in the text (such as <|endoftext|>) always become their ids.
--add-special applies the post-processor (BOS/EOS template) as add_special_tokens.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tokenizer", Usage: "model folder holding tokenizer.json, or a tokenizer.json file", Destination: &o.Tokenizer},
			&cli.BoolFlag{Name: "decode", Usage: "decode ids to text instead of encoding", Destination: &o.Decode},
			&cli.BoolFlag{Name: "add-special", Usage: "encode with the post-processor's special tokens (BOS/EOS)", Destination: &o.AddSpecial},
			&cli.BoolFlag{Name: "skip-special", Usage: "decode without special tokens", Destination: &o.SkipSpecial},
			&cli.BoolFlag{Name: "raw", Usage: "decode without clean_up_tokenization_spaces", Destination: &o.Raw},
			&cli.BoolFlag{Name: "json", Usage: "JSON lines: strings for text, arrays for ids", Destination: &o.JSON},
		},
		Action: func(c *cli.Context) error {
			o.Args = c.Args().Slice()
			return runF(c.Context, o)
		},
	}
}

func runTokenize(ctx context.Context, o *tokenizeOptions) error {
	if len(o.Args) != 0 {
		return usageErrorf("tokenize: unexpected argument %q (input is read from stdin)", o.Args[0])
	}
	if o.Tokenizer == "" {
		return usageErrorf("tokenize: --tokenizer DIR|FILE is required")
	}
	start := time.Now()
	tk, err := tokenizer.Load(o.Tokenizer)
	if err != nil {
		return err
	}
	slog.Debug("loaded tokenizer", "path", o.Tokenizer, "vocab", tk.VocabSize(), "max_id", tk.MaxID(), "seconds", time.Since(start).Seconds())
	return tokenizeLines(ctx, o, tk)
}

// tokenizeLines encodes (or decodes) stdin to stdout line by line.
func tokenizeLines(ctx context.Context, o *tokenizeOptions, tk *tokenizer.Tokenizer) error {
	in := bufio.NewReaderSize(o.IO.In, 1<<20)
	out := bufio.NewWriterSize(o.IO.Out, 1<<16)
	defer out.Flush()
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := in.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read stdin: %w", err)
		}
		res, perr := o.tokenizeLine(tk, strings.TrimSuffix(line, "\n"), lineNo)
		if perr != nil {
			return perr
		}
		out.Write(res)
		if werr := out.WriteByte('\n'); werr != nil {
			return fmt.Errorf("write stdout: %w", werr)
		}
		if errors.Is(err, io.EOF) {
			return out.Flush()
		}
	}
}

// tokenizeLine is the output line of one input line.
func (o *tokenizeOptions) tokenizeLine(tk *tokenizer.Tokenizer, line string, lineNo int) ([]byte, error) {
	if !o.Decode {
		text := line
		if o.JSON {
			if err := json.Unmarshal([]byte(line), &text); err != nil {
				return nil, fmt.Errorf("parse line %d: want a JSON string: %w", lineNo, err)
			}
		}
		ids, err := tk.Encode(text, o.AddSpecial)
		if err != nil {
			return nil, fmt.Errorf("encode line %d: %w", lineNo, err)
		}
		return formatIDs(ids, o.JSON), nil
	}
	ids, err := parseIDs(line, o.JSON)
	if err != nil {
		return nil, fmt.Errorf("parse line %d: %w", lineNo, err)
	}
	var text string
	if o.Raw {
		text = tk.DecodeRaw(ids, o.SkipSpecial)
	} else if text, err = tk.Decode(ids, o.SkipSpecial); err != nil {
		return nil, fmt.Errorf("decode line %d: %w", lineNo, err)
	}
	if !o.JSON {
		return []byte(text), nil
	}
	res, err := json.Marshal(text)
	if err != nil {
		return nil, fmt.Errorf("encode line %d: %w", lineNo, err)
	}
	return res, nil
}

func parseIDs(line string, asJSON bool) ([]int, error) {
	if asJSON {
		var ids []int
		if err := json.Unmarshal([]byte(line), &ids); err != nil {
			return nil, fmt.Errorf("want a JSON array of ids: %w", err)
		}
		return ids, nil
	}
	fields := strings.Fields(line)
	ids := make([]int, len(fields))
	for i, f := range fields {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse id %q: %w", f, err)
		}
		ids[i] = v
	}
	return ids, nil
}

func formatIDs(ids []int, asJSON bool) []byte {
	var b []byte
	if asJSON {
		b = append(b, '[')
	}
	for i, id := range ids {
		if i > 0 {
			if asJSON {
				b = append(b, ',')
			} else {
				b = append(b, ' ')
			}
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	if asJSON {
		b = append(b, ']')
	}
	return b
}
