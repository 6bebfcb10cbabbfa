package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitText(t *testing.T) {
	const text = "first para\nline two\n\n\n  \nsecond para\r\n\nthird\n"
	tests := []struct {
		mode TextMode
		want []string
	}{
		{Paragraphs, []string{"first para\nline two", "second para", "third"}},
		{Lines, []string{"first para", "line two", "second para", "third"}},
		{WholeFile, []string{"first para\nline two\n\n\n  \nsecond para\n\nthird"}},
	}
	for _, tc := range tests {
		got, err := SplitText(strings.NewReader(text), tc.mode)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitText(mode %d) = %q, %v; want %q", tc.mode, got, err, tc.want)
		}
	}
	if got, _ := SplitText(strings.NewReader(" \n\n"), WholeFile); got != nil {
		t.Errorf("blank file gave %q", got)
	}
	for in, want := range map[string]TextMode{"": Paragraphs, "line": Lines, "file": WholeFile} {
		if got, err := ParseTextMode(in); err != nil || got != want {
			t.Errorf("ParseTextMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseTextMode("word"); err == nil {
		t.Error("ParseTextMode accepted word")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLocalSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	writeFile(t, filepath.Join(corpus, "a.jsonl"), []byte(`{"text":"j1","id":"x"}`+"\n\n"+`{"text":"j2 \"quoted\" ünï"}`+"\n"))
	writeFile(t, filepath.Join(corpus, "b.jsonl.gz"), gz(t, []byte(`{"text":"g1"}`+"\n"+`{"text":"g2"}`)))
	writeFile(t, filepath.Join(corpus, "sub", "c.txt"), []byte("p1\n\np2 line\nmore\n"))
	writeFile(t, filepath.Join(corpus, "README.md"), []byte("ignored"))
	writeFile(t, filepath.Join(corpus, ".hidden", "x.txt"), []byte("ignored"))
	single := filepath.Join(dir, "one.txt")
	writeFile(t, single, []byte("s1\ns2\n"))

	l, err := OpenLocal(ctx, []string{corpus, single}, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	splits, _ := l.Splits(ctx)
	want := []Split{{"corpus", "train", 6}, {"one.txt", "train", 1}}
	if !reflect.DeepEqual(splits, want) {
		t.Fatalf("Splits = %+v; want %+v", splits, want)
	}
	rows, err := l.Rows(ctx, Page{"corpus", "train", 1, 4})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i, r := range rows {
		if r.Index != int64(1+i) {
			t.Fatalf("row %d index %d", i, r.Index)
		}
		texts = append(texts, r.Text)
	}
	if w := []string{`j2 "quoted" ünï`, "g1", "g2", "p1"}; !reflect.DeepEqual(texts, w) {
		t.Fatalf("rows %q; want %q", texts, w)
	}
	if rows, _ := l.Rows(ctx, Page{"corpus", "train", 5, 10}); len(rows) != 1 || rows[0].Text != "p2 line\nmore" {
		t.Fatalf("tail rows %+v", rows)
	}
	if rows, _ := l.Rows(ctx, Page{"corpus", "train", 50, 10}); len(rows) != 0 {
		t.Fatalf("rows past the end: %+v", rows)
	}
	if _, err := l.Rows(ctx, Page{"nope", "train", 0, 1}); !errors.Is(err, ErrUnknownSplit) {
		t.Fatalf("unknown config: %v", err)
	}

	all, err := ReadLocalTexts(ctx, []string{corpus, single})
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"j1", `j2 "quoted" ünï`, "g1", "g2", "p1", "p2 line\nmore", "s1\ns2"}; !reflect.DeepEqual(all, w) {
		t.Fatalf("ReadLocalTexts = %q; want %q", all, w)
	}

	per, err := OpenLocal(ctx, []string{corpus}, LocalOptions{PerFile: true, TextMode: Lines})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := per.Splits(ctx)
	wantPer := []Split{{"corpus/a.jsonl", "train", 2}, {"corpus/b.jsonl.gz", "train", 2}, {"corpus/sub/c.txt", "train", 3}}
	if !reflect.DeepEqual(ps, wantPer) {
		t.Fatalf("per-file splits %+v; want %+v", ps, wantPer)
	}

	// Deterministic given the seed; different seeds differ.
	a, err := Fetch(ctx, l, NewRand(42), 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fetch(ctx, l, NewRand(42), 6, 2)
	if !reflect.DeepEqual(a, b) || len(Texts(a)) == 0 {
		t.Fatal("same seed gave different pages")
	}
	differ := false
	for seed := uint64(0); seed < 5 && !differ; seed++ {
		c, _ := Fetch(ctx, l, NewRand(seed), 6, 2)
		differ = !reflect.DeepEqual(Pages(c), Pages(a))
	}
	if !differ {
		t.Fatal("pages do not depend on the seed")
	}
}

func TestLocalErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, []byte(`{"text":"ok"}`+"\n"+`{"txt":"no"}`+"\n"))
	if _, err := OpenLocal(ctx, []string{bad}, LocalOptions{}); !errors.Is(err, ErrBadJSONL) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad jsonl: %v", err)
	}
	if _, err := OpenLocal(ctx, []string{filepath.Join(dir, "x.csv")}, LocalOptions{}); err == nil {
		t.Fatal("missing file opened")
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := OpenLocal(ctx, []string{empty}, LocalOptions{}); !errors.Is(err, ErrNoSplits) {
		t.Fatalf("empty folder: %v", err)
	}
	notgz := filepath.Join(dir, "x.jsonl.gz")
	writeFile(t, notgz, []byte("plain"))
	if _, err := OpenLocal(ctx, []string{notgz}, LocalOptions{}); err == nil {
		t.Fatal("non-gzip .gz opened")
	}
}

func TestRandomPages(t *testing.T) {
	splits := []Split{{"a", "train", 1000}, {"b", "train", 10}}
	pages, err := RandomPages(NewRand(1), splits, 200, 25)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pages {
		seen[p.Config] = true
		switch p.Config {
		case "a":
			if p.Offset < 0 || p.Offset > 1000-1-25 {
				t.Fatalf("offset %d out of range", p.Offset)
			}
		case "b":
			if p.Offset != 0 {
				t.Fatalf("small split offset %d", p.Offset)
			}
		}
		if p.Length != 25 {
			t.Fatalf("length %d", p.Length)
		}
	}
	if !seen["a"] || !seen["b"] {
		t.Fatal("a config was never picked")
	}
	if _, err := RandomPages(NewRand(1), nil, 1, 5); !errors.Is(err, ErrNoSplits) {
		t.Fatal(err)
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	recs := []Record{{Text: "a <b> & \"c\"\nd", ID: "1"}, {Text: "", Source: "s"}, {Text: strings.Repeat("x", 3<<20)}}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `\u003c`) {
		t.Fatal("HTML escaped")
	}
	var got []string
	if err := ReadJSONL(context.Background(), &buf, "mem", func(s string) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != recs[0].Text || got[1] != "" || got[2] != recs[2].Text {
		t.Fatal("round trip differs")
	}
}

func FuzzParseJSONLLine(f *testing.F) {
	f.Add([]byte(`{"text":"hello"}`))
	f.Add([]byte(`{"text":null}`))
	f.Add([]byte(`{"text":"a","text":"b"}`))
	f.Add([]byte(`["text"]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		text, err := ParseJSONLLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadJSONL) {
				t.Fatalf("error not ErrBadJSONL: %v", err)
			}
			return
		}
		// Whatever parses must survive a write/read round trip.
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, []Record{{Text: text}}); err != nil {
			t.Fatal(err)
		}
		back, err := ParseJSONLLine(buf.Bytes())
		if err != nil || back != strings.ToValidUTF8(text, "\uFFFD") {
			t.Fatalf("round trip %q -> %q, %v", text, back, err)
		}
	})
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte("{\"text\":\"a\"}\n\n{\"text\":\"b\"}"))
	f.Add([]byte("{\"text\":\"a\"}\r\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := ReadJSONL(context.Background(), bytes.NewReader(data), "fuzz", func(string) error { n++; return nil })
		if err == nil && n > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d records from %d lines", n, bytes.Count(data, []byte("\n"))+1)
		}
	})
}
