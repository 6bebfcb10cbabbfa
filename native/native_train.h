// C interface of native_train.cc (see native_train.go): the trainer's
// optimizer step and gradient norm over libtorch tensors wherever they live
// (CPU or CUDA). Tensor handles are gotch's C tensors (torch::Tensor *).
#ifndef COLDINT_MODEL_NATIVE_TRAIN_H
#define COLDINT_MODEL_NATIVE_TRAIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The scalars of one AdamW step over a group of parameters sharing one
// weight decay (torch.optim.AdamW's arithmetic). The gradients are first
// multiplied by grad_scale (gradient clipping) in place.
struct coldint_train_adamw_args {
  double lr, beta1, beta2, weight_decay, eps, grad_scale;
  int64_t step;  // 1 for the first step
};

// coldint_train_grad_norm returns the L2 norm over the n tensors (one
// reduction per tensor and one over their norms, then one copy to the host).
// On error it returns -1 and sets *err to a malloc'd message.
double coldint_train_grad_norm(void **grads, int n, char **err);

// coldint_train_adamw updates params, exp_avg and exp_avg_sq (n tensors
// each, float32, on one device) in place from grads. With allow_fused, CUDA
// tensors and a libtorch that has at::_fused_adamw_ (2.0 and later), the
// whole group takes one fused kernel; otherwise every tensor takes libtorch's
// elementwise operations on its own device. It returns 1 when the fused
// kernel ran, 0 when the elementwise path did, and -1 with *err set (a
// malloc'd message) on error.
int coldint_train_adamw(void **params, void **grads, void **exp_avg, void **exp_avg_sq, int n,
                        const struct coldint_train_adamw_args *a, int allow_fused, char **err);

// coldint_train_has_fused_adamw reports whether this build has
// at::_fused_adamw_.
int coldint_train_has_fused_adamw(void);

#ifdef __cplusplus
}
#endif

#endif
