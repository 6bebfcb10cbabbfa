package competition

import (
	"errors"
	"strings"
	"testing"
)

func TestCapSample(t *testing.T) {
	tests := []struct {
		text   string
		cap    int
		want   string
		capped bool
	}{
		{"hello world foo", 0, "hello world foo", false},
		{"hello world foo", 15, "hello world foo", false},
		{"hello world foo", 14, "hello world", true}, // last space in "hello world fo"
		{"hello world foo", 11, "hello", true},       // "hello world": the space at 5
		{"helloworld", 5, "hello", true},             // no space: hard cut
		{" abcdef", 4, " abc", true},                 // quirk fix: space at 0 → hard cut
		{"héllo wörld ünï", 13, "héllo wörld", true}, // code points, not bytes
		{"日本語 テキスト です", 9, "日本語 テキスト", true},         // multi-byte
	}
	for _, tc := range tests {
		got, capped := CapSample(tc.text, tc.cap)
		if got != tc.want || capped != tc.capped {
			t.Errorf("CapSample(%q, %d) = %q %v; want %q %v", tc.text, tc.cap, got, capped, tc.want, tc.capped)
		}
	}
}

// wordTok is a toy tokenizer: one id per byte, "~" never round-trips, and
// an optional BOS that breaks the round trip.
type wordTok struct{ bos bool }

func (w wordTok) Encode(s string) ([]int, error) {
	var ids []int
	if w.bos {
		ids = append(ids, 1)
	}
	for _, b := range []byte(s) {
		ids = append(ids, int(b))
	}
	return ids, nil
}

func (w wordTok) Decode(ids []int) (string, error) {
	var sb strings.Builder
	for _, id := range ids {
		if id == 1 {
			sb.WriteString("<s>")
			continue
		}
		if id == '~' {
			id = '-'
		}
		sb.WriteByte(byte(id))
	}
	return sb.String(), nil
}

func TestTokenizeSamples(t *testing.T) {
	texts := []string{"ab", "abc def", "x~", "abcdefgh"}
	rows, maxID, st, err := TokenizeSamples(texts, wordTok{}, 0, 5, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	// "ab" + EOS; "abc def" capped at 6 → "abc" (no EOS); "x~" fails the round
	// trip; "abcdefgh" capped hard → "abcdef" (6 tokens > 5) → too long.
	if len(rows[0]) != 3 || rows[0][2] != 0 || len(rows[1]) != 3 || rows[2] != nil || rows[3] != nil {
		t.Fatalf("rows %v", rows)
	}
	if st != (TokenizeStats{Capped: 2, Invalid: 1, TooLong: 1}) || maxID != 'c' {
		t.Fatalf("stats %+v max %d", st, maxID)
	}
	// A tokenizer that inserts BOS fails every round trip: rejected after 3.
	_, _, _, err = TokenizeSamples([]string{"a", "b", "c", "d"}, wordTok{bos: true}, 0, 0, 0, 3)
	if !errors.Is(err, ErrTokenizerRejected) {
		t.Fatalf("want rejection, got %v", err)
	}
	if _, _, _, err := TokenizeSamples([]string{"a", "b", "c"}, wordTok{bos: true}, 0, 0, 0, 3); err != nil {
		t.Fatalf("3 failures are tolerated: %v", err)
	}
	if CheckVocab(99, 100) != nil || !errors.Is(CheckVocab(100, 100), ErrVocabMismatch) {
		t.Fatal("CheckVocab")
	}
}
