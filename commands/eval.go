package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/tokenizer"
)

// evalOptions are the inputs of `coldint eval`.
type evalOptions struct {
	F         *Factory
	Model     string
	Data      string
	MaxMemory string // a byte count; "": the device's default, 0: none
	Threads   int
	JSON      bool
}

func newEvalCmd(f *Factory, runF func(context.Context, *evalOptions) error) *cli.Command {
	o := &evalOptions{F: f}
	if runF == nil {
		runF = runEval
	}
	return &cli.Command{
		Name:  "eval",
		Usage: "print the summed loss (total negative log-likelihood in nats, as validators score it) of every sample under a model",
		UsageText: "coldint eval --model DIR --data FILE [--device D] [--dtype T] [--max-memory BYTES] [--threads N] [--json]\n\n" +
			"FILE is .jsonl with an \"ids\" array per line (\"valid\": false marks a sample that failed\n" +
			"tokenization: its loss is inf). Text samples (.txt lines, .jsonl \"text\") are tokenized with the\n" +
			"model's tokenizer.json as a validator does: default special tokens, EOS appended, and a text that\n" +
			"does not decode back exactly gets loss inf.",
		Flags:  evalFlags(f, o),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func evalFlags(f *Factory, o *evalOptions) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "model", Required: true, Usage: "model directory (config.json + safetensors)", Destination: &o.Model},
		&cli.StringFlag{Name: "data", Required: true, Usage: "samples: .jsonl with \"ids\" (or \"text\") per line, or .txt", Destination: &o.Data},
		maxMemoryFlagTo(&o.MaxMemory),
	}
	flags = append(flags, f.engineFlags()...)
	return append(flags,
		threadsFlagTo(&o.Threads),
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object per sample: {\"index\":i,\"loss\":x,\"tokens\":n}", Destination: &o.JSON},
	)
}

func runEval(ctx context.Context, o *evalOptions) error {
	budget, err := parseMaxMemory(o.MaxMemory)
	if err != nil {
		return usageErrorf("eval: --max-memory: %v", err)
	}
	if o.Threads < 0 {
		return usageErrorf("eval: --threads must be >= 0, not %d", o.Threads)
	}
	ec, err := o.F.EngineChoice("eval")
	if err != nil {
		return err
	}
	samples, err := readEvalSamples(ctx, o.Model, o.Data)
	if err != nil {
		return err
	}
	eng, err := ec.newEngine(o.Threads)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer eng.Close()
	m, err := eng.Load(ctx, o.Model, ec.loadOptions(budget))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer m.Close()
	bar := newProgress(o.F.IO, int64(len(samples)*len(m.Slices())), "eval", false)
	losses, err := m.Losses(ctx, samples, func(done, _ int) { bar.Set(int64(done)) })
	bar.Finish()
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return writeEvalLosses(o.F.IO.Out, samples, losses, o.JSON)
}

// writeEvalLosses prints one loss per line, or one evalResult per line as JSON.
func writeEvalLosses(out io.Writer, samples []model.Sample, losses []float64, asJSON bool) error {
	w := bufio.NewWriter(out)
	for i, l := range losses {
		if asJSON {
			b, err := json.Marshal(evalResult{Index: i, Loss: jsonLoss(l), Tokens: len(samples[i].Ids)})
			if err != nil {
				return fmt.Errorf("eval: %w", err)
			}
			w.Write(b)
			w.WriteByte('\n')
		} else {
			fmt.Fprintln(w, formatLoss(l))
		}
	}
	return w.Flush()
}

type evalResult struct {
	Index  int             `json:"index"`
	Loss   json.RawMessage `json:"loss"`
	Tokens int             `json:"tokens"`
}

// formatLoss prints a loss with full precision, +Inf as "inf".
func formatLoss(l float64) string {
	switch {
	case math.IsInf(l, 1):
		return "inf"
	case math.IsInf(l, -1):
		return "-inf"
	case math.IsNaN(l):
		return "nan"
	}
	return strconv.FormatFloat(l, 'g', -1, 64)
}

// jsonLoss is a JSON number, or the string "inf"/"nan" for non-finite losses.
func jsonLoss(l float64) json.RawMessage {
	if math.IsInf(l, 0) || math.IsNaN(l) {
		return json.RawMessage(strconv.Quote(formatLoss(l)))
	}
	return json.RawMessage(formatLoss(l))
}

// evalLine is one parsed sample line: ids, or text that still needs tokenizing.
type evalLine struct {
	IDs     []int32
	HasIDs  bool
	Text    string
	Invalid bool // "valid": false
}

// parseEvalLine parses one line of a .jsonl ({"ids": [...]} or {"text": "..."},
// with an optional "valid": false) or of a .txt file (the line is the text).
func parseEvalLine(line []byte, jsonl bool) (evalLine, error) {
	if !jsonl {
		return evalLine{Text: string(line)}, nil
	}
	var rec struct {
		IDs   *[]int64 `json:"ids"`
		Text  *string  `json:"text"`
		Valid *bool    `json:"valid"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&rec); err != nil {
		return evalLine{}, fmt.Errorf("parse sample: %w", err)
	}
	out := evalLine{Invalid: rec.Valid != nil && !*rec.Valid}
	switch {
	case rec.IDs != nil:
		out.HasIDs = true
		out.IDs = make([]int32, len(*rec.IDs))
		for i, id := range *rec.IDs {
			if id < 0 || id > math.MaxInt32 {
				return evalLine{}, fmt.Errorf("parse sample: token id %d out of range", id)
			}
			out.IDs[i] = int32(id)
		}
	case rec.Text != nil:
		out.Text = *rec.Text
	default:
		return evalLine{}, fmt.Errorf("parse sample: no \"ids\" or \"text\" field")
	}
	return out, nil
}

// tokenizeEvalTexts turns text samples into token ids with the model's own
// tokenizer exactly as a validator does on the free-tokenizer path
// (docs/scoring.md#tokenisation, no character cap): default special tokens, EOS appended, and a sample
// whose ids do not decode back to its exact text is invalid (ok=false, loss
// +Inf).
func tokenizeEvalTexts(ctx context.Context, modelDir string, texts []string) (ids [][]int32, ok []bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		return nil, nil, fmt.Errorf("text samples need the model's tokenizer: %w", err)
	}
	rows, _, _, err := eval.TokenizeSamples(texts, eval.NewSampleTokenizer(tok), tok.Roles().EOS, 0, 0, len(texts))
	if err != nil {
		return nil, nil, fmt.Errorf("tokenize samples: %w", err)
	}
	ids, ok = make([][]int32, len(rows)), make([]bool, len(rows))
	for i, r := range rows {
		ok[i] = r != nil
		ids[i] = make([]int32, len(r))
		for j, id := range r {
			ids[i][j] = int32(id)
		}
	}
	return ids, ok, nil
}

// readEvalSamples reads the samples of path (.jsonl or .txt).
func readEvalSamples(ctx context.Context, modelDir, path string) ([]model.Sample, error) {
	ext := strings.ToLower(filepath.Ext(path))
	jsonl := ext == ".jsonl" || ext == ".json"
	if !jsonl && ext != ".txt" {
		return nil, usageErrorf("eval: --data %q: want a .jsonl or .txt file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: read samples: %w", err)
	}
	defer f.Close()
	samples, err := parseEvalSamples(f, jsonl)
	if err != nil {
		return nil, fmt.Errorf("eval: read %q: %w", path, err)
	}
	var texts []string
	var at []int
	for i, s := range samples {
		if !s.HasIDs {
			texts = append(texts, s.Text)
			at = append(at, i)
		}
	}
	out := make([]model.Sample, len(samples))
	for i, s := range samples {
		out[i] = model.Sample{Ids: s.IDs, Valid: !s.Invalid}
	}
	if len(texts) > 0 {
		ids, ok, err := tokenizeEvalTexts(ctx, modelDir, texts)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		for k, i := range at {
			out[i].Ids, out[i].Valid = ids[k], ok[k] && out[i].Valid
		}
	}
	return out, nil
}

func parseEvalSamples(r io.Reader, jsonl bool) ([]evalLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var out []evalLine
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if jsonl && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, err := parseEvalLine(line, jsonl)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseBytes parses a byte count such as 1500000000, 1.5G or 2GiB.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("parse byte count %q", s)
	}
	return int64(v * mult), nil
}
