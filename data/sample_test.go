package data

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestCapSample(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		cap    int
		want   string
		capped bool
	}{
		{"no cap", "hello world", 0, "hello world", false},
		{"negative cap", "hello world", -1, "hello world", false},
		{"shorter", "hello", 10, "hello", false},
		{"exact length", "hello world", 11, "hello world", false},
		{"cut at last space", "hello big world", 12, "hello big", true},
		{"space right at cap is outside the prefix", "hello world", 5, "hello", true},
		{"space just inside", "hello world", 6, "hello", true},
		{"no space: hard cut", "abcdefghij", 4, "abcd", true},
		{"leading space only", " abcdefgh", 5, "", true},
		{"code points not bytes", "héllo wörld ünïcode", 13, "héllo wörld", true},
		{"multibyte uncapped", "ééééé", 5, "ééééé", false},
		{"multibyte hard cut", "ééééé", 3, "ééé", true},
		{"emoji count as one", "😀😀 😀😀😀", 4, "😀😀", true},
		{"newline is not a space", "ab\ncd\nef", 5, "ab\ncd", true},
		{"tab is not a space", "ab\tcd ef", 5, "ab\tcd", true},
		{"two spaces", "a  b", 3, "a ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, capped := CapSample(tc.text, tc.cap)
			if got != tc.want || capped != tc.capped {
				t.Fatalf("CapSample(%q, %d) = %q, %v; want %q, %v", tc.text, tc.cap, got, capped, tc.want, tc.capped)
			}
		})
	}
}

// pyCap mirrors the Python code on a []rune "str" to cross-check CapSample.
func pyCap(text string, capLen int) (string, bool) {
	row := []rune(text)
	if capLen == 0 || len(row) <= capLen {
		return text, false
	}
	l := -1
	for i := capLen - 1; i >= 0; i-- {
		if row[i] == ' ' {
			l = i
			break
		}
	}
	if l < 0 {
		l = capLen
	}
	return string(row[:l]), true
}

func FuzzCapSample(f *testing.F) {
	f.Add("hello big world", 7)
	f.Add("héllo wörld", 3)
	f.Fuzz(func(t *testing.T, text string, capLen int) {
		if capLen < 0 || !utf8.ValidString(text) {
			return
		}
		capLen %= 64
		got, capped := CapSample(text, capLen)
		want, wcapped := pyCap(text, capLen)
		if got != want || capped != wcapped {
			t.Fatalf("CapSample(%q,%d) = %q,%v; python %q,%v", text, capLen, got, capped, want, wcapped)
		}
	})
}

func TestWithEOS(t *testing.T) {
	tests := []struct {
		ids    []int
		capped bool
		want   []int
	}{
		{[]int{1, 2}, false, []int{1, 2, 9}},
		{[]int{1, 2}, true, []int{1, 2}},
		{nil, false, []int{9}},
		{nil, true, []int{}},
	}
	for _, tc := range tests {
		in := append([]int(nil), tc.ids...)
		got := WithEOS(tc.ids, tc.capped, 9)
		if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(in, tc.ids) {
			t.Fatalf("WithEOS(%v,%v) = %v; want %v (input changed: %v)", tc.ids, tc.capped, got, tc.want, tc.ids)
		}
	}
}

func TestPrepare(t *testing.T) {
	got := Prepare([]string{"short", "a long text here"}, 8)
	want := []Sample{{"short", false}, {"a long", true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Prepare = %+v; want %+v", got, want)
	}
}
