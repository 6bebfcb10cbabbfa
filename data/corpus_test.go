package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

func TestParseJargon(t *testing.T) {
	const in = `                                The Jargon File

   Table of Contents

   (TM)

   :(TM): //

   [Usenet] ASCII rendition of the ™ appended to phrases
   that the author feels should be recorded.

   See also {UN*X}.

  B

   B1FF

   :B1FF: /bif/, BIFF, n.

   The most famous {pseudo}.

                             Part` + "\u00a0III.\u00a0" + `Appendices

   Table of Contents
`
	got, err := ParseJargon(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		":(TM): //\n\n[Usenet] ASCII rendition of the ™ appended to phrases that the author feels should be recorded.\n\nSee also {UN*X}.",
		":B1FF: /bif/, BIFF, n.\n\nThe most famous {pseudo}.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseJargon = %q; want %q", got, want)
	}
}

func TestParseDict(t *testing.T) {
	data := []byte("META INFO\nABASEMENT, n.  A decent attitude.  \n\nAPPEAL, v.t.  In law.\n    verse line\n")
	// offsets: "META INFO\n" = 10 bytes; entry 1 from 10 (K), 37 bytes (l);
	// entry 2 from 47 (v), 37 bytes (l), listed twice.
	idx := "00databaseinfo\tA\tK\nappeal\tv\tl\nabasement\tK\tl\nappeal2\tv\tl\n"
	got, err := ParseDict(data, strings.NewReader(idx))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ABASEMENT, n.  A decent attitude.", "APPEAL, v.t.  In law.\n    verse line"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseDict = %q; want %q", got, want)
	}
	for _, bad := range []string{"x\tA\n", "x\t!!\tA\n", "x\tA\t//////\n"} {
		if _, err := ParseDict(data, strings.NewReader(bad)); err == nil {
			t.Errorf("ParseDict accepted index %q", bad)
		}
	}
	for s, v := range map[string]int64{"A": 0, "b": 27, "BA": 64, "uA": 2944, "Cf": 159, "/": 63} {
		if got, err := dictNumber(s); err != nil || got != v {
			t.Errorf("dictNumber(%q) = %d, %v; want %d", s, got, err, v)
		}
	}
}

func TestParseKJV(t *testing.T) {
	in := "Ge1:1 In the beginning.\nGe1:2 And the earth.\nGe2:1 Thus the heavens.\n1Sa1:1 Now there was.\n"
	got, err := ParseKJV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"In the beginning. And the earth.", "Thus the heavens.", "Now there was."}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseKJV = %q; want %q", got, want)
	}
	if _, err := ParseKJV(strings.NewReader("no verse here\n")); err == nil {
		t.Fatal("ParseKJV accepted a non-verse")
	}
}

func TestBuildCorpusMissingPackages(t *testing.T) {
	_, err := BuildCorpus(context.Background(), CorpusOptions{Out: t.TempDir(), Root: t.TempDir()})
	if !errors.Is(err, ErrMissingPackage) {
		t.Fatalf("BuildCorpus on an empty root = %v; want ErrMissingPackage", err)
	}
	if _, err := BuildCorpus(context.Background(), CorpusOptions{Out: t.TempDir(), Sources: []string{"gutenberg"}}); err == nil {
		t.Fatal("unknown source accepted")
	}
}

// debianCorpus skips (or fails under COLDINT_TEST_REQUIRE_DEPS) when the
// packages of `make setup-data` are missing.
func debianCorpus(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/usr/share/doc/jargon-text/jargon.txt.gz", "/usr/share/dictd/devil.dict.dz", "/usr/bin/bible", "/usr/lib/bible.data"} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "Debian text packages jargon-text dict-devil bible-kjv bible-kjv-text (make setup-data): "+p)
		}
	}
}

func TestBuildCorpusDebian(t *testing.T) {
	debianCorpus(t)
	ctx := context.Background()
	out1, out2 := t.TempDir(), t.TempDir()
	// A stale shard of an earlier, bigger build is removed.
	if err := os.WriteFile(filepath.Join(out1, "shard-09999.jsonl.gz"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	m1, err := BuildCorpus(ctx, CorpusOptions{Out: out1, Seed: 29, ShardDocs: 700})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := BuildCorpus(ctx, CorpusOptions{Out: out2, Seed: 29, ShardDocs: 700})
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(m1)
	j2, _ := json.Marshal(m2)
	if !bytes.Equal(j1, j2) {
		t.Fatal("same options gave different manifests")
	}
	for _, sh := range m1.Shards {
		a, _ := os.ReadFile(filepath.Join(out1, sh.Name))
		b, _ := os.ReadFile(filepath.Join(out2, sh.Name))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("shard %s differs between builds", sh.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(out1, "shard-09999.jsonl.gz")); !os.IsNotExist(err) {
		t.Fatal("stale shard kept")
	}
	var mf CorpusManifest
	mj, _ := os.ReadFile(filepath.Join(out1, ManifestFile))
	if err := json.Unmarshal(mj, &mf); err != nil || mf.Docs != m1.Docs {
		t.Fatalf("manifest.json: %v", err)
	}

	counts := map[string]int{}
	sum := 0
	for _, s := range m1.Sources {
		counts[s.Name] = s.Docs
		sum += s.Docs
	}
	// KJV has 1189 chapters; the Jargon File 4.4.7 has more than 2000
	// entries; the Devil's Dictionary about a thousand.
	if counts["kjv"] != 1189 || counts["jargon"] < 2000 || counts["devil"] < 900 || sum != m1.Docs {
		t.Fatalf("document counts %v (total %d)", counts, m1.Docs)
	}
	if want := (m1.Docs + 699) / 700; len(m1.Shards) != want {
		t.Fatalf("%d shards; want %d", len(m1.Shards), want)
	}

	// The local source reads it back: one config, every document.
	l, err := OpenLocal(ctx, []string{out1}, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	splits, _ := l.Splits(ctx)
	if len(splits) != 1 || splits[0].NumRows != int64(m1.Docs) {
		t.Fatalf("local splits %+v; want one with %d rows", splits, m1.Docs)
	}
	rows, err := l.Rows(ctx, Page{Config: splits[0].Config, Split: "train", Offset: 0, Length: m1.Docs})
	if err != nil {
		t.Fatal(err)
	}
	var genesis, zork, appendix bool
	for _, r := range rows {
		genesis = genesis || strings.HasPrefix(r.Text, "In the beginning God created the heaven and the earth.")
		if strings.HasPrefix(r.Text, ":zorkmid:") {
			zork = true
			appendix = strings.Contains(r.Text, "Appendices")
		}
		if strings.TrimSpace(r.Text) == "" {
			t.Fatal("empty document")
		}
	}
	if !genesis || !zork || appendix {
		t.Fatalf("genesis %v, zorkmid %v, appendix leaked %v", genesis, zork, appendix)
	}

	// Another seed shuffles differently.
	m3, err := BuildCorpus(ctx, CorpusOptions{Out: t.TempDir(), Seed: 30, ShardDocs: 700, Sources: []string{"devil", "jargon"}})
	if err != nil {
		t.Fatal(err)
	}
	if m3.Docs != counts["devil"]+counts["jargon"] || m3.Shards[0].SHA256 == m1.Shards[0].SHA256 {
		t.Fatalf("seed/sources ignored: %+v", m3.Shards[0])
	}
}

func FuzzParseDict(f *testing.F) {
	f.Add([]byte("META\nENTRY one\n"), "00databaseinfo\tA\tE\nentry\tF\tK\n")
	f.Add([]byte("x"), "a\t//////////\tB\n")
	f.Fuzz(func(t *testing.T, data []byte, index string) {
		docs, err := ParseDict(data, strings.NewReader(index))
		if err != nil {
			return
		}
		for _, d := range docs {
			if d == "" || strings.HasPrefix(d, "\n") || strings.HasSuffix(d, "\n") {
				t.Fatalf("bad entry %q", d)
			}
		}
	})
}

func FuzzParseKJV(f *testing.F) {
	f.Add("Ge1:1 In the beginning.\nGe1:2 And.\n1Sa2:3 x\n")
	f.Add("Re22:21 The grace\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		docs, err := ParseKJV(strings.NewReader(in))
		if err != nil {
			return
		}
		if n := strings.Count(in, ":"); len(docs) > n {
			t.Fatalf("%d chapters from %d verses", len(docs), n)
		}
	})
}

func FuzzParseJargon(f *testing.F) {
	f.Add("   :foo: n.\n\n   text\n   more\n\n  B\n\n   bar\n")
	f.Fuzz(func(t *testing.T, in string) {
		docs, err := ParseJargon(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, d := range docs {
			if !strings.HasPrefix(d, ":") || strings.Contains(d, "\n\n\n") {
				t.Fatalf("bad entry %q", d)
			}
		}
	})
}

func FuzzSplitText(f *testing.F) {
	f.Add("a\n\nb\r\nc\n", 0)
	f.Fuzz(func(t *testing.T, in string, mode int) {
		m := TextMode(((mode % 3) + 3) % 3)
		docs, err := SplitText(strings.NewReader(in), m)
		if err != nil {
			return
		}
		for _, d := range docs {
			if strings.TrimSpace(d) == "" {
				t.Fatalf("blank document %q (mode %d)", d, m)
			}
			if m == Lines && strings.Contains(d, "\n") {
				t.Fatalf("line document with newline %q", d)
			}
		}
	})
}
