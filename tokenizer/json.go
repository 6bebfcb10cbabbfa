package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
)

// fileJSON is the top level of a tokenizer.json file.
type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	Model         *modelJSON       `json:"model"`
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

// modelJSON is the "model" object: BPE or Unigram.
type modelJSON struct {
	Type                    string    `json:"type"`
	Dropout                 *float64  `json:"dropout"`
	UnkToken                *string   `json:"unk_token"`
	ContinuingSubwordPrefix *string   `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string   `json:"end_of_word_suffix"`
	FuseUnk                 bool      `json:"fuse_unk"`
	ByteFallback            bool      `json:"byte_fallback"`
	IgnoreMerges            bool      `json:"ignore_merges"`
	Vocab                   vocabJSON `json:"vocab"`
	Merges                  mergeList `json:"merges"`
	UnkID                   *int      `json:"unk_id"` // Unigram
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
