// Package model is coldint's native engine: LLaMA and Phi-3 causal language
// models in Hugging Face weight naming, evaluated with libtorch through gotch
// on the CPU or a CUDA GPU ([Device]). It is the only package that imports
// gotch.
//
// The math follows transformers 4.44 (LlamaForCausalLM, Phi3ForCausalLM):
// RMSNorm x·rsqrt(Σx²/D+eps)·w with D = norm_divisor or hidden_size, rotary
// embeddings with rotate_half and the default, linear and llama3 inverse
// frequencies, grouped-query attention, a SiLU-gated MLP, Phi-3's fused
// qkv_proj and gate_up_proj, and tied embeddings. Weights go from their stored
// dtype to the device in the compute dtype ([DType]): float32, or bf16 weights
// and activations as the reference validator runs (RMSNorm in float32, logits
// upcast to float32). Evaluation runs without autograd; results come back
// through explicit copies to CPU tensors.
//
// The loss of a sample is coldint's "sum loss" (docs/scoring.md#per-sample-loss): the sum over all
// predicted positions of the cross-entropy of the float32 logits, the first
// token unscored, +Inf for an invalid sample or one that runs out of memory.
// Models larger than a memory budget (by default a share of the device's
// memory) are evaluated in layer slices with identical results.
//
// All libtorch work runs on one goroutine locked to its OS thread, owned by an
// [Engine]: GradMode, the OpenMP thread count and gotch's error slot are per OS
// thread in libtorch. gotch panics are recovered there and returned as errors.
//
// [Trainer] trains float32 weights with autograd. Its AdamW update, the
// gradient norm and a caching CPU allocator used while a trainer is open are
// native code (native/native.cc).
//
// All of the engine's C++ (gotch's C wrapper and native/*.cc) is one shared
// library, libcoldint_torch.so, built by native/build.sh against a libtorch
// folder; this package declares its C functions (native/native.h) and links
// it by name, never libtorch itself. [NativeInfo] tells which library and
// libtorch the process runs with.
package model
