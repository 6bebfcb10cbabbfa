// Data-parallel collectives over libtorch's c10d (the Go side is
// model/ddp.go): a TCPStore rendezvous hosted by rank 0, a Gloo process group
// for CPU tensors and, in a CUDA build of the library, an NCCL one for CUDA
// tensors. Tensor handles are gotch's C tensors (torch::Tensor *). Every
// function that can fail returns 0 on success and -1 with *err set to a
// malloc'd message.
#ifndef COLDINT_C10D_H
#define COLDINT_C10D_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// coldint_c10d_new joins the group of world ranks: rank 0 hosts the TCPStore
// on addr:port (unless agent_store: a launcher such as torchrun hosts it),
// the others connect to it; everyone waits at most timeout_ms for the others
// (and for every later collective). cuda selects NCCL (only in a CUDA build)
// over Gloo. It stores the group in *out.
int coldint_c10d_new(const char *addr, int port, int rank, int world, int64_t timeout_ms, int cuda,
                     int agent_store, void **out, char **err);

// coldint_c10d_allreduce_start starts summing every tensor over the ranks,
// in buckets of at most bucket_bytes (tensors of one bucket are flattened
// into one buffer for one collective), without waiting: the transfers run
// on the process group's threads while the caller goes on (with the
// backward pass of the next layers, say). The tensors must not change until
// coldint_c10d_allreduce_finish, which every started reduction needs; *work
// receives its handle.
int coldint_c10d_allreduce_start(void *pg, void **tensors, int n, int64_t bucket_bytes, void **work, char **err);

// coldint_c10d_allreduce_finish waits for a reduction started by
// coldint_c10d_allreduce_start and frees work, also when it fails. A tensor
// reduced in place (alone in its bucket) gets views[i] null; the results of
// tensors that shared a bucket are not copied back: views[i] is a new tensor
// handle (free it as any) viewing tensor i's result in the bucket's buffer,
// and tensor i is left as it was. views must hold n entries.
int coldint_c10d_allreduce_finish(void *pg, void *work, void **views, char **err);

// coldint_c10d_allreduce_sum replaces every tensor by its sum over the ranks,
// one collective per tensor (for small tensors such as counters).
int coldint_c10d_allreduce_sum(void *pg, void **tensors, int n, char **err);

// coldint_c10d_broadcast copies root's tensors into every rank's (same
// shapes and dtypes), in buckets of at most bucket_bytes.
int coldint_c10d_broadcast(void *pg, void **tensors, int n, int root, int64_t bucket_bytes, char **err);

// coldint_c10d_barrier waits until every rank has reached it.
int coldint_c10d_barrier(void *pg, char **err);

// coldint_c10d_agree publishes this rank's digest of the thing named what
// (for example "model config") through the store and compares it with every
// other rank's; a mismatch is an error naming the first rank whose digest
// differs. Every rank calls it with the same what, once per what.
int coldint_c10d_agree(void *pg, const char *what, const char *digest, char **err);

// coldint_c10d_store_set stores len bytes of value under key in the
// rendezvous store (visible to every rank; a later set replaces it).
int coldint_c10d_store_set(void *pg, const char *key, const uint8_t *value, int64_t len, char **err);

// coldint_c10d_store_get waits (at most the group's timeout) until key is in
// the store and returns its value as a malloc'd buffer in *out, *len bytes.
int coldint_c10d_store_get(void *pg, const char *key, uint8_t **out, int64_t *len, char **err);

// coldint_c10d_store_delete removes key from the store (no error when it is
// not there).
int coldint_c10d_store_delete(void *pg, const char *key, char **err);

// coldint_c10d_free leaves the group and frees it.
void coldint_c10d_free(void *pg);

#ifdef __cplusplus
}
#endif

#endif
