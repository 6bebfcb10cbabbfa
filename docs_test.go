package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// docAnchors returns, per file name in docs/, the GitHub-style anchors of its
// headings: lower case, punctuation other than '-' and '_' removed, spaces
// turned into '-', repeats numbered -1, -2, ...
func docAnchors(t *testing.T) map[string]map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list docs/*.md: %v (%d files)", err, len(files))
	}
	heading := regexp.MustCompile(`^#{1,6}\s+(.*)$`)
	out := map[string]map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		set, seen := map[string]bool{}, map[string]int{}
		inCode := false
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "```") {
				inCode = !inCode
			}
			m := heading.FindStringSubmatch(line)
			if inCode || m == nil {
				continue
			}
			a := anchorOf(m[1])
			if n := seen[a]; n > 0 {
				seen[a]++
				a += "-" + strconv.Itoa(n)
			} else {
				seen[a] = 1
			}
			set[a] = true
		}
		out[filepath.Base(f)] = set
	}
	return out
}

func anchorOf(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkLink reports whether target ("file.md#anchor", "file.md" or "#anchor"
// relative to from) names an existing document and heading.
func checkLink(anchors map[string]map[string]bool, from, target string) bool {
	file, anchor, _ := strings.Cut(target, "#")
	if file == "" {
		file = from
	}
	file = filepath.Base(file)
	if !strings.HasSuffix(file, ".md") {
		_, err := os.Stat(filepath.Join("docs", file))
		return err == nil
	}
	set, ok := anchors[file]
	return ok && (anchor == "" || set[anchor])
}

// TestDocsLinks checks that every link between the documents in docs/, every
// target of docs/CITATIONS.tsv and every "docs/<file>.md#<anchor>" reference
// in the Go sources names an existing document and heading.
func TestDocsLinks(t *testing.T) {
	anchors := docAnchors(t)
	mdLink := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for name := range anchors {
		data, err := os.ReadFile(filepath.Join("docs", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			if !checkLink(anchors, name, m[1]) {
				t.Errorf("docs/%s links to %q, which does not exist", name, m[1])
			}
		}
	}

	tsv, err := os.ReadFile(filepath.Join("docs", "CITATIONS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimRight(string(tsv), "\n"), "\n") {
		cite, target, ok := strings.Cut(line, "\t")
		target, _, _ = strings.Cut(target, ",") // "…#rules-for-libtorch-code, rule 3"
		if !ok || cite == "" || !strings.HasPrefix(target, "docs/") || !checkLink(anchors, "", strings.TrimPrefix(target, "docs/")) {
			t.Errorf("docs/CITATIONS.tsv line %d: %q has no valid docs target", i+1, line)
		}
	}

	goRef := regexp.MustCompile(`docs/([A-Za-z0-9_-]+\.md)(#[a-z0-9_-]+)?`)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range goRef.FindAllStringSubmatch(string(data), -1) {
			if !checkLink(anchors, "", m[1]+m[2]) {
				t.Errorf("%s refers to %s, which does not exist", path, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
