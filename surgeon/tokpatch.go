package surgeon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/tokenizer"
)

// ValidatorSafeTokenizer rewrites a tokenizer so that encoding with the
// default special-token behaviour inserts no special tokens: a validator
// decodes exactly what it encoded and requires the original text back (docs/scoring.md#tokenisation),
// so a BOS added by the post-processor rejects every sample. Special tokens
// are removed from TemplateProcessing templates (also inside a Sequence
// processor), Roberta/Bert processors are dropped, and tokenizer_config.json
// gets add_bos_token and add_eos_token false. Other keys keep their exact
// bytes. It reports whether anything changed.
func ValidatorSafeTokenizer(tokJSON, cfgJSON []byte) ([]byte, []byte, bool, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(tokJSON, &top); err != nil {
		return nil, nil, false, fmt.Errorf("patch tokenizer.json: %w", err)
	}
	changed := false
	if pp, ok := top["post_processor"]; ok {
		out, ch, err := stripSpecials(pp)
		if err != nil {
			return nil, nil, false, fmt.Errorf("patch tokenizer.json post_processor: %w", err)
		}
		if ch {
			top["post_processor"], changed = out, true
		}
	}
	newTok := tokJSON
	if changed {
		b, err := marshalNoEscape(top)
		if err != nil {
			return nil, nil, false, err
		}
		newTok = b
	}
	newCfg := cfgJSON
	if len(cfgJSON) > 0 {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			return nil, nil, false, fmt.Errorf("patch tokenizer_config.json: %w", err)
		}
		cfgChanged := false
		for _, k := range []string{"add_bos_token", "add_eos_token"} {
			if v, ok := cfg[k]; ok && string(bytes.TrimSpace(v)) == "false" {
				continue
			}
			cfg[k] = json.RawMessage("false")
			cfgChanged = true
		}
		if cfgChanged {
			b, err := marshalNoEscape(cfg)
			if err != nil {
				return nil, nil, false, err
			}
			newCfg, changed = b, true
		}
	}
	return newTok, newCfg, changed, nil
}

func stripSpecials(raw json.RawMessage) (json.RawMessage, bool, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return raw, false, nil
	}
	var pp map[string]json.RawMessage
	if err := json.Unmarshal(raw, &pp); err != nil {
		return nil, false, err
	}
	var typ string
	json.Unmarshal(pp["type"], &typ)
	switch typ {
	case "TemplateProcessing":
		changed := false
		for _, key := range []string{"single", "pair"} {
			var items []map[string]json.RawMessage
			if err := json.Unmarshal(pp[key], &items); err != nil {
				return nil, false, fmt.Errorf("%s: %w", key, err)
			}
			kept := items[:0]
			for _, it := range items {
				if _, special := it["SpecialToken"]; special {
					changed = true
					continue
				}
				kept = append(kept, it)
			}
			b, err := json.Marshal(kept)
			if err != nil {
				return nil, false, err
			}
			pp[key] = b
		}
		if !changed {
			return raw, false, nil
		}
		b, err := marshalNoEscape(pp)
		return b, true, err
	case "RobertaProcessing", "BertProcessing":
		return json.RawMessage("null"), true, nil
	case "Sequence":
		var procs []json.RawMessage
		if err := json.Unmarshal(pp["processors"], &procs); err != nil {
			return nil, false, err
		}
		changed := false
		for i, p := range procs {
			out, ch, err := stripSpecials(p)
			if err != nil {
				return nil, false, err
			}
			if ch {
				procs[i], changed = out, true
			}
		}
		if !changed {
			return raw, false, nil
		}
		kept := procs[:0]
		for _, p := range procs {
			if string(p) != "null" {
				kept = append(kept, p)
			}
		}
		b, err := json.Marshal(kept)
		if err != nil {
			return nil, false, err
		}
		pp["processors"] = b
		b, err = marshalNoEscape(pp)
		return b, true, err
	}
	return raw, false, nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode tokenizer file: %w", err)
	}
	return buf.Bytes(), nil
}

// LoadValidatorSafeTokenizer reads dir's tokenizer files, makes them
// validator-safe and returns the patched files (by name) with the tokenizer
// they define.
func LoadValidatorSafeTokenizer(dir string) (map[string][]byte, *tokenizer.Tokenizer, bool, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	files := map[string][]byte{}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			files[name] = b
		} else if name == "tokenizer.json" {
			return nil, nil, false, fmt.Errorf("read new tokenizer: %w", err)
		}
	}
	tj, cj, changed, err := ValidatorSafeTokenizer(files["tokenizer.json"], files["tokenizer_config.json"])
	if err != nil {
		return nil, nil, false, err
	}
	files["tokenizer.json"] = tj
	if cj != nil {
		files["tokenizer_config.json"] = cj
	}
	tok, err := tokenizer.FromBytes(tj, cj)
	if err != nil {
		return nil, nil, false, fmt.Errorf("load patched tokenizer: %w", err)
	}
	return files, tok, changed, nil
}
