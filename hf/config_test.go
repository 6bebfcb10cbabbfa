package hf

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const llamaTiny = `{"model_type":"llama","vocab_size":100,"hidden_size":16,"intermediate_size":40,
"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"tie_word_embeddings":true,
"eos_token_id":[7,8],"custom_key":"kept"}`

func TestParseModelConfigDefaults(t *testing.T) {
	c, err := ParseModelConfig([]byte(llamaTiny))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 || c.HeadDim() != 4 || c.NormD() != 16 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.EosTokenID == nil || *c.EosTokenID != 7 {
		t.Fatalf("eos: %v", c.EosTokenID)
	}
	// embed 100*16 + 2 layers*(2*16 + q 16*16 + k 8*16 + v 8*16 + o 16*16 + 3*40*16) + norm 16
	want := int64(100*16 + 2*(2*16+16*16+8*16+8*16+16*16+3*40*16) + 16)
	if got := c.ParamCount(); got != want {
		t.Fatalf("params %d want %d", got, want)
	}
	c.TieWordEmbeddings = false
	if got := c.ParamCount(); got != want+100*16 {
		t.Fatalf("untied params %d", got)
	}
	out, err := c.Marshal()
	if err != nil || !strings.Contains(string(out), `"custom_key": "kept"`) || !strings.Contains(string(out), `"tie_word_embeddings": false`) {
		t.Fatalf("marshal lost keys: %s %v", out, err)
	}
	if _, err := ParseModelConfig(out); err != nil {
		t.Fatal(err)
	}
}

func TestPhi3Tensors(t *testing.T) {
	c, err := ParseModelConfig([]byte(`{"model_type":"phi3","vocab_size":50,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RMSNormEps != 1e-5 {
		t.Fatalf("phi3 eps default %v", c.RMSNormEps)
	}
	m := c.ExpectedTensors()
	if s := m["model.layers.0.self_attn.qkv_proj.weight"]; s[0] != 32+2*8 || s[1] != 32 {
		t.Fatalf("qkv shape %v", s)
	}
	if s := m["model.layers.0.mlp.gate_up_proj.weight"]; s[0] != 128 {
		t.Fatalf("gate_up shape %v", s)
	}
	if _, ok := m["lm_head.weight"]; !ok {
		t.Fatal("untied model needs lm_head")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct{ name, js, want string }{
		{"type", `{"model_type":"gpt2","vocab_size":1,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":1}`, "not supported"},
		{"missing type", `{"vocab_size":1}`, "missing"},
		{"heads", `{"model_type":"llama","vocab_size":10,"hidden_size":10,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":3}`, "divisible"},
		{"kv", `{"model_type":"llama","vocab_size":10,"hidden_size":12,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":3,"num_key_value_heads":2}`, "divisible"},
		{"absurd", `{"model_type":"llama","vocab_size":10,"hidden_size":1099511627776,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":1}`, "out of range"},
		{"zero layers", `{"model_type":"llama","vocab_size":10,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":0,"num_attention_heads":1}`, "num_hidden_layers"},
		{"act", `{"model_type":"llama","vocab_size":10,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":1,"hidden_act":"gelu"}`, "hidden_act"},
		{"rope", `{"model_type":"llama","vocab_size":10,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":1,"rope_scaling":{"type":"yarn","factor":2}}`, "rope_scaling"},
		{"odd head", `{"model_type":"llama","vocab_size":10,"hidden_size":6,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":2}`, "even"},
		{"not json", `{`, "parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseModelConfig([]byte(tc.js))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// TestPhi3LongRoPE follows transformers 4.44's Phi3Config: rope_scaling is
// exactly {type, short_factor, long_factor}, "su" and "yarn" mean
// "longrope", and both lists hold head_dim/2 positive values.
func TestPhi3LongRoPE(t *testing.T) {
	const base = `{"model_type":"phi3","vocab_size":10,"hidden_size":16,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,`
	f4 := `[1,1.5,2,3]`
	tests := []struct {
		name, rest, wantErr string
		mscale              float64
	}{
		{"longrope", `"max_position_embeddings":131072,"original_max_position_embeddings":4096,"rope_scaling":{"type":"longrope","short_factor":` + f4 + `,"long_factor":` + f4 + `}}`, "", math.Sqrt(1 + math.Log(32)/math.Log(4096))},
		{"su", `"max_position_embeddings":8192,"original_max_position_embeddings":4096,"rope_scaling":{"type":"su","short_factor":` + f4 + `,"long_factor":` + f4 + `}}`, "", math.Sqrt(1 + math.Log(2)/math.Log(4096))},
		{"yarn defaults", `"rope_scaling":{"type":"yarn","short_factor":` + f4 + `,"long_factor":` + f4 + `}}`, "", 1},
		{"no scaling", `"original_max_position_embeddings":4096}`, "", 0},
		{"linear", `"rope_scaling":{"type":"linear","factor":2}}`, "", -1},
		{"rope_type key", `"rope_scaling":{"rope_type":"longrope","short_factor":` + f4 + `,"long_factor":` + f4 + `}}`, "type", 0},
		{"extra key", `"rope_scaling":{"type":"longrope","short_factor":` + f4 + `,"long_factor":` + f4 + `,"long_mscale":1.2}}`, "exactly the keys", 0},
		{"short list", `"rope_scaling":{"type":"longrope","short_factor":[1,2,3],"long_factor":` + f4 + `}}`, "short_factor has 3 values", 0},
		{"negative factor", `"rope_scaling":{"type":"longrope","short_factor":` + f4 + `,"long_factor":[1,2,-3,4]}}`, "long_factor[2]", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseModelConfig([]byte(base + tc.rest))
			if tc.mscale < 0 { // linear: 3 keys but not a Phi-3 kind
				if err == nil || !strings.Contains(err.Error(), "phi3 rope_scaling") {
					t.Fatalf("want a phi3 rope_scaling error, got %v", err)
				}
				return
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			short, long, orig, ms := c.LongRoPE()
			if tc.mscale == 0 {
				if short != nil || ms != 1 {
					t.Fatalf("no longrope expected, got %v %v %d %v", short, long, orig, ms)
				}
				return
			}
			if len(short) != 4 || len(long) != 4 || orig != 4096 || math.Abs(ms-tc.mscale) > 1e-12 {
				t.Fatalf("LongRoPE() = %v %v %d %v, want 4+4 factors, 4096, %v", short, long, orig, ms, tc.mscale)
			}
		})
	}
}

func TestCheckTensors(t *testing.T) {
	c, _ := ParseModelConfig([]byte(llamaTiny))
	found := c.ExpectedTensors()
	if err := c.CheckTensors(found); err != nil {
		t.Fatal(err)
	}
	found["model.layers.0.rotary_emb.inv_freq"] = []int64{2}
	if err := c.CheckTensors(found); err != nil {
		t.Fatalf("inv_freq should be ignored: %v", err)
	}
	found["model.layers.1.mlp.up_proj.weight"] = []int64{41, 16}
	if err := c.CheckTensors(found); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "up_proj") {
		t.Fatalf("want shape mismatch, got %v", err)
	}
	delete(found, "model.layers.1.mlp.up_proj.weight")
	if err := c.CheckTensors(found); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("want missing, got %v", err)
	}
}

func FuzzParseModelConfig(f *testing.F) {
	f.Add([]byte(llamaTiny))
	f.Add([]byte(`{"model_type":"phi3"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseModelConfig(data)
		if err != nil {
			return
		}
		if c.HiddenSize%c.NumAttentionHeads != 0 || c.ParamCount() <= 0 {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
	})
}
