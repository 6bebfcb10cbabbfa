// Package tokenizer is a pure-Go implementation of Hugging Face tokenizer.json
// tokenizers, id for id equal to the HF tokenizers Rust library (which the
// tests run live as an oracle, through its npm binding) and several times
// faster than it.
//
// Load a tokenizer from a model folder or a tokenizer.json file with [Load]
// (or [FromBytes]), then call [Tokenizer.Encode], [Tokenizer.EncodeBatch]
// (parallel on all cores) and [Tokenizer.Decode]. A Tokenizer is safe for
// concurrent use.
//
// Supported: BPE models (merges as "a b" or ["a","b"], ignore_merges,
// byte_fallback, fuse_unk, unk_token, continuing_subword_prefix,
// end_of_word_suffix); Unigram models (SentencePiece: vocab of [piece,
// score], unk_id or null, byte_fallback; the library's Viterbi path, tie
// order, unk score and unk fusing, and its serde_json score parsing, which
// can be one ulp off the correctly rounded value); normalizers Sequence,
// NFC, NFD, NFKC, NFKD, Prepend, Replace, Lowercase, Strip, StripAccents
// (combining marks by the library's Unicode 9.0 tables), Nmt, Precompiled
// (SentencePiece's precompiled_charsmap; grapheme clusters from
// github.com/rivo/uniseg, Unicode 15.0); pre-tokenizers Sequence, Split
// (String or Regex, every behavior, invert), ByteLevel, Metaspace,
// Whitespace, WhitespaceSplit, Digits, Punctuation; post-processors
// TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel,
// Sequence; decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
// Strip, BPEDecoder, WordPiece, Sequence; added tokens with special, lstrip,
// rstrip, single_word and normalized. Other types are load errors. A
// Unigram model without unk_id fails to encode a text with a character no
// piece covers, as the library does.
//
// The GPT-2, cl100k/Llama-3, Qwen2 and o200k pre-tokenizer regexes run as
// hand-coded scanners with Oniguruma's semantics (look-ahead included) and
// Unicode 16.0 character classes, as in the Rust library; other regexes run
// on github.com/dlclark/regexp2, whose classes follow Go's Unicode tables
// (15.0). The Unicode normalizers follow the Rust library's older
// normalization tables (before Unicode 12.0): later decompositions are left out.
//
// Decode follows transformers 4.44: the decoder chain, then
// clean_up_tokenization_spaces (tokenizer_config.json's value; when absent,
// true, except for the Llama, CodeLlama and Gemma classes);
// [Tokenizer.DecodeRaw] is the Rust library's output.
package tokenizer
