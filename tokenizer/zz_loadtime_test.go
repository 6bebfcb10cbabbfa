package tokenizer

import (
	"testing"
)

func BenchmarkLoadGemma(b *testing.B) {
	d := oracleDir(b, "gemma3")
	for i := 0; i < b.N; i++ {
		if _, err := Load(d); err != nil {
			b.Fatal(err)
		}
	}
}
