// Package cliconfig reads coldint's --config files: YAML (.yaml, .yml) or
// TOML (.toml) holding flag values, globally or per command.
//
// A key whose value is a scalar or a list is a flag name ("network",
// "wallet.name", "max-memory"); a list is a repeated flag. A key whose value
// is a table is a section: a command path ("validate", "mine" with a nested
// "train", or "mine train" as one key) whose flags apply only to that
// command. Other tables are flag-name prefixes: {wallet: {name: x}} is
// wallet.name, unless "wallet" is a command.
//
//	network: local
//	log-level: debug
//	validate:
//	  netuid: 1
//	  device: cuda
//	mine:
//	  train:
//	    steps: 200
package cliconfig

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// ErrFormat marks a config file that cannot be read.
var ErrFormat = errors.New("bad config file")

// Setting is one flag value of a config file.
type Setting struct {
	Section string // command path ("" for every command), words joined by one space
	Flag    string // flag name as on the command line, without dashes
	Values  []string
}

// Parse reads a config file's bytes; name's extension picks the format.
// isCommand says whether a space-separated path names a command (it decides
// whether a table is a section or a flag-name prefix).
func Parse(name string, data []byte, isCommand func(path string) bool) ([]Setting, error) {
	var tree map[string]any
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&tree); err != nil && err.Error() != "EOF" {
			return nil, fmt.Errorf("read config %q: %w: %v", name, ErrFormat, err)
		}
	case ".toml":
		if _, err := toml.Decode(string(data), &tree); err != nil {
			return nil, fmt.Errorf("read config %q: %w: %v", name, ErrFormat, err)
		}
	default:
		return nil, fmt.Errorf("read config %q: %w: the name must end in .yaml, .yml or .toml", name, ErrFormat)
	}
	var out []Setting
	if err := walk(tree, "", "", isCommand, &out); err != nil {
		return nil, fmt.Errorf("read config %q: %w", name, err)
	}
	slices.SortStableFunc(out, func(a, b Setting) int { return strings.Compare(a.Section+"\x00"+a.Flag, b.Section+"\x00"+b.Flag) })
	return out, nil
}

func walk(m map[string]any, section, prefix string, isCommand func(string) bool, out *[]Setting) error {
	for k, v := range m {
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, "-") {
			return fmt.Errorf("%w: key %q: write flag names without dashes", ErrFormat, k)
		}
		switch val := v.(type) {
		case map[string]any:
			if prefix == "" && isCommand(strings.TrimSpace(section+" "+k)) {
				if err := walk(val, strings.TrimSpace(section+" "+k), "", isCommand, out); err != nil {
					return err
				}
				continue
			}
			if err := walk(val, section, prefix+k+".", isCommand, out); err != nil {
				return err
			}
		case []any:
			vals := make([]string, 0, len(val))
			for _, x := range val {
				s, err := scalar(x)
				if err != nil {
					return fmt.Errorf("%w: %s%s: %v", ErrFormat, prefix, k, err)
				}
				vals = append(vals, s)
			}
			*out = append(*out, Setting{Section: section, Flag: prefix + k, Values: vals})
		default:
			s, err := scalar(v)
			if err != nil {
				return fmt.Errorf("%w: %s%s: %v", ErrFormat, prefix, k, err)
			}
			*out = append(*out, Setting{Section: section, Flag: prefix + k, Values: []string{s}})
		}
	}
	return nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", errors.New("no value")
	default:
		return "", fmt.Errorf("a %T is not a flag value", v)
	}
}
