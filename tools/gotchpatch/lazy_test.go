package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestNativeNames: the loader's function list comes from the C part of the
// headers: declarations over several lines, comments and macros skipped.
func TestNativeNames(t *testing.T) {
	h1 := `#ifndef X
#define PROTECT(x) \
  try { at_not_a_function(); } \
  catch (...) {}
#endif
// void at_commented(int);
/* int atg_block_commented(void); */
char *get_and_reset_last_err(); // thread-local
void at_copy_data(tensor tensor, void *vs, size_t numel,
                  size_t element_size_in_bytes);
void at_load_callback(char *filename, void *data,
                      void (*f)(void *, char *, tensor));
optimizer ato_adam(double learning_rate);
tensor *atg__to_cpu(tensor *tensors_data, int tensors_len);
`
	h2 := `extern "C" {
int coldint_native_abi(void);
const char *coldint_native_info(void);
}`
	got := nativeNames([]byte(h1), []byte(h2))
	want := []string{"at_copy_data", "at_load_callback", "atg__to_cpu", "ato_adam", "coldint_native_abi", "coldint_native_info", "get_and_reset_last_err"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	asm := lazyAsm(got)
	for i, n := range got {
		if !strings.Contains(asm, n+":\n\tjmp *coldint_native_table+"+itoa(8*i)+"(%rip)") {
			t.Errorf("no trampoline for %s at slot %d", n, i)
		}
	}
	if c := lazyC(got); strings.Count(c, "\t\"") != len(got) {
		t.Errorf("loader names %d functions, want %d", strings.Count(c, "\t\""), len(got))
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
