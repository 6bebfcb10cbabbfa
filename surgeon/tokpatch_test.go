package surgeon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/coldint/coldint/tokenizer"
)

func TestValidatorSafeTokenizerJSON(t *testing.T) {
	tests := []struct {
		name, pp  string
		changed   bool
		wantNoBOS bool
	}{
		{"template", `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{}}`, true, true},
		{"roberta", `{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}`, true, true},
		{"sequence", `{"type":"Sequence","processors":[{"type":"ByteLevel","trim_offsets":false},{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}}]}`, true, true},
		{"bytelevel", `{"type":"ByteLevel","trim_offsets":false}`, false, true},
		{"null", `null`, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := []byte(`{"version":"1.0","post_processor":` + tc.pp + `,"model":{"vocab":{"<s>":0,"a":1}}}`)
			out, cfg, changed, err := ValidatorSafeTokenizer(tok, []byte(`{"add_bos_token":true,"bos_token":"<s>"}`))
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Fatal("config add_bos_token=true should always be changed")
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(out, &top); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(top["post_processor"]), "SpecialToken") || strings.Contains(string(top["post_processor"]), "Roberta") {
				t.Fatalf("specials left: %s", top["post_processor"])
			}
			if string(top["model"]) != `{"vocab":{"<s>":0,"a":1}}` {
				t.Fatalf("other keys must keep their bytes: %s", top["model"])
			}
			if !strings.Contains(string(cfg), `"add_bos_token":false`) || !strings.Contains(string(cfg), `"bos_token":"<s>"`) {
				t.Fatalf("config: %s", cfg)
			}
		})
	}
	if _, _, _, err := ValidatorSafeTokenizer([]byte(`{"post_processor":{"type":"TemplateProcessing","single":7}}`), nil); err == nil {
		t.Fatal("malformed template should be an error")
	}
}

func TestValidatorSafeMistral(t *testing.T) {
	dir := lenmlDir(t, "llama2")
	orig, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(RoundTripFailures(orig)) == 0 {
		t.Fatal("the stock Mistral tokenizer inserts BOS and should fail the validator round trip")
	}
	_, safe, changed, err := LoadValidatorSafeTokenizer(dir)
	if err != nil || !changed {
		t.Fatalf("patch: %v %v", changed, err)
	}
	if f := RoundTripFailures(safe); len(f) != 0 {
		t.Fatalf("patched tokenizer still fails the round trip on %q", f)
	}
	a, _ := orig.Encode("hello world", false)
	b, _ := safe.Encode("hello world", true)
	if len(a) != len(b) || a[0] != b[0] {
		t.Fatalf("patched tokenizer changed the ids: %v vs %v", a, b)
	}
}
