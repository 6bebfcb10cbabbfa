package demorun

import (
	"testing"

	"github.com/coldint/coldint/tokenizer"
)

func TestByteTokenizerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := WriteByteTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 257 {
		t.Fatalf("vocab %d, want 257", tok.VocabSize())
	}
	for _, s := range []string{"Hello, world!", "wörld €\n\ttab", "  spaces  ", EndOfText + "x"} {
		ids, err := tok.Encode(s, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tok.Decode(ids, false)
		if err != nil || got != s {
			t.Fatalf("round trip of %q: %q, %v (ids %v)", s, got, err, ids)
		}
	}
	ids, _ := tok.Encode("A"+EndOfText, false)
	if len(ids) != 2 || ids[0] != 'A' || ids[1] != 256 {
		t.Fatalf("ids %v", ids)
	}
}
