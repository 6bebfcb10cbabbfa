// Package surgeon changes Hugging Face model directories (config.json,
// safetensors, tokenizer files) in pure Go and writes each result as a new
// directory, atomically. The growth operations (add-layers, grow-hidden,
// grow-intermediate) are function-preserving: the grown model computes the
// same logits as the original (see docs/surgery.md#grow-hidden for the norm_divisor
// trick that makes hidden-size growth exact). Resize-vocab and merges follow
// the semantics documented on each function; these are coldint's design,
// since the original model_surgeon was never published.
package surgeon
