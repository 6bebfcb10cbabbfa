package jsonobj

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestOrdered(t *testing.T) {
	keys, vals, err := Ordered([]byte(`{"b": 1, "a": {"x": null}, "b": 2}`))
	if err != nil || !reflect.DeepEqual(keys, []string{"b", "a"}) || string(vals["b"]) != "2" {
		t.Fatalf("keys %v vals %v err %v", keys, vals, err)
	}
	for _, bad := range []string{"", "[]", `{"a":1} x`, `{"a":}`, `{1:2}`} {
		if _, _, err := Ordered([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if m, err := Raw(json.RawMessage(` {"x": null} `)); err != nil || !IsNull(m["x"]) {
		t.Errorf("Raw: %v %v", m, err)
	}
	if _, err := Raw(json.RawMessage(`[1]`)); err == nil {
		t.Error("Raw accepted a list")
	}
	if q := Quote(json.RawMessage(`"` + string(make([]byte, 60)) + `"`)); len(q) > 44 {
		t.Errorf("Quote kept %d bytes", len(q))
	}
}

func FuzzOrdered(f *testing.F) {
	f.Add([]byte(`{"a": 1, "b": [1, 2], "a": null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, vals, err := Ordered(data)
		if err == nil && len(keys) != len(vals) {
			t.Fatalf("%d keys for %d values", len(keys), len(vals))
		}
	})
}
