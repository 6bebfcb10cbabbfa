package cliconfig

import (
	"errors"
	"reflect"
	"testing"
)

func isCmd(p string) bool {
	switch p {
	case "validate", "mine", "mine train", "wallet":
		return true
	}
	return false
}

func TestParse(t *testing.T) {
	yml := `
network: local
log-level: debug
wallet.name: alice
max-memory: 8GiB
data: [a.txt, b.txt]
validate:
  netuid: 1
  device: cuda
mine:
  train:
    steps: 200
    lr: 0.0003
  hub:
    endpoint: http://x
`
	toml := `
network = "local"
log-level = "debug"
"wallet.name" = "alice"
max-memory = "8GiB"
data = ["a.txt", "b.txt"]
[validate]
netuid = 1
device = "cuda"
[mine.train]
steps = 200
lr = 0.0003
[mine.hub]
endpoint = "http://x"
`
	want := []Setting{
		{"", "data", []string{"a.txt", "b.txt"}},
		{"", "log-level", []string{"debug"}},
		{"", "max-memory", []string{"8GiB"}},
		{"", "network", []string{"local"}},
		{"", "wallet.name", []string{"alice"}},
		{"mine", "hub.endpoint", []string{"http://x"}},
		{"mine train", "lr", []string{"0.0003"}},
		{"mine train", "steps", []string{"200"}},
		{"validate", "device", []string{"cuda"}},
		{"validate", "netuid", []string{"1"}},
	}
	for name, data := range map[string]string{"c.yaml": yml, "c.toml": toml} {
		got, err := Parse(name, []byte(data), isCmd)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v, %v\nwant %v", name, got, err, want)
		}
	}
}

func TestParseBad(t *testing.T) {
	for name, data := range map[string]string{
		"a.yaml": "network: [a, {b: c}]",
		"b.yaml": "--network: x",
		"c.yaml": "network: :\n - x\n  y",
		"d.toml": "network = ",
		"e.json": "{}",
		"f.yaml": "network:",
	} {
		if _, err := Parse(name, []byte(data), isCmd); !errors.Is(err, ErrFormat) {
			t.Errorf("%s %q: err %v, want ErrFormat", name, data, err)
		}
	}
	if s, err := Parse("empty.yaml", nil, isCmd); err != nil || len(s) != 0 {
		t.Errorf("empty file: %v %v", s, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("c.yaml", "network: local\nvalidate:\n  netuid: 1\n")
	f.Add("c.toml", "network = \"x\"\n[mine.train]\nsteps = 2\n")
	f.Fuzz(func(t *testing.T, name, data string) {
		_, _ = Parse(name, []byte(data), isCmd)
	})
}
