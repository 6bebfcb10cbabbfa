package tokenizer

import (
	"testing"
)

// TestCleanUpDefault: without clean_up_tokenization_spaces in
// tokenizer_config.json, Decode cleans up as transformers 4.44 does (true,
// except for the classes whose constructor defaults it to false), so a text
// like "Hello . I don 't" no longer survives the validator's round trip.
func TestCleanUpDefault(t *testing.T) {
	texts := map[string]string{" .": "Hello . Bye", " n't": "I do n't", " 's": "it 's", "plain": "no change here"}
	cleaned := map[string]string{" .": "Hello. Bye", " n't": "I don't", " 's": "it's", "plain": "no change here"}
	for _, tc := range []struct {
		name    string
		config  string
		cleanUp bool
	}{
		{"no config", "", true},
		{"config without the key", `{"tokenizer_class":"PreTrainedTokenizerFast"}`, true},
		{"GPT-2 class", `{"tokenizer_class":"GPT2TokenizerFast"}`, true},
		{"Llama class", `{"tokenizer_class":"LlamaTokenizerFast"}`, false},
		{"Gemma class", `{"tokenizer_class":"GemmaTokenizer"}`, false},
		{"explicit false", `{"tokenizer_class":"GPT2TokenizerFast","clean_up_tokenization_spaces":false}`, false},
		{"explicit true on Llama", `{"tokenizer_class":"LlamaTokenizerFast","clean_up_tokenization_spaces":true}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg []byte
			if tc.config != "" {
				cfg = []byte(tc.config)
			}
			tk, err := FromBytes(tinyByteLevel(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tk.CleanUpSpaces() != tc.cleanUp {
				t.Fatalf("CleanUpSpaces() = %v, want %v", tk.CleanUpSpaces(), tc.cleanUp)
			}
			for k, text := range texts {
				ids, err := tk.Encode(text, false)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := tk.Decode(ids, false)
				want := text
				if tc.cleanUp {
					want = cleaned[k]
				}
				if got != want {
					t.Errorf("%q decodes to %q, want %q", text, got, want)
				}
			}
		})
	}
}
