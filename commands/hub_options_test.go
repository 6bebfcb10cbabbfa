package commands

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// optionsOf runs the command newCmd builds with args as coldint would (the
// COLDINT_<FLAG> variables, --model for DIR commands, flags after
// arguments) and returns the Options its run received, and the Factory.
func optionsOf[O any](t *testing.T, newCmd func(*Factory, func(context.Context, *O) error) *cli.Command, args ...string) (*O, *Factory) {
	t.Helper()
	f := newFactory(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var got *O
	cmd := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
	app := &cli.App{Name: "coldint", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {}}
	installModelFlag(app.Commands)
	applyEnvToCommand(cmd, "")
	if err := app.RunContext(t.Context(), interspersed(app, append([]string{"coldint", cmd.Name}, args...))); err != nil {
		t.Fatalf("%s %v: %v", cmd.Name, args, err)
	}
	if got == nil {
		t.Fatalf("%s %v: run not called", cmd.Name, args)
	}
	return got, f
}

// fieldsCase is one command line and the Options fields it must fill.
type fieldsCase struct {
	name string
	got  func(t *testing.T) []any
	want []any
}

func checkOptions(t *testing.T, cases []fieldsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(t); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestHubDataOptions: the flags of the hub and data commands reach their
// Options (aliases and environment variables included).
func TestHubDataOptions(t *testing.T) {
	t.Setenv("COLDINT_HUB_PARALLEL", "7")
	checkOptions(t, []fieldsCase{
		{"hub serve", func(t *testing.T) []any {
			o, _ := optionsOf(t, newHubServeCmd, "--root", "/r", "--addr", "h:1", "--token", "a", "--token", "n:b", "--public-url", "http://x", "--chunk-size", "5")
			return []any{o.Root, o.Addr, o.Tokens.Value(), o.PublicURL, o.ChunkSize}
		}, []any{"/r", "h:1", []string{"a", "n:b"}, "http://x", int64(5)}},
		{"hub serve defaults", func(t *testing.T) []any {
			o, _ := optionsOf(t, newHubServeCmd, "--root", "/r")
			return []any{o.Addr, len(o.Tokens.Value()), o.ChunkSize}
		}, []any{"127.0.0.1:8088", 0, int64(8 << 20)}},
		{"hub info", func(t *testing.T) []any {
			o, f := optionsOf(t, newHubInfoCmd, "ns/m", "--endpoint", "http://e", "--revision", "abc", "--json")
			return []any{o.Args, f.Hub.Endpoint, f.Hub.Parallel, o.Revision, o.JSON, o.RepoTypeSet}
		}, []any{[]string{"ns/m"}, "http://e", 7, "abc", true, false}},
		{"hub download", func(t *testing.T) []any {
			o, f := optionsOf(t, newHubDownloadCmd, "--hub-dir", "/h", "--repo-type", "dataset", "--cache-dir", "/c",
				"--file", "a", "--file", "b", "--max-size", "9", "--model", "--json", "ns/d")
			return []any{o.Args, f.Hub.Dir, o.RepoType, o.RepoTypeSet, o.Revision, o.CacheDir, o.Files.Value(), o.FilesSet, o.MaxSize, o.ModelFiles, o.JSON}
		}, []any{[]string{"ns/d"}, "/h", "dataset", true, "main", "/c", []string{"a", "b"}, true, int64(9), true, true}},
		{"hub upload", func(t *testing.T) []any {
			o, f := optionsOf(t, newHubUploadCmd, "ns/m", "src", "--dir", "/h", "--parallel", "2", "--message", "msg", "--revision", "dev", "--create", "--public", "--json")
			return []any{o.Args, f.Hub.Dir, f.Hub.Parallel, o.Message, o.Revision, o.Create, o.Public, o.JSON}
		}, []any{[]string{"ns/m", "src"}, "/h", 2, "msg", "dev", true, true, true}},
		{"hub create", func(t *testing.T) []any {
			o, _ := optionsOf(t, newHubCreateCmd, "ns/m", "--public", "--exist-ok")
			return []any{o.Args, o.Public, o.ExistOK}
		}, []any{[]string{"ns/m"}, true, true}},
		{"hub visibility", func(t *testing.T) []any {
			o, _ := optionsOf(t, newHubVisibilityCmd, "ns/m", "private", "--repo-type", "model")
			return []any{o.Args, o.RepoType, o.RepoTypeSet}
		}, []any{[]string{"ns/m", "private"}, "model", true}},
		{"data build-corpus", func(t *testing.T) []any {
			o, _ := optionsOf(t, newDataBuildCorpusCmd, "--out", "/o", "--sources", "jargon", "--sources", "devil", "--shard-docs", "3", "--seed", "4", "--json")
			return []any{o.Out, o.Sources.Value(), o.ShardDocs, o.Seed, o.JSON}
		}, []any{"/o", []string{"jargon", "devil"}, 3, uint64(4), true}},
		{"data pages", func(t *testing.T) []any {
			o, _ := optionsOf(t, newDataPagesCmd, "--local", "a", "--local", "b", "--dataset", "d", "--server", "http://s", "--pages", "2",
				"--rows-per-page", "3", "--seed", "0", "--text-mode", "line", "--per-file", "--cap", "9")
			return []any{o.Local.Value(), o.Dataset, o.Server, o.Pages, o.RowsPerPage, o.Seed, o.SeedSet, o.TextMode, o.PerFile, o.Cap}
		}, []any{[]string{"a", "b"}, "d", "http://s", 2, 3, uint64(0), true, "line", true, 9}},
		{"data pages defaults", func(t *testing.T) []any {
			o, _ := optionsOf(t, newDataPagesCmd)
			return []any{len(o.Local.Value()), o.Pages, o.RowsPerPage, o.SeedSet, o.TextMode}
		}, []any{0, 1, 25, false, "paragraph"}},
		{"data serve", func(t *testing.T) []any {
			o, _ := optionsOf(t, newDataServeCmd, "--local", "a", "--dataset", "d", "--addr", "h:2", "--text-mode", "file", "--per-file")
			return []any{o.Local.Value(), o.Dataset, o.Addr, o.TextMode, o.PerFile}
		}, []any{[]string{"a"}, "d", "h:2", "file", true}},
	})
}
