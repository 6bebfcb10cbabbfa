package commands

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/coldint/coldint/model"
)

func TestEngineInfo(t *testing.T) {
	want, err := model.NativeInfo()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, out, errOut string)
	}{
		{"json", []string{"engine-info", "--json"}, 0, func(t *testing.T, out, _ string) {
			var got model.NativeInfoT
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if got != want || got.Library == "" || got.LibtorchVersion == "" {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}},
		{"text", []string{"engine-info"}, 0, func(t *testing.T, out, _ string) {
			for _, w := range []string{"library:          " + want.Library, "libtorch:         " + want.LibtorchVersion, "libtorch folder:  " + want.LibtorchDir} {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		}},
		{"argument", []string{"engine-info", "x"}, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "takes no arguments") {
				t.Errorf("stderr %q", errOut)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut)
			}
			tt.check(t, out, errOut)
		})
	}
}
