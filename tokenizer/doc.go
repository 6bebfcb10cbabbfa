// Package tokenizer is a pure-Go implementation of Hugging Face tokenizer.json
// tokenizers (BPE models with their normalizers, pre-tokenizers,
// post-processors, decoders and added tokens). It aims at id-for-id parity
// with the HF tokenizers Rust library, which the tests run live as an oracle,
// and at being several times faster than it.
//
// Load a tokenizer from a model folder or a tokenizer.json file with [Load],
// then call [Tokenizer.Encode], [Tokenizer.Decode] or [Tokenizer.EncodeBatch].
// A Tokenizer is safe for concurrent use.
package tokenizer
