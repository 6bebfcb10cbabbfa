package modelhash

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestSafePath(t *testing.T) {
	tests := []struct {
		p  string
		ok bool
	}{
		{"model-00001-of-00002.safetensors", true},
		{"sub/x.safetensors", true},
		{"../x", false},
		{"a/../../x", false},
		{"/etc/passwd", false},
		{"a//b", false},
		{"./a", false},
		{"a/", false},
		{"", false},
		{"..", false},
		{"a\\b", false},
		{"a\x00b", false},
	}
	for _, tc := range tests {
		if got := SafePath(tc.p); got != tc.ok {
			t.Errorf("SafePath(%q) = %v; want %v", tc.p, got, tc.ok)
		}
	}
}

func TestParseIndex(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"two shards", `{"metadata":{"total_size":10},"weight_map":{"a":"m-2.safetensors","b":"m-1.safetensors","c":"m-2.safetensors"}}`, []string{"m-1.safetensors", "m-2.safetensors"}, nil},
		{"escape", `{"weight_map":{"a":"../x.safetensors"}}`, nil, ErrBadIndex},
		{"absolute", `{"weight_map":{"a":"/tmp/x"}}`, nil, ErrBadIndex},
		{"empty map", `{"weight_map":{}}`, nil, ErrBadIndex},
		{"not json", `{`, nil, ErrBadIndex},
		{"wrong type", `{"weight_map":{"a":1}}`, nil, ErrBadIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIndex([]byte(tc.in))
			if !errors.Is(err, tc.err) || (tc.err == nil && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("ParseIndex = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name   string
		files  []string
		shards []string
		want   []string
		err    error
	}{
		{
			name:  "single file with tokenizer and extras",
			files: []string{"README.md", ".gitattributes", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin", "generation_config.json", "merges.txt", "vocab.json", "training_args.bin"},
			want:  []string{"config.json", "generation_config.json", "merges.txt", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"},
		},
		{
			name:   "single file wins over index",
			files:  []string{"config.json", "model.safetensors", "model.safetensors.index.json", "m-1.safetensors"},
			shards: []string{"m-1.safetensors"},
			want:   []string{"config.json", "model.safetensors"},
		},
		{
			name:   "sharded",
			files:  []string{"config.json", "model.safetensors.index.json", "m-1.safetensors", "m-2.safetensors", "m-3.safetensors", "tokenizer.model"},
			shards: []string{"m-1.safetensors", "m-2.safetensors"},
			want:   []string{"config.json", "m-1.safetensors", "m-2.safetensors", "model.safetensors.index.json", "tokenizer.model"},
		},
		{name: "missing shard", files: []string{"config.json", "model.safetensors.index.json"}, shards: []string{"m-1.safetensors"}, err: errors.New("missing")},
		{name: "unsafe shard", files: []string{"config.json", "model.safetensors.index.json", "../m"}, shards: []string{"../m"}, err: ErrBadIndex},
		{name: "no weights", files: []string{"config.json", "pytorch_model.bin"}, err: ErrNoWeights},
		{name: "no config", files: []string{"model.safetensors"}, err: ErrNoConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Select(tc.files, tc.shards)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("Select: %v", err)
			case tc.err != nil && err == nil:
				t.Fatalf("Select = %v; want error %v", got, tc.err)
			case tc.err != nil && !errors.Is(err, tc.err) && tc.err.Error() != "missing":
				t.Fatalf("Select error %v; want %v", err, tc.err)
			case tc.err == nil && !reflect.DeepEqual(got, tc.want):
				t.Fatalf("Select = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestAllowedFilterDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "config.json", `{"model_type":"llama"}`)
	write(t, dir, "model.safetensors.index.json", `{"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}}`)
	write(t, dir, "m-1.safetensors", "one")
	write(t, dir, "m-2.safetensors", "two")
	write(t, dir, "README.md", "readme")
	write(t, dir, "old/model.safetensors", "stale")

	filter, err := AllowedFilter(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DirDetail(ctx, dir, Options{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range got.Files {
		names = append(names, f.Path)
	}
	want := []string{"config.json", "m-1.safetensors", "m-2.safetensors", "model.safetensors.index.json"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("hashed %v; want %v", names, want)
	}
	// Same hash as a snapshot dir holding exactly those files.
	snap := t.TempDir()
	write(t, snap, "config.json", `{"model_type":"llama"}`)
	write(t, snap, "model.safetensors.index.json", `{"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}}`)
	write(t, snap, "m-1.safetensors", "one")
	write(t, snap, "m-2.safetensors", "two")
	want2, err := Dir(ctx, snap, Options{})
	if err != nil || got.Hash != want2 {
		t.Fatalf("filtered hash %q != snapshot hash %q (%v)", got.Hash, want2, err)
	}
	all, err := Dir(ctx, dir, Options{})
	if err != nil || all == got.Hash {
		t.Fatalf("unfiltered hash %q should differ (%v)", all, err)
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"weight_map":{"a":"m-1.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../m"}}`))
	f.Add([]byte(`{"metadata":null,"weight_map":{"a":"x/y","b":"x/y"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		shards, err := ParseIndex(data)
		if err != nil {
			return
		}
		if len(shards) == 0 {
			t.Fatal("no error and no shards")
		}
		for i, s := range shards {
			if !SafePath(s) {
				t.Fatalf("unsafe shard %q accepted", s)
			}
			if i > 0 && shards[i-1] >= s {
				t.Fatalf("shards not sorted and distinct: %q", shards)
			}
		}
	})
}

func TestVocabFiles(t *testing.T) {
	tests := []struct {
		name   string
		tc     string
		config string
		want   []string
	}{
		{"llama fast", `{"tokenizer_class":"LlamaTokenizerFast"}`, `{"model_type":"phi"}`, []string{"tokenizer.model"}},
		{"llama slow", `{"tokenizer_class":"LlamaTokenizer"}`, "", []string{"tokenizer.model"}},
		{"gpt2", `{"tokenizer_class":"GPT2Tokenizer"}`, "", []string{"vocab.json", "merges.txt"}},
		{"generic fast", `{"tokenizer_class":"PreTrainedTokenizerFast"}`, "", []string{}},
		{"unknown class", `{"tokenizer_class":"T5Tokenizer"}`, `{"model_type":"llama"}`, nil},
		{"no class: model type", `{"model_max_length":4096}`, `{"model_type":"phi3"}`, []string{"tokenizer.model"}},
		{"no tokenizer config", "", `{"model_type":"phi"}`, []string{"vocab.json", "merges.txt"}},
		{"nothing known", "", `{"model_type":"mamba"}`, nil},
		{"bad json", "{", "[", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a, b []byte
			if tc.tc != "" {
				a = []byte(tc.tc)
			}
			if tc.config != "" {
				b = []byte(tc.config)
			}
			got := VocabFiles(a, b)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("VocabFiles = %#v; want %#v", got, tc.want)
			}
		})
	}
}

func TestAllowedUsesTokenizerClass(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "config.json", `{"model_type":"llama"}`)
	write(t, dir, "model.safetensors", "w")
	write(t, dir, "tokenizer_config.json", `{"tokenizer_class":"LlamaTokenizer"}`)
	write(t, dir, "tokenizer.json", "{}")
	write(t, dir, "tokenizer.model", "sp")
	write(t, dir, "vocab.json", "{}") // not fetched for a Llama tokenizer
	got, err := Allowed(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Allowed = %v; want %v", got, want)
	}
	// Without the class, every vocab file present is kept (Select).
	all, err := Select([]string{"config.json", "model.safetensors", "tokenizer.model", "vocab.json"}, nil)
	if err != nil || len(all) != 4 {
		t.Fatalf("Select = %v, %v", all, err)
	}
}
