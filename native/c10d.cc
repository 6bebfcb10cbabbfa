// See c10d.h.
#include "c10d.h"

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// Gloo's headers are a separate package on some systems (Debian's
// libgloo-dev); without them the library still builds and a CPU group
// reports that Gloo is missing.
#if __has_include(<gloo/config.h>)
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(COLDINT_WITH_CUDA) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank = 0, world = 1;
  std::chrono::milliseconds timeout{0};
};

// fail stores msg as a malloc'd copy in *err and returns -1.
int fail(char **err, const std::string &msg) {
  if (err != nullptr) {
    *err = strdup(msg.c_str());
  }
  return -1;
}

// first_line keeps the first line of an exception text (c10's messages carry
// a C++ backtrace after it).
std::string first_line(const char *what) {
  std::string s(what);
  size_t i = s.find("\nException raised from");
  if (i != std::string::npos) s.resize(i);
  return s;
}

std::vector<at::Tensor> tensors_of(void **h, int n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) out.push_back(*static_cast<at::Tensor *>(h[i]));
  return out;
}

void wait(Group *g, c10::intrusive_ptr<c10d::Work> w) { w->wait(g->timeout); }

// buckets groups consecutive tensors of one dtype and device into runs of at
// most bucket_bytes (a bigger tensor is a bucket of its own).
std::vector<std::vector<at::Tensor>> buckets(const std::vector<at::Tensor> &ts, int64_t bucket_bytes) {
  std::vector<std::vector<at::Tensor>> out;
  int64_t bytes = 0;
  for (const auto &t : ts) {
    int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    if (out.empty() || bytes + b > bucket_bytes || out.back()[0].scalar_type() != t.scalar_type() ||
        out.back()[0].device() != t.device()) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

// flat returns the bucket as one contiguous buffer.
at::Tensor flat(const std::vector<at::Tensor> &b) {
  if (b.size() == 1 && b[0].is_contiguous()) return b[0].view({-1});
  std::vector<at::Tensor> views;
  views.reserve(b.size());
  for (const auto &t : b) views.push_back(t.reshape({-1}));
  return at::cat(views);
}

// unflat copies buf back into the bucket's tensors unless buf is their view.
void unflat(const at::Tensor &buf, const std::vector<at::Tensor> &b) {
  if (b.size() == 1 && b[0].is_contiguous()) return;
  int64_t off = 0;
  for (const auto &t : b) {
    int64_t n = t.numel();
    const_cast<at::Tensor &>(t).copy_(buf.narrow(0, off, n).view(t.sizes()));
    off += n;
  }
}

}  // namespace

#define C10D_TRY try {
#define C10D_CATCH(ctx)                                          \
  }                                                               \
  catch (const std::exception &e) {                               \
    return fail(err, std::string(ctx) + ": " + first_line(e.what())); \
  }

extern "C" int coldint_c10d_new(const char *addr, int port, int rank, int world, int64_t timeout_ms, int cuda,
                                int agent_store, void **out, char **err) {
  if (world < 1 || rank < 0 || rank >= world) {
    return fail(err, "rank " + std::to_string(rank) + " is outside a world of " + std::to_string(world));
  }
  if (port < 1 || port > 65535) return fail(err, "port " + std::to_string(port) + " is outside 1..65535");
  auto g = std::make_unique<Group>();
  g->rank = rank;
  g->world = world;
  g->timeout = std::chrono::milliseconds(timeout_ms);
  std::string host(addr);
  C10D_TRY
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = rank == 0 && !agent_store;
  o.numWorkers = static_cast<size_t>(world);
  o.waitWorkers = true;
  o.timeout = g->timeout;
  g->store = c10::make_intrusive<c10d::TCPStore>(host, o);
  C10D_CATCH("rendezvous at " + host + ":" + std::to_string(port) + " (rank " + std::to_string(rank) + " of " +
             std::to_string(world) + ")")
  C10D_TRY
  if (cuda) {
#ifdef USE_C10D_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = g->timeout;
    g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, rank, world, opts);
#else
    return fail(err, "this engine library was built without CUDA and NCCL: no CUDA process group");
#endif
  } else {
#ifndef USE_C10D_GLOO
    return fail(err, "this engine library was built without Gloo's headers: no CPU process group");
#else
    auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
    const char *ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (host == "127.0.0.1" || host == "localhost" || host == "::1") {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, world, opts);
#endif
  }
  C10D_CATCH(std::string("create the ") + (cuda ? "NCCL" : "Gloo") + " process group (rank " + std::to_string(rank) +
             " of " + std::to_string(world) + ")")
  *out = g.release();
  return 0;
}

namespace {

// Pending is a reduction started by coldint_c10d_allreduce_start.
struct Pending {
  std::vector<std::vector<at::Tensor>> bs;
  std::vector<std::vector<at::Tensor>> bufs;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
};

}  // namespace

extern "C" int coldint_c10d_allreduce_start(void *p, void **h, int n, int64_t bucket_bytes, void **work, char **err) {
  auto *g = static_cast<Group *>(p);
  *work = nullptr;
  C10D_TRY
  at::NoGradGuard ng;
  auto w = std::make_unique<Pending>();
  w->bs = buckets(tensors_of(h, n), bucket_bytes);
  w->bufs.resize(w->bs.size());
  w->works.resize(w->bs.size());
  for (size_t i = 0; i < w->bs.size(); i++) {
    w->bufs[i] = {flat(w->bs[i])};
    w->works[i] = g->pg->allreduce(w->bufs[i], c10d::AllreduceOptions());
  }
  *work = w.release();
  C10D_CATCH("start the all-reduce of gradients (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_allreduce_finish(void *p, void *work, void **views, char **err) {
  auto *g = static_cast<Group *>(p);
  std::unique_ptr<Pending> w(static_cast<Pending *>(work));
  C10D_TRY
  at::NoGradGuard ng;
  size_t k = 0;
  for (size_t i = 0; i < w->bs.size(); i++) {
    wait(g, w->works[i]);
    const auto &b = w->bs[i];
    if (b.size() == 1 && b[0].is_contiguous()) {
      views[k++] = nullptr;
      continue;
    }
    int64_t off = 0;
    for (const auto &t : b) {
      views[k++] = new at::Tensor(w->bufs[i][0].narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
  C10D_CATCH("all-reduce gradients (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_allreduce_sum(void *p, void **h, int n, char **err) {
  auto *g = static_cast<Group *>(p);
  C10D_TRY
  at::NoGradGuard ng;
  for (auto &t : tensors_of(h, n)) {
    std::vector<at::Tensor> buf{t};
    wait(g, g->pg->allreduce(buf, c10d::AllreduceOptions()));
  }
  C10D_CATCH("all-reduce (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_broadcast(void *p, void **h, int n, int root, int64_t bucket_bytes, char **err) {
  auto *g = static_cast<Group *>(p);
  C10D_TRY
  at::NoGradGuard ng;
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (const auto &b : buckets(tensors_of(h, n), bucket_bytes)) {
    std::vector<at::Tensor> buf{flat(b)};
    wait(g, g->pg->broadcast(buf, o));
    unflat(buf[0], b);
  }
  C10D_CATCH("broadcast from rank " + std::to_string(root) + " (rank " + std::to_string(g->rank) + " of " +
             std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_barrier(void *p, char **err) {
  auto *g = static_cast<Group *>(p);
  C10D_TRY
  wait(g, g->pg->barrier());
  C10D_CATCH("barrier (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_agree(void *p, const char *what, const char *digest, char **err) {
  auto *g = static_cast<Group *>(p);
  std::string mine(digest), name(what);
  C10D_TRY
  g->store->set("coldint/agree/" + name + "/" + std::to_string(g->rank),
                std::vector<uint8_t>(mine.begin(), mine.end()));
  for (int r = 0; r < g->world; r++) {
    auto v = g->store->get("coldint/agree/" + name + "/" + std::to_string(r));
    std::string theirs(v.begin(), v.end());
    if (theirs != mine) {
      return fail(err, name + " differs across ranks: rank " + std::to_string(r) + " has " + theirs + ", rank " +
                           std::to_string(g->rank) + " has " + mine);
    }
  }
  C10D_CATCH("compare the " + name + " across ranks (rank " + std::to_string(g->rank) + " of " +
             std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_store_set(void *p, const char *key, const uint8_t *value, int64_t len, char **err) {
  auto *g = static_cast<Group *>(p);
  std::string k(key);
  C10D_TRY
  g->store->set("coldint/kv/" + k, std::vector<uint8_t>(value, value + len));
  C10D_CATCH("store " + k + " (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_store_get(void *p, const char *key, uint8_t **out, int64_t *len, char **err) {
  auto *g = static_cast<Group *>(p);
  std::string k(key);
  C10D_TRY
  auto v = g->store->get("coldint/kv/" + k);
  *out = static_cast<uint8_t *>(malloc(v.size() + 1));
  if (*out == nullptr) return fail(err, "read " + k + ": out of memory");
  if (!v.empty()) memcpy(*out, v.data(), v.size());
  *len = static_cast<int64_t>(v.size());
  C10D_CATCH("read " + k + " from the store (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" int coldint_c10d_store_delete(void *p, const char *key, char **err) {
  auto *g = static_cast<Group *>(p);
  std::string k(key);
  C10D_TRY
  g->store->deleteKey("coldint/kv/" + k);
  C10D_CATCH("delete " + k + " from the store (rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ")")
  return 0;
}

extern "C" void coldint_c10d_free(void *p) {
  auto *g = static_cast<Group *>(p);
  try {
    g->pg.reset();
    g->store.reset();
  } catch (...) {
  }
  delete g;
}
