package hf

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRepoID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string // substring of the error
	}{
		{"myorg/mymodel", true, ""},
		{"a/bc", true, ""},
		{"a/b", false, "between 3 and 41"},
		{"abc", false, "between 3 and 41"},
		{"abcd", false, "format <org or user name>/<repo_name>"},
		{"a/b/c", false, "format"},
		{"/abc", false, "format"},
		{"abc/", false, "format"},
		{strings.Repeat("a", 20) + "/" + strings.Repeat("b", 20), true, ""},
		{strings.Repeat("a", 20) + "/" + strings.Repeat("b", 21), false, "between 3 and 41"},
		{"org/../x", false, ""},
		{"org/..", false, ""},
		{"org/a--b", false, "--"},
		{"org/-ab", false, ""},
		{"org/ab.", false, ""},
		{"org/a b", false, "not allowed"},
		{"org/a%2f", false, "not allowed"},
		{"Org_1/Model-2.v3", true, ""},
	} {
		id, err := ParseRepoID(tc.in)
		if tc.ok {
			if err != nil {
				t.Errorf("ParseRepoID(%q): %v", tc.in, err)
			} else if id.String() != tc.in {
				t.Errorf("ParseRepoID(%q).String() = %q", tc.in, id.String())
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidRepoID) {
			t.Errorf("ParseRepoID(%q) = %v, %v; want ErrInvalidRepoID", tc.in, id, err)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRepoID(%q) error %q lacks %q", tc.in, err, tc.want)
		}
	}
}

func TestRepoIDText(t *testing.T) {
	var id RepoID
	if err := id.UnmarshalText([]byte("ns/name")); err != nil || id.CacheDirName() != "models--ns--name" {
		t.Fatalf("UnmarshalText: %v %v", id, err)
	}
	if err := id.UnmarshalText([]byte("bad")); err == nil {
		t.Fatal("UnmarshalText accepted a bad id")
	}
}

func TestValidateFilePath(t *testing.T) {
	good := []string{"config.json", "a/b/c.bin", "model-00001-of-00002.safetensors", ".gitattributes", "a..b", "x/.hidden"}
	bad := []string{"", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/./b", "a/", `a\b`, "C:x", ".git/config", "a/.git/x", "a\x00b", "a\nb", "..", "."}
	for _, p := range good {
		if err := ValidateFilePath(p); err != nil {
			t.Errorf("ValidateFilePath(%q): %v", p, err)
		}
	}
	for _, p := range bad {
		if err := ValidateFilePath(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("ValidateFilePath(%q) = %v, want ErrUnsafePath", p, err)
		}
	}
}

func TestRevisions(t *testing.T) {
	if !IsCommitSHA(strings.Repeat("0a", 20)) || IsCommitSHA(strings.Repeat("0A", 20)) || IsCommitSHA("abc") {
		t.Error("IsCommitSHA")
	}
	for _, r := range []string{"main", "refs/pr/1", "v1.0", strings.Repeat("a", 40)} {
		if err := ValidateRevision(r); err != nil {
			t.Errorf("ValidateRevision(%q): %v", r, err)
		}
	}
	for _, r := range []string{"", "a..b", "/main", "main/", "a b", "a\\b", "a:b", strings.Repeat("x", 256)} {
		if err := ValidateRevision(r); !errors.Is(err, ErrInvalidRevision) {
			t.Errorf("ValidateRevision(%q) = %v", r, err)
		}
	}
}

func TestPlanDownload(t *testing.T) {
	info := &ModelInfo{ID: RepoID{Namespace: "a", Name: "bc"}, Files: []FileInfo{{Path: "config.json", Size: 10}, {Path: "model.safetensors", Size: 90}}}
	if _, err := PlanDownload(info, nil, DownloadOptions{MaxTotalSize: 99}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	// The limit counts every file of the repo, not only the requested ones (as validators do).
	if _, err := PlanDownload(info, []string{"config.json"}, DownloadOptions{MaxTotalSize: 99}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit with a subset: %v", err)
	}
	plan, err := PlanDownload(info, []string{"config.json", "config.json", "x"}, DownloadOptions{MaxTotalSize: 100, SkipMissing: true})
	if err != nil || len(plan) != 1 || plan[0].Path != "config.json" {
		t.Errorf("plan = %v, %v", plan, err)
	}
	if _, err := PlanDownload(info, []string{"x"}, DownloadOptions{}); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("missing file: %v", err)
	}
	clash := &ModelInfo{Files: []FileInfo{{Path: "a", Size: 1}, {Path: "a/b/c", Size: 1}}}
	if _, err := PlanDownload(clash, nil, DownloadOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("file/folder clash: %v", err)
	}
	info.Files = append(info.Files, FileInfo{Path: "../x", Size: 1})
	if _, err := PlanDownload(info, []string{"config.json"}, DownloadOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("unsafe sibling: %v", err)
	}
}

func TestHTTPErrorUnwrap(t *testing.T) {
	for _, tc := range []struct {
		e    HTTPError
		want error
	}{
		{HTTPError{StatusCode: 404, Code: "RevisionNotFound"}, ErrRevisionNotFound},
		{HTTPError{StatusCode: 401, Code: "RepoNotFound"}, ErrRepoNotFound},
		{HTTPError{StatusCode: 404, Code: "EntryNotFound"}, ErrEntryNotFound},
		{HTTPError{StatusCode: 403, Code: "GatedRepo"}, ErrGated},
		{HTTPError{StatusCode: 401}, ErrUnauthorized},
		{HTTPError{StatusCode: 409}, ErrRepoExists},
		{HTTPError{StatusCode: 429}, ErrRateLimited},
	} {
		if !errors.Is(&tc.e, tc.want) {
			t.Errorf("%v does not unwrap to %v", &tc.e, tc.want)
		}
	}
	if (&HTTPError{StatusCode: 500}).Unwrap() != nil {
		t.Error("500 unwraps to a sentinel")
	}
}

func FuzzParseRepoID(f *testing.F) {
	for _, s := range []string{"ns/name", "a/b", "a/../b", "x/y/z", "org/a--b", "ünï/cödé", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRepoID(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("round trip %q → %q", s, id.String())
		}
		if len(s) > MaxRepoIDLength || strings.Count(s, "/") != 1 {
			t.Fatalf("accepted %q", s)
		}
		// A valid id is always a safe single folder name in the cache.
		if err := ValidateFilePath(id.CacheDirName()); err != nil || strings.Contains(id.CacheDirName(), "/") {
			t.Fatalf("cache dir name %q unsafe: %v", id.CacheDirName(), err)
		}
	})
}

func FuzzValidateFilePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "a//b", "a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidateFilePath(p) != nil {
			return
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") && (p == ".." || strings.HasPrefix(p, "../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/../")) {
			t.Fatalf("accepted escaping path %q", p)
		}
	})
}

func TestParseRepoTyped(t *testing.T) {
	long := strings.Repeat("d", 60)
	for _, tc := range []struct {
		in         string
		typ        RepoType // for ParseTypedRepo
		want       RepoID   // zero: an error is expected
		str, cache string
	}{
		{"ns/name", ModelRepo, RepoID{Namespace: "ns", Name: "name"}, "ns/name", "models--ns--name"},
		{"models/ns/name", ModelRepo, RepoID{Namespace: "ns", Name: "name"}, "ns/name", "models--ns--name"},
		{"datasets/HuggingFaceFW/fineweb-edu", DatasetRepo, RepoID{Namespace: "HuggingFaceFW", Name: "fineweb-edu", Type: DatasetRepo}, "datasets/HuggingFaceFW/fineweb-edu", "datasets--HuggingFaceFW--fineweb-edu"},
		// A model whose namespace is "datasets" keeps meaning that model.
		{"datasets/abc", ModelRepo, RepoID{Namespace: "datasets", Name: "abc"}, "datasets/abc", "models--datasets--abc"},
		// Dataset names are not bound by the commitment length.
		{"datasets/org/" + long, DatasetRepo, RepoID{Namespace: "org", Name: long, Type: DatasetRepo}, "datasets/org/" + long, "datasets--org--" + long},
		{"org/" + long, ModelRepo, RepoID{}, "", ""},
		{"datasets/org/" + strings.Repeat("d", 97), DatasetRepo, RepoID{}, "", ""},
		{"datasets/org/a--b", DatasetRepo, RepoID{}, "", ""},
		{"datasets/org/a/b", DatasetRepo, RepoID{}, "", ""},
		{"spaces/org/app", ModelRepo, RepoID{}, "", ""},
		{"datasets//x", DatasetRepo, RepoID{}, "", ""},
	} {
		id, err := ParseRepo(tc.in)
		if tc.want.IsZero() {
			if !errors.Is(err, ErrInvalidRepoID) {
				t.Errorf("ParseRepo(%q) = %+v, %v; want ErrInvalidRepoID", tc.in, id, err)
			}
			continue
		}
		if err != nil || id != tc.want || id.String() != tc.str || id.CacheDirName() != tc.cache {
			t.Errorf("ParseRepo(%q) = %+v (%q, %q), %v; want %+v (%q, %q)", tc.in, id, id, id.CacheDirName(), err, tc.want, tc.str, tc.cache)
		}
		if id2, err := ParseTypedRepo(tc.in, tc.typ); err != nil || id2 != tc.want {
			t.Errorf("ParseTypedRepo(%q, %v) = %+v, %v", tc.in, tc.typ, id2, err)
		}
		var back RepoID
		if err := back.UnmarshalText([]byte(id.String())); err != nil || back != id {
			t.Errorf("text round trip of %+v: %+v, %v", id, back, err)
		}
	}
}

func TestParseTypedRepo(t *testing.T) {
	id, err := ParseTypedRepo("HuggingFaceFW/fineweb-edu", DatasetRepo)
	if err != nil || id.Type != DatasetRepo || id.Bare() != "HuggingFaceFW/fineweb-edu" {
		t.Errorf("bare dataset: %+v, %v", id, err)
	}
	if _, err := ParseTypedRepo("models/ns/name", DatasetRepo); !errors.Is(err, ErrInvalidRepoID) || !strings.Contains(err.Error(), "not a dataset") {
		t.Errorf("model prefix as a dataset: %v", err)
	}
	if _, err := ParseTypedRepo("datasets/ns/name", ModelRepo); !errors.Is(err, ErrInvalidRepoID) {
		t.Errorf("dataset prefix as a model: %v", err)
	}
	for in, want := range map[string]RepoType{"": ModelRepo, "model": ModelRepo, "dataset": DatasetRepo, "datasets": DatasetRepo} {
		if got, err := ParseRepoType(in); err != nil || got != want {
			t.Errorf("ParseRepoType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseRepoType("space"); !errors.Is(err, ErrInvalidRepoID) {
		t.Errorf("ParseRepoType(space): %v", err)
	}
}

// FuzzParseRepo checks that any id ParseRepo accepts is safe in URLs and
// cache folder names and reads back to itself.
func FuzzParseRepo(f *testing.F) {
	for _, s := range []string{"ns/name", "datasets/ns/name", "models/ns/name", "datasets/abc", "datasets/a/b/c", "datasets/-a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRepo(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRepoID) {
				t.Fatalf("ParseRepo(%q): error %v is not ErrInvalidRepoID", s, err)
			}
			return
		}
		back, err := ParseRepo(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseRepo(%q) = %+v; String %q reads back as %+v, %v", s, id, id.String(), back, err)
		}
		for _, part := range []string{id.Namespace, id.Name} {
			if part == "" || strings.ContainsAny(part, "/\\%?#") || strings.Contains(part, "--") || strings.Contains(part, "..") {
				t.Fatalf("ParseRepo(%q) accepted unsafe part %q", s, part)
			}
		}
		if id.Type == ModelRepo && len(id.Bare()) > MaxRepoIDLength {
			t.Fatalf("ParseRepo(%q): model id longer than %d", s, MaxRepoIDLength)
		}
	})
}
