package commands

import (
	"bufio"
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

// tokenizeCommand encodes or decodes text line by line with a tokenizer.json.
func tokenizeCommand() *cli.Command {
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
			&cli.StringFlag{Name: "tokenizer", Usage: "model folder holding tokenizer.json, or a tokenizer.json file"},
			&cli.BoolFlag{Name: "decode", Usage: "decode ids to text instead of encoding"},
			&cli.BoolFlag{Name: "add-special", Usage: "encode with the post-processor's special tokens (BOS/EOS)"},
			&cli.BoolFlag{Name: "skip-special", Usage: "decode without special tokens"},
			&cli.BoolFlag{Name: "raw", Usage: "decode without clean_up_tokenization_spaces"},
			&cli.BoolFlag{Name: "json", Usage: "JSON lines: strings for text, arrays for ids"},
		},
		Action: func(c *cli.Context) error {
			stdio := ioFrom(c)
			if c.NArg() != 0 {
				return usageErrorf("tokenize: unexpected argument %q (input is read from stdin)", c.Args().First())
			}
			if c.String("tokenizer") == "" {
				return usageErrorf("tokenize: --tokenizer DIR|FILE is required")
			}
			start := time.Now()
			tk, err := tokenizer.Load(c.String("tokenizer"))
			if err != nil {
				return err
			}
			slog.Debug("loaded tokenizer", "path", c.String("tokenizer"), "vocab", tk.VocabSize(), "max_id", tk.MaxID(), "seconds", time.Since(start).Seconds())
			return runTokenize(c, stdio, tk)
		},
	}
}

func runTokenize(c *cli.Context, stdio IO, tk *tokenizer.Tokenizer) error {
	in := bufio.NewReaderSize(stdio.In, 1<<20)
	out := bufio.NewWriterSize(stdio.Out, 1<<16)
	defer out.Flush()
	asJSON, decode := c.Bool("json"), c.Bool("decode")
	for lineNo := 1; ; lineNo++ {
		if err := c.Context.Err(); err != nil {
			return err
		}
		line, err := in.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read stdin: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		var res []byte
		if decode {
			ids, perr := parseIDs(line, asJSON)
			if perr != nil {
				return fmt.Errorf("parse line %d: %w", lineNo, perr)
			}
			var text string
			if c.Bool("raw") {
				text = tk.DecodeRaw(ids, c.Bool("skip-special"))
			} else if text, perr = tk.Decode(ids, c.Bool("skip-special")); perr != nil {
				return fmt.Errorf("decode line %d: %w", lineNo, perr)
			}
			if asJSON {
				if res, perr = json.Marshal(text); perr != nil {
					return fmt.Errorf("encode line %d: %w", lineNo, perr)
				}
			} else {
				res = []byte(text)
			}
		} else {
			text := line
			if asJSON {
				if perr := json.Unmarshal([]byte(line), &text); perr != nil {
					return fmt.Errorf("parse line %d: want a JSON string: %w", lineNo, perr)
				}
			}
			ids, perr := tk.Encode(text, c.Bool("add-special"))
			if perr != nil {
				return fmt.Errorf("encode line %d: %w", lineNo, perr)
			}
			res = formatIDs(ids, asJSON)
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
