package demorun

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/coldint/coldint/internal/atomicfile"
)

func (r *runner) writeReadme(res *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "coldint demo folder (written %s)\n\n", time.Now().UTC().Format(time.RFC3339))
	b.WriteString("chain/devchain.log    the embedded chain's block log (subnet, registrations, commitments, weights)\n")
	b.WriteString("hub/                  the local hub's store (the miners' published repos)\n")
	b.WriteString("corpus/               the public-domain corpus (jsonl.gz shards + manifest.json)\n")
	b.WriteString("tokenizer/            the byte-level tokenizer of the competition\n")
	b.WriteString("competitions.json     the subnet's competitions\n")
	b.WriteString("wallets/              dev keys of the validator and the miners (//Alice, //minerN: public test seeds)\n")
	b.WriteString("miners/<name>/        each miner's starting model, training run and publish state\n")
	b.WriteString("validator/            the validator's downloaded models and vali-state/\n")
	b.WriteString("steps/                one JSON report per validator step\n")
	b.WriteString("published/            each validator step published for re-checking (coldint audit): samples, losses, roots\n")
	b.WriteString("demo.json             this run's summary (names, hotkeys, commitments, leaderboard)\n")
	b.WriteString("demo.log              the log of the demo's components (chain, hub, publish, validator)\n\nMiners:\n")
	for _, m := range res.Miners {
		fmt.Fprintf(&b, "  %s uid %d: %s; %s@%s (%s); model in %s\n", m.Label, m.UID, m.How, m.Repo, m.Commit, blockAt(m.Block, m.CommittedAt), m.Model)
	}
	b.WriteString("\nCommands:\n")
	for _, k := range []string{"web", "generate", "inspect", "validate", "audit", "mine", "chain", "hub", "leaderboard"} {
		fmt.Fprintf(&b, "  %s\n", res.Commands[k])
	}
	return atomicfile.WriteFile(filepath.Join(res.Dir, "README.txt"), []byte(b.String()), 0o644)
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// readCorpus reads every document of a corpus folder with its source name
// (each shard line is a JSON object with "text" and "source").
func readCorpus(dir string) (texts, sources []string, err error) {
	shards, err := filepath.Glob(filepath.Join(dir, "*.jsonl.gz"))
	if err != nil || len(shards) == 0 {
		return nil, nil, fmt.Errorf("read corpus %q: no shards", dir)
	}
	sort.Strings(shards)
	for _, p := range shards {
		if err := readShard(p, func(text, source string) {
			texts, sources = append(texts, text), append(sources, source)
		}); err != nil {
			return nil, nil, fmt.Errorf("read corpus %q: %w", p, err)
		}
	}
	return texts, sources, nil
}

func readShard(path string, add func(text, source string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(zr)
	for {
		var doc struct{ Text, Source string }
		if err := dec.Decode(&doc); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		add(doc.Text, doc.Source)
	}
}

// ValidatorConfig is the config file (coldint validate --config) of a
// validator on the demo's chain, hub and corpus.
const ValidatorConfig = "validator.yaml"

// writeValidatorConfig writes the flags of `coldint validate` as a config
// file, under a validate section.
func writeValidatorConfig(path string, flags map[string]any) error {
	b, err := yaml.Marshal(map[string]any{"validate": flags})
	if err != nil {
		return fmt.Errorf("write validator config: %w", err)
	}
	head := "# coldint validate --config " + filepath.Base(path) + " runs one more validator step on the demo\n"
	if err := atomicfile.WriteFile(path, append([]byte(head), b...), 0o644); err != nil {
		return fmt.Errorf("write validator config: %w", err)
	}
	return nil
}
