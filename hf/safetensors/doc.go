// Package safetensors reads and writes the safetensors format in pure Go.
//
// A file is an 8-byte little-endian header length N (at most
// [MaxHeaderSize]), N bytes of UTF-8 JSON that start with '{' and may be
// right-padded with spaces, then the data buffer. The JSON maps each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} with offsets
// relative to the buffer; an optional "__metadata__" maps strings to strings.
// The reader validates the whole header before any tensor is read: unknown
// dtypes, duplicate keys, negative or overflowing shapes, offsets that do not
// tile the buffer exactly from 0 to its end, and a size that disagrees with
// the element count are all errors naming the tensor. Tensor data is read on
// demand through [io.ReaderAt], so a checkpoint never has to fit in memory.
//
// The writer orders tensors by descending dtype alignment, then name, pads
// the header with spaces to a multiple of 8 and writes atomically. Sharded
// checkpoints (model.safetensors.index.json) are opened with [OpenDir].
package safetensors
