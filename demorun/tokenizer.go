package demorun

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/internal/atomicfile"
)

// EndOfText is the byte tokenizer's one special token (id 256).
const EndOfText = "<|endoftext|>"

// byteUnicode is GPT-2's byte → printable rune table of byte-level BPE.
func byteUnicode() [256]rune {
	var out [256]rune
	var used [256]bool
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			out[b], used[b] = rune(b), true
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !used[b] {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// WriteByteTokenizer writes a byte-level BPE tokenizer without merges into
// dir: 256 byte tokens plus <|endoftext|> (id 256), in the Hugging Face
// tokenizer.json format. Any text encodes, and models over it stay tiny.
func WriteByteTokenizer(dir string) error {
	vocab := map[string]int{}
	for b, r := range byteUnicode() {
		vocab[string(r)] = b
	}
	vocab[EndOfText] = 256
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens": []map[string]any{{"id": 256, "content": EndOfText, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}},
		"normalizer": nil, "pre_tokenizer": byteLevel, "post_processor": nil, "decoder": byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []string{}},
	}
	cfg := map[string]any{"eos_token": EndOfText, "bos_token": EndOfText, "model_max_length": 1024,
		"tokenizer_class": "GPT2Tokenizer", "clean_up_tokenization_spaces": false}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write byte tokenizer: %w", err)
	}
	for name, v := range map[string]any{"tokenizer.json": tok, "tokenizer_config.json": cfg} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("write byte tokenizer: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write byte tokenizer: %w", err)
		}
	}
	return nil
}
