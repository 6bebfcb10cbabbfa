// The trainer's optimizer step on the parameters' own device (see
// native_train.h). Self-contained: it needs only ATen.

#include <ATen/ATen.h>
#if __has_include(<ATen/ops/_fused_adamw.h>)
#include <ATen/ops/_fused_adamw.h>
#define COLDINT_FUSED_ADAMW 1
#endif

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include "native_train.h"

namespace {

// setErr stores a malloc'd copy of msg in *err.
void setErr(char **err, const char *msg) {
  if (err == nullptr) return;
  size_t n = std::strlen(msg);
  char *s = static_cast<char *>(std::malloc(n + 1));
  if (s == nullptr) return;
  std::memcpy(s, msg, n + 1);
  *err = s;
}

std::vector<at::Tensor> tensors(void **h, int n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) out.push_back(*static_cast<at::Tensor *>(h[i]));
  return out;
}

// adamwElementwise is torch.optim.AdamW's single-tensor step.
void adamwElementwise(std::vector<at::Tensor> &p, std::vector<at::Tensor> &g, std::vector<at::Tensor> &m,
                      std::vector<at::Tensor> &v, const coldint_train_adamw_args *a) {
  const double bc1 = 1 - std::pow(a->beta1, double(a->step));
  const double bc2Sqrt = std::sqrt(1 - std::pow(a->beta2, double(a->step)));
  const double stepSize = a->lr / bc1;
  for (size_t i = 0; i < p.size(); i++) {
    if (a->weight_decay != 0) p[i].mul_(1 - a->lr * a->weight_decay);
    m[i].mul_(a->beta1).add_(g[i], 1 - a->beta1);
    v[i].mul_(a->beta2).addcmul_(g[i], g[i], 1 - a->beta2);
    at::Tensor den = v[i].sqrt().div_(bc2Sqrt).add_(a->eps);
    p[i].addcdiv_(m[i], den, -stepSize);
  }
}

}  // namespace

extern "C" int coldint_train_has_fused_adamw(void) {
#ifdef COLDINT_FUSED_ADAMW
  return 1;
#else
  return 0;
#endif
}

extern "C" double coldint_train_grad_norm(void **grads, int n, char **err) {
  try {
    at::NoGradGuard noGrad;
    if (n == 0) return 0;
    std::vector<at::Tensor> norms;
    norms.reserve(n);
    for (int i = 0; i < n; i++) norms.push_back(static_cast<at::Tensor *>(grads[i])->norm());
    return at::stack(norms).norm().item<double>();
  } catch (const std::exception &e) {
    setErr(err, e.what());
    return -1;
  }
}

extern "C" int coldint_train_adamw(void **params, void **grads, void **exp_avg, void **exp_avg_sq, int n,
                                   const coldint_train_adamw_args *a, int allow_fused, char **err) {
  try {
    at::NoGradGuard noGrad;
    if (n == 0) return 0;
    auto p = tensors(params, n), g = tensors(grads, n), m = tensors(exp_avg, n), v = tensors(exp_avg_sq, n);
    if (a->grad_scale != 1) {
      for (auto &t : g) t.mul_(a->grad_scale);
    }
#ifdef COLDINT_FUSED_ADAMW
    if (allow_fused && p[0].is_cuda()) {
      // The kernel reads each parameter's step count (float32, on the
      // device) and increments nothing; one tensor serves the whole group.
      at::Tensor step = at::scalar_tensor(double(a->step), p[0].options().dtype(at::kFloat));
      std::vector<at::Tensor> steps(n, step), noMax;
      at::_fused_adamw_(p, g, m, v, noMax, steps, a->lr, a->beta1, a->beta2, a->weight_decay, a->eps,
                        /*amsgrad=*/false, /*maximize=*/false, /*grad_scale=*/{}, /*found_inf=*/{});
      return 1;
    }
#else
    (void)allow_fused;
#endif
    adamwElementwise(p, g, m, v, a);
    return 0;
  } catch (const std::exception &e) {
    setErr(err, e.what());
    return -1;
  }
}
