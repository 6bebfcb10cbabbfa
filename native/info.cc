// coldint_native_abi and coldint_native_info: what the library was built
// against, for the Go side's start-up check and `coldint engine-info`.

#include <dlfcn.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "native.h"

// Written by native/build.sh into the generated build_info.cc.
extern "C" {
extern const char coldint_build_libtorch_dir[];
extern const char coldint_build_compiler[];
extern const int coldint_build_cxx11_abi;
extern const int coldint_build_stubbed;
extern const int coldint_build_sdpa;
}

namespace {

// quote returns s as a JSON string.
std::string quote(const char *s) {
  std::string out = "\"";
  for (; *s != '\0'; s++) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

const char *boolean(bool b) { return b ? "true" : "false"; }

}  // namespace

extern "C" int coldint_native_abi(void) { return COLDINT_NATIVE_ABI; }

extern "C" const char *coldint_native_info(void) {
  static std::once_flag once;
  static std::string info;
  std::call_once(once, [] {
#ifdef COLDINT_WITH_CUDA
    const bool cuda = true;
#else
    const bool cuda = false;
#endif
    int devices = 0;
    try {
      devices = static_cast<int>(torch::cuda::device_count());
    } catch (...) {
      devices = 0;
    }
    Dl_info dl{};
    const char *path = "";
    if (dladdr(reinterpret_cast<void *>(&coldint_native_abi), &dl) != 0 && dl.dli_fname != nullptr) path = dl.dli_fname;
    info = "{\"abi\":" + std::to_string(COLDINT_NATIVE_ABI) +
           ",\"libtorch_version\":" + quote(TORCH_VERSION) +
           ",\"libtorch_dir\":" + quote(coldint_build_libtorch_dir) +
           ",\"cuda\":" + boolean(cuda) +
           ",\"cuda_devices\":" + std::to_string(devices) +
           ",\"cxx11_abi\":" + std::to_string(coldint_build_cxx11_abi) +
           ",\"stubbed_wrappers\":" + std::to_string(coldint_build_stubbed) +
           ",\"sdpa\":" + boolean(coldint_build_sdpa != 0) +
           ",\"compiler\":" + quote(coldint_build_compiler) +
           ",\"library\":" + quote(path) + "}";
  });
  return info.c_str();
}
