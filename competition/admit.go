package competition

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/tokenizer"
)

// ClassName classifies a model by its config.json model_type, as the
// validator does (the reference registers its own class for each config, so
// the architectures list is ignored): llama → LlamaForCausalLM, phi3 →
// Phi3ForCausalLM, phi → PhiForCausalLM; any other type is returned as
// "<type>(unsupported)", which no competition admits.
func ClassName(modelType string) string {
	switch modelType {
	case "llama":
		return "LlamaForCausalLM"
	case "phi3":
		return "Phi3ForCausalLM"
	case "phi":
		return "PhiForCausalLM"
	}
	return modelType + "(unsupported)"
}

// LoadedClass is the class the reference validator actually instantiates
// for a model_type, the name model_types is matched against: it registers
// its sliced class for every supported config, so a llama model loads as
// SlicedLlamaForCausalLM, which model_types "LlamaForCausalLM" and
// "SlicedLlamaForCausalLM" both admit (see [Competition.Admits]). An
// unsupported type gives [ClassName]'s "(unsupported)" name.
func LoadedClass(modelType string) string {
	c := ClassName(modelType)
	if strings.HasSuffix(c, "(unsupported)") {
		return c
	}
	return "Sliced" + c
}

// MaxDim bounds hidden_size, intermediate_size, num_hidden_layers and
// num_attention_heads: each must be in [1, MaxDim].
const MaxDim = 1 << 20

// Rule names one admission rule.
type Rule string

// The admission rules, in the order they are applied.
const (
	RuleSize       Rule = "model_size"
	RuleFiles      Rule = "files"
	RuleLoad       Rule = "load"
	RuleClass      Rule = "model_types"
	RuleGeometry   Rule = "geometry"
	RuleParameters Rule = "parameters"
	RuleTokenizer  Rule = "tokenizer"
)

// Reason is one broken rule, with words for the miner.
type Reason struct {
	Rule Rule   `json:"rule"`
	Text string `json:"text"`
}

// Model is what admission looks at. [Inspect] fills it from a model folder;
// a validator that knows more about the repo (its total bytes) overrides
// the fields it knows.
type Model struct {
	// RepoBytes is the bytes that count against model_size: of every file
	// in the repo at the commit (known from the hub), or of the files a
	// local folder would upload (its allow-list).
	RepoBytes int64
	// Files is the allow-list of the model's files; FilesErr why there is none.
	Files    []string
	FilesErr error
	// Info is the config and weight headers; LoadErr why they do not load.
	Info    *modeldir.Info
	LoadErr error
	// HasTokenizer is whether tokenizer.json is among the files, and
	// TokenizerErr why it does not load.
	HasTokenizer bool
	TokenizerErr error
}

// Inspect gathers the facts of the model folder dir.
func Inspect(ctx context.Context, dir string) *Model {
	m := &Model{}
	m.Files, m.FilesErr = localFiles(ctx, dir)
	for _, f := range m.Files {
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err == nil {
			m.RepoBytes += st.Size()
		}
	}
	if m.FilesErr == nil {
		m.Info, m.LoadErr = modeldir.Inspect(dir)
	}
	if slices.Contains(m.Files, "tokenizer.json") {
		m.HasTokenizer = true
		_, m.TokenizerErr = tokenizer.Load(dir)
	}
	m.FilesErr, m.LoadErr, m.TokenizerErr = relative(dir, m.FilesErr), relative(dir, m.LoadErr), relative(dir, m.TokenizerErr)
	return m
}

// relative drops the folder dir from err's words, so that a reason reads the
// same for a miner's folder and a validator's snapshot of it.
func relative(dir string, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.ReplaceAll(err.Error(), filepath.Clean(dir)+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, strconv.Quote(filepath.Clean(dir)), "the model folder")
	return &relErr{msg: msg, err: err}
}

type relErr struct {
	msg string
	err error
}

func (e *relErr) Error() string { return e.msg }
func (e *relErr) Unwrap() error { return e.err }

// Verdict is a competition's decision on a model.
type Verdict struct {
	Competition string `json:"competition"`
	// Class is the class the model counts as ("" when it does not load).
	Class string `json:"class,omitempty"`
	// Tokenizer is the tokenizer its samples use.
	Tokenizer TokenizerChoice `json:"tokenizer"`
	// Reasons lists the broken rules in the order applied; none means admitted.
	Reasons []Reason `json:"reasons,omitempty"`
}

// Admitted reports whether no rule is broken.
func (v *Verdict) Admitted() bool { return len(v.Reasons) == 0 }

// Reason is the first broken rule's words ("" when admitted): what a
// validator reports for a model it does not admit.
func (v *Verdict) Reason() string {
	if len(v.Reasons) == 0 {
		return ""
	}
	return v.Reasons[0].Text
}

func (v *Verdict) add(r Rule, format string, args ...any) {
	v.Reasons = append(v.Reasons, Reason{Rule: r, Text: fmt.Sprintf(format, args...)})
}

// Admit applies the competition's rules to m, all of them, in the order of
// the Rule constants: the repo's bytes against model_size, the file
// allow-list, the config and weights loading, the class against
// model_types, the dimensions, the parameter count, and the tokenizer.
func (c *Competition) Admit(m *Model) Verdict {
	v := Verdict{Competition: c.Name}
	v.Reasons = c.AdmitRepo(m.RepoBytes, m.FilesErr)
	if m.FilesErr == nil && (m.LoadErr != nil || m.Info == nil) {
		v.add(RuleLoad, "model does not load: %v", m.LoadErr)
	}
	if info := m.Info; info != nil && m.LoadErr == nil {
		v.Class = ClassName(info.ModelType)
		if loaded := LoadedClass(info.ModelType); !c.Admits(loaded) {
			v.add(RuleClass, "model class %s (model_type %q) is not in model_types %v", loaded, info.ModelType, c.ModelTypes)
		}
		for _, d := range []struct {
			name string
			n    int
		}{{"hidden_size", info.Hidden}, {"intermediate_size", info.Intermediate}, {"num_hidden_layers", info.Layers}, {"num_attention_heads", info.Heads}} {
			if d.n < 1 || d.n > MaxDim {
				v.add(RuleGeometry, "config %s = %d is out of range [1, %d]", d.name, d.n, MaxDim)
			}
		}
		if c.Parameters > 0 && info.Params > c.Parameters {
			v.add(RuleParameters, "%d parameters exceed the limit of %d", info.Params, c.Parameters)
		}
	}
	var err error
	v.Tokenizer, err = c.ChooseTokenizer(m.HasTokenizer, m.TokenizerErr)
	if err != nil {
		v.add(RuleTokenizer, "%v", err)
	}
	return v
}

// AdmitRepo applies the rules that need no download, only the repo's
// listing: its bytes against model_size and the file allow-list (filesErr
// is why there is none). A validator applies them before downloading;
// [Competition.Admit] applies them first.
func (c *Competition) AdmitRepo(repoBytes int64, filesErr error) []Reason {
	var out []Reason
	if limit := c.SizeLimit(); repoBytes > limit {
		out = append(out, Reason{RuleSize, fmt.Sprintf("repo files total %d bytes, over model_size %d", repoBytes, limit)})
	}
	if filesErr != nil {
		out = append(out, Reason{RuleFiles, fmt.Sprintf("model files: %v", filesErr)})
	}
	return out
}

// SizeLimit is model_size, or [MaxModelSize] when it is not positive.
func (c *Competition) SizeLimit() int64 {
	if c.ModelSize > 0 {
		return c.ModelSize
	}
	return MaxModelSize
}

// localFiles is the allow-list of a model folder, with the same errors as a
// repo's ([modelhash.SelectRepo]).
func localFiles(ctx context.Context, dir string) ([]string, error) {
	all, err := modelhash.Files(ctx, dir, modelhash.Options{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(all))
	for i, e := range all {
		names[i] = e.Path
	}
	return ModelFiles(ctx, names, modelhash.ReadDir(dir))
}

// ModelFiles is the file allow-list: the files of a repo (or folder) holding
// names that a validator downloads and hashes, reading the small files that
// choose them through read ([modelhash.SelectRepo], which hf/hub also uses
// to download).
func ModelFiles(ctx context.Context, names []string, read modelhash.ReadFunc) ([]string, error) {
	return modelhash.SelectRepo(ctx, names, read)
}
