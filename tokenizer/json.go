package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// fileJSON is the top level of a tokenizer.json file.
type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	Model         json.RawMessage  `json:"model"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
}

type addedTokenJSON struct {
	ID         *int   `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

// modelJSON is the "model" object. Only BPE is supported.
type modelJSON struct {
	Type                    string         `json:"type"`
	Dropout                 *float64       `json:"dropout"`
	UnkToken                *string        `json:"unk_token"`
	ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string        `json:"end_of_word_suffix"`
	FuseUnk                 bool           `json:"fuse_unk"`
	ByteFallback            bool           `json:"byte_fallback"`
	IgnoreMerges            bool           `json:"ignore_merges"`
	Vocab                   map[string]int `json:"vocab"`
	Merges                  mergeList      `json:"merges"`
}

// mergeList accepts merges as "a b" strings or as ["a","b"] pairs.
type mergeList [][2]string

func (m *mergeList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*m = nil
		return nil
	}
	var strs []string
	if err := json.Unmarshal(b, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, c, ok := strings.Cut(s, " ")
			if !ok {
				return fmt.Errorf("parse merge %d %q: want two tokens separated by a space", i, s)
			}
			if strings.Contains(c, " ") {
				return fmt.Errorf("parse merge %d %q: more than two tokens", i, s)
			}
			out[i] = [2]string{a, c}
		}
		*m = out
		return nil
	}
	var pairs [][]string
	if err := json.Unmarshal(b, &pairs); err != nil {
		return fmt.Errorf("parse merges: want strings \"a b\" or pairs [\"a\",\"b\"]: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return fmt.Errorf("parse merge %d: want 2 tokens, got %d", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	*m = out
	return nil
}

// typed reads the "type" field of a component object.
type typed struct {
	Type string `json:"type"`
}

// patternJSON is {"String": "..."} or {"Regex": "..."}.
type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func componentType(raw json.RawMessage) (string, error) {
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", err
	}
	if t.Type == "" {
		return "", errors.New("missing \"type\"")
	}
	return t.Type, nil
}

// configJSON holds the tokenizer_config.json fields coldint uses.
type configJSON struct {
	BosToken                  json.RawMessage `json:"bos_token"`
	EosToken                  json.RawMessage `json:"eos_token"`
	PadToken                  json.RawMessage `json:"pad_token"`
	UnkToken                  json.RawMessage `json:"unk_token"`
	CleanUpTokenizationSpaces *bool           `json:"clean_up_tokenization_spaces"`
	AddBosToken               *bool           `json:"add_bos_token"`
	AddEosToken               *bool           `json:"add_eos_token"`
	TokenizerClass            string          `json:"tokenizer_class"`
	ModelMaxLength            json.RawMessage `json:"model_max_length"`
}

// tokenString reads a special token given as a string, an AddedToken object
// ({"content": ...}) or null.
func tokenString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, s != ""
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil && obj.Content != "" {
		return obj.Content, true
	}
	return "", false
}
