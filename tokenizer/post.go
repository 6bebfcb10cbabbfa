package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// postProcessor adds special tokens around a single sequence.
type postProcessor struct {
	before, after []int32
}

func (p *postProcessor) apply(ids []int32) []int32 {
	if p == nil || (len(p.before) == 0 && len(p.after) == 0) {
		return ids
	}
	out := make([]int32, 0, len(ids)+len(p.before)+len(p.after))
	out = append(out, p.before...)
	out = append(out, ids...)
	return append(out, p.after...)
}

// parsePostProcessor reads TemplateProcessing, RobertaProcessing,
// BertProcessing, ByteLevel and Sequence. tokID resolves a token string.
func parsePostProcessor(raw json.RawMessage, tokID func(string) (int32, bool), depth int) (*postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("parse post_processor: nested too deep")
	}
	t, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("parse post_processor: %w", err)
	}
	switch t {
	case "ByteLevel":
		return nil, nil
	case "Sequence":
		var v struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse post_processor Sequence: %w", err)
		}
		var out *postProcessor
		for _, r := range v.Processors {
			p, err := parsePostProcessor(r, tokID, depth+1)
			if err != nil {
				return nil, err
			}
			if p != nil {
				if out == nil {
					out = &postProcessor{}
				}
				out.before = append(p.before, out.before...)
				out.after = append(out.after, p.after...)
			}
		}
		return out, nil
	case "RobertaProcessing", "BertProcessing":
		var v struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse post_processor %s: %w", t, err)
		}
		var sepID, clsID int32
		for i, x := range []json.RawMessage{v.Cls[1], v.Sep[1]} {
			var id int32
			if err := json.Unmarshal(x, &id); err != nil {
				return nil, fmt.Errorf("parse post_processor %s: token id: %w", t, err)
			}
			if i == 0 {
				clsID = id
			} else {
				sepID = id
			}
		}
		return &postProcessor{before: []int32{clsID}, after: []int32{sepID}}, nil
	case "TemplateProcessing":
		var v struct {
			Single        []json.RawMessage `json:"single"`
			SpecialTokens map[string]struct {
				ID  string  `json:"id"`
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse post_processor TemplateProcessing: %w", err)
		}
		p := &postProcessor{}
		seenSeq := false
		for _, item := range v.Single {
			var it struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			}
			if err := json.Unmarshal(item, &it); err != nil {
				// The string form: "$A", "[CLS]", "$A:0", "[CLS]:0".
				var s string
				if err2 := json.Unmarshal(item, &s); err2 != nil {
					return nil, fmt.Errorf("parse post_processor TemplateProcessing item: %w", err)
				}
				name, _, _ := strings.Cut(s, ":")
				if strings.HasPrefix(name, "$") {
					it.Sequence = &struct {
						ID string `json:"id"`
					}{name[1:]}
				} else {
					it.SpecialToken = &struct {
						ID string `json:"id"`
					}{name}
				}
			}
			switch {
			case it.Sequence != nil:
				if seenSeq {
					return nil, fmt.Errorf("parse post_processor TemplateProcessing: single template has two sequences")
				}
				seenSeq = true
			case it.SpecialToken != nil:
				st, ok := v.SpecialTokens[it.SpecialToken.ID]
				var ids []int32
				if ok {
					ids = st.IDs
				} else if id, ok2 := tokID(it.SpecialToken.ID); ok2 {
					ids = []int32{id}
				} else {
					return nil, fmt.Errorf("parse post_processor TemplateProcessing: special token %q is not defined", it.SpecialToken.ID)
				}
				if seenSeq {
					p.after = append(p.after, ids...)
				} else {
					p.before = append(p.before, ids...)
				}
			default:
				return nil, fmt.Errorf("parse post_processor TemplateProcessing: empty template item")
			}
		}
		return p, nil
	}
	return nil, fmt.Errorf("parse post_processor: type %q is not supported", t)
}
