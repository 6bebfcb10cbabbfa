package model

// #include <stdlib.h>
// #include "c10d.h"
import "C"

import (
	"context"
	"fmt"
	"unsafe"
)

// Post stores value under key in the group's rendezvous store, where every
// rank can read it (a later Post of the same key replaces it). Keys are
// shared by all ranks: give each rank its own (for example with its rank in
// the key).
func (d *DDP) Post(ctx context.Context, key string, value []byte) error {
	return d.e.Do(ctx, func() error {
		k := C.CString(key)
		defer C.free(unsafe.Pointer(k))
		var v *C.uint8_t
		if len(value) > 0 {
			v = (*C.uint8_t)(C.CBytes(value))
			defer C.free(unsafe.Pointer(v))
		}
		var msg *C.char
		if C.coldint_c10d_store_set(d.pg, k, v, C.int64_t(len(value)), &msg) != 0 {
			return fmt.Errorf("post %q: %w", key, c10dErr(msg))
		}
		return nil
	})
}

// Read returns the value posted under key, waiting for it as long as the
// group's timeout allows.
func (d *DDP) Read(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := d.e.Do(ctx, func() error {
		k := C.CString(key)
		defer C.free(unsafe.Pointer(k))
		var buf *C.uint8_t
		var n C.int64_t
		var msg *C.char
		if C.coldint_c10d_store_get(d.pg, k, &buf, &n, &msg) != 0 {
			return d.peerErr(c10dErr(msg))
		}
		defer C.free(unsafe.Pointer(buf))
		out = C.GoBytes(unsafe.Pointer(buf), C.int(n))
		return nil
	})
	return out, err
}

// Remove deletes key from the store.
func (d *DDP) Remove(ctx context.Context, key string) error {
	return d.e.Do(ctx, func() error {
		k := C.CString(key)
		defer C.free(unsafe.Pointer(k))
		var msg *C.char
		if C.coldint_c10d_store_delete(d.pg, k, &msg) != 0 {
			return c10dErr(msg)
		}
		return nil
	})
}
