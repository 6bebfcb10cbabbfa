package commands

import "testing"

// TestModelSurgeonEvalOptions: the flags of the model, surgeon, eval and
// eval-worker commands reach their Options (aliases, --model for DIR and
// environment variables included).
func TestModelSurgeonEvalOptions(t *testing.T) {
	t.Setenv("COLDINT_TEST_HANG_IF", "slow")
	checkOptions(t, []fieldsCase{
		{"model init", func(t *testing.T) []any {
			o, _ := optionsOf(t, newModelInitCmd, "--arch", "phi3", "--layers", "3", "--hidden", "96", "--heads", "6", "--kv-heads", "2",
				"--intermediate", "128", "--vocab", "77", "--vocab-from", "tok", "--tie", "--seed", "5", "--dtype", "f32",
				"--rope-theta", "500000", "--max-position", "2048", "--out", "/o")
			return []any{o.Arch, o.Layers, o.Hidden, o.Heads, o.KVHeads, o.Intermediate, o.Vocab, o.VocabFrom, o.Tie, o.Seed, o.DType, o.RopeTheta, o.MaxPos, o.Out}
		}, []any{"phi3", 3, 96, 6, 2, 128, 77, "tok", true, uint64(5), "f32", 500000.0, 2048, "/o"}},
		{"model init defaults", func(t *testing.T) []any {
			o, _ := optionsOf(t, newModelInitCmd, "--out", "/o")
			return []any{o.Arch, o.Layers, o.Hidden, o.Heads, o.KVHeads, o.Intermediate, o.DType, o.RopeTheta, o.MaxPos}
		}, []any{"llama", 2, 64, 4, 0, 0, "bf16", 10000.0, 4096}},
		{"model inspect", func(t *testing.T) []any {
			o, _ := optionsOf(t, newModelInspectCmd, "d", "--json")
			return []any{o.Dir, o.JSON}
		}, []any{"d", true}},
		{"surgeon check", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonCheckCmd, "--model", "d", "--competitions", "c.json", "--competition", "B7", "--json")
			return []any{o.Dir, o.Competitions, o.Competition, o.JSON}
		}, []any{"d", "c.json", "B7", true}},
		{"surgeon add-layers", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonAddLayersCmd, "d", "--at", "1", "--count", "2", "--out", "/o")
			return []any{o.Dir, o.At, o.Count, o.Out}
		}, []any{"d", 1, 2, "/o"}},
		{"surgeon grow-hidden", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonGrowHiddenCmd, "d", "--to", "96", "--seed", "3", "--out", "/o")
			return []any{o.Dir, o.Hidden, o.Seed, o.Out}
		}, []any{"d", 96, uint64(3), "/o"}},
		{"surgeon grow-intermediate", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonGrowIntermediateCmd, "d", "--intermediate", "256", "--init-seed", "4", "--out", "/o")
			return []any{o.Dir, o.Intermediate, o.Seed, o.Out}
		}, []any{"d", 256, uint64(4), "/o"}},
		{"surgeon resize-vocab", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonResizeVocabCmd, "d", "--to", "50", "--pad-multiple", "8", "--init", "mean", "--seed", "6", "--out", "/o")
			return []any{o.Dir, o.Vocab, o.PadMultiple, o.InitRows, o.Seed, o.Out}
		}, []any{"d", 50, 8, "mean", uint64(6), "/o"}},
		{"surgeon swap-tokenizer", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonSwapTokenizerCmd, "d", "--tokenizer", "t", "--keep-special", "--json", "--out", "/o")
			return []any{o.Dir, o.Tokenizer, o.KeepSpecial, o.JSON, o.Out}
		}, []any{"d", "t", true, true, "/o"}},
		{"surgeon convert", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonConvertCmd, "d", "--dtype", "f16", "--out", "/o")
			return []any{o.Dir, o.DType, o.Out}
		}, []any{"d", "f16", "/o"}},
		{"surgeon merge", func(t *testing.T) []any {
			o, _ := optionsOf(t, newSurgeonMergeCmd, "a", "b", "c", "--method", "slerp", "--weights", "0.3", "--out", "/o")
			return []any{o.Dirs, o.Method, o.Weights, o.Out}
		}, []any{[]string{"a", "b", "c"}, "slerp", "0.3", "/o"}},
		{"surgeon slice-info", func(t *testing.T) []any {
			o, f := optionsOf(t, newSurgeonSliceInfoCmd, "d", "--max-memory", "1GiB", "--device", "cpu", "--dtype", "bf16")
			return []any{o.Dir, o.MaxMemory, f.Engine.Device, f.Engine.DType}
		}, []any{"d", "1GiB", "cpu", "bf16"}},
		{"eval", func(t *testing.T) []any {
			o, f := optionsOf(t, newEvalCmd, "--model", "m", "--data", "d.jsonl", "--max-memory", "0", "--device", "cpu", "--dtype", "f32", "--threads", "3", "--json")
			return []any{o.Model, o.Data, o.MaxMemory, f.Engine.Device, f.Engine.DType, o.Threads, o.JSON}
		}, []any{"m", "d.jsonl", "0", "cpu", "f32", 3, true}},
		{"eval defaults", func(t *testing.T) []any {
			o, f := optionsOf(t, newEvalCmd, "--model", "m", "--data", "d.txt")
			return []any{o.MaxMemory, f.Engine.Device, f.Engine.DType, o.Threads, o.JSON}
		}, []any{"", "auto", "auto", 0, false}},
		{"eval-worker", func(t *testing.T) []any {
			o, _ := optionsOf(t, newEvalWorkerCmd, "--test-exit-if", "crash")
			return []any{o.TestExitIf, o.TestHangIf}
		}, []any{"crash", "slow"}},
	})
}
