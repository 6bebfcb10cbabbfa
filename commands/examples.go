package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// examples are the EXAMPLES section of each command's help, by command path.
// A test checks that every command has some and that every flag they use
// exists.
var examples = map[string][]string{
	"model":                     {"coldint model init --arch llama --layers 2 --hidden 64 --heads 4 --vocab 32000 --out tiny", "coldint model inspect tiny"},
	"model init":                {"coldint model init --arch llama --layers 2 --hidden 64 --heads 4 --vocab 32000 --out tiny", "coldint model init --arch phi3 --layers 4 --hidden 256 --heads 8 --kv-heads 2 --vocab-from tokenizer/ --save-dtype f32 --out phi"},
	"model inspect":             {"coldint model inspect tiny", "coldint model inspect --json tiny | jq .params"},
	"surgeon":                   {"coldint surgeon check --competitions competitions.json tiny", "coldint surgeon add-layers --count 2 --out deeper tiny"},
	"surgeon inspect":           {"coldint surgeon inspect tiny"},
	"surgeon check":             {"coldint surgeon check --competitions competitions.json tiny", "coldint surgeon check --competitions https://github.com/coldint/sn29/raw/main/competitions.json --competition c00 --json tiny"},
	"surgeon add-layers":        {"coldint surgeon add-layers --count 2 --out deeper tiny", "coldint surgeon add-layers --at 1 --count 1 --out deeper tiny"},
	"surgeon grow-hidden":       {"coldint surgeon grow-hidden --hidden 128 --out wider tiny"},
	"surgeon grow-intermediate": {"coldint surgeon grow-intermediate --intermediate 512 --out wider-mlp tiny"},
	"surgeon resize-vocab":      {"coldint surgeon resize-vocab --vocab 32768 --init-rows mean --out padded tiny"},
	"surgeon swap-tokenizer":    {"coldint surgeon swap-tokenizer --tokenizer llama3-tokenizer/ --out swapped tiny"},
	"surgeon convert":           {"coldint surgeon convert --save-dtype bf16 --out tiny-bf16 tiny"},
	"surgeon merge":             {"coldint surgeon merge --method linear --merge-weights 0.5,0.5 --out merged a b", "coldint surgeon merge --method slerp --merge-weights 0.3 --out merged a b"},
	"surgeon slice-info":        {"coldint surgeon slice-info --max-memory 8GiB tiny", "coldint surgeon slice-info --max-memory 24GiB --device cuda --dtype bf16 big-model"},
	"hash":                      {"coldint hash tiny", "coldint hash --hotkey 5F...HOTKEY --json tiny"},
	"eval":                      {"coldint eval --model tiny --data samples.jsonl --json", "coldint eval --model big-model --data texts.txt --device cuda --dtype bf16 --max-memory 30GiB"},
	"data":                      {"coldint data build-corpus --out corpus", "coldint data pages --pages 2 --rows-per-page 10"},
	"data build-corpus":         {"coldint data build-corpus --out corpus", "coldint data build-corpus --sources jargon --shard-docs 500 --out corpus"},
	"data pages":                {"coldint data pages --pages 2 --rows-per-page 10", "coldint data pages --local corpus --pages 4 --page-seed 7"},
	"data serve":                {"coldint data serve --local corpus --addr 127.0.0.1:8090"},
	"chain":                     {"coldint chain serve --db chain.log", "coldint chain metagraph --netuid 1 --network local"},
	"chain info":                {"coldint chain info --network finney", "coldint chain info --network local --json"},
	"chain metagraph":           {"coldint chain metagraph --netuid 29 --network finney", "coldint chain metagraph --netuid 1 --json"},
	"chain commitments":         {"coldint chain commitments --netuid 29 --network finney --json"},
	"chain commit":              {"coldint chain commit --netuid 1 --commitment ns:name:COMMIT:HASH:c00 --wallet.name miner"},
	"chain set-weights":         {"coldint chain set-weights --netuid 1 --uids 1,2 --weights 0.7,0.3 --wallet.name validator"},
	"chain serve":               {"coldint chain serve --db chain.log", "coldint chain serve --db chain.log --netuid 1 --tempo 10 --block-time 0"},
	"chain create-subnet":       {"coldint chain create-subnet --network local --tempo 10"},
	"chain register":            {"coldint chain register --netuid 1 --wallet.name miner --network local"},
	"chain set-stake":           {"coldint chain set-stake --netuid 1 --tao 1000 --wallet.name validator --network local"},
	"chain advance":             {"coldint chain advance --blocks 100 --network local"},
	"hub":                       {"coldint hub serve --root hub --addr 127.0.0.1:8088", "coldint hub download --revision main tester/tiny"},
	"hub serve":                 {"coldint hub serve --root hub --addr 127.0.0.1:8088", "coldint hub serve --root hub --token alice:SECRET"},
	"hub info":                  {"coldint hub info --hub-endpoint http://127.0.0.1:8088 tester/tiny", "coldint hub info --revision main --json openai-community/gpt2"},
	"hub download":              {"coldint hub download --model-files --revision main tester/tiny", "coldint hub download --cache-dir ~/.cache/huggingface/hub --file config.json openai-community/gpt2", "coldint hub download --file README.md datasets/HuggingFaceFW/fineweb-edu"},
	"hub upload":                {"coldint hub upload --create --hub-endpoint http://127.0.0.1:8088 tester/tiny tiny", "coldint hub upload --create --repo-type dataset --hub-endpoint http://127.0.0.1:8088 tester/corpus shards"},
	"hub create":                {"coldint hub create --exist-ok tester/tiny"},
	"hub visibility":            {"coldint hub visibility tester/tiny public"},
	"wallet":                    {"coldint wallet new-hotkey --wallet.name miner", "coldint wallet show --wallet.name miner --json"},
	"wallet new-hotkey":         {"coldint wallet new-hotkey --wallet.name miner --wallet.hotkey default", "coldint wallet new-hotkey --wallet.name alice --uri //Alice"},
	"wallet show":               {"coldint wallet show --wallet.name miner"},
	"score":                     {"coldint score --input losses.json --json"},
	"tokenize":                  {"echo 'Hello world' | coldint tokenize --tokenizer tiny", "echo '[9906, 1917]' | coldint tokenize --tokenizer tiny --decode"},
	"validate":                  {"coldint validate --network local --netuid 1 --competitions competitions.json --wallet.name validator", "coldint validate --config validator.yaml", "coldint validate --config validator.yaml --publish hub:me/evaluations"},
	"audit":                     {"coldint audit demo/published --data demo/corpus --hub-dir demo/hub --network file:demo/chain/devchain.log", "coldint audit --step 12 --json me/evaluations", "coldint audit --device cuda --dtype bf16 validator-evals/step-40"},
	"eval-worker":               {"coldint eval-worker < job.json   # run by coldint validate, not by hand"},
	"mine":                      {"coldint mine --init tiny --data corpus --out run --competition c00 --repo me/tiny", "coldint mine train --from-best --competition c00 --data corpus --out run"},
	"mine train":                {"coldint mine train --init tiny --data corpus --out run --steps 200 --lr 1e-3", "coldint mine train --resume --out run --device cuda --dtype bf16 --grad-checkpointing", "coldint mine train --init tiny --dataset HuggingFaceFW/fineweb-edu --data-files 'sample/10BT/*.parquet' --disk-budget 20GiB --nproc 2 --out run --json"},
	"mine precheck":             {"coldint mine precheck --model run/model --competition c00 --network local --netuid 1"},
	"mine publish":              {"coldint mine publish --model run/model --repo me/tiny --competition c00 --wallet.name miner"},
	"mine commit":               {"coldint mine commit --model-id me:tiny:COMMIT:HASH:c00 --wallet.name miner"},
	"serve":                     {"coldint serve", "coldint serve --state demo --addr 127.0.0.1:8080 --device cpu"},
	"generate":                  {"coldint generate --model tiny --prompt 'Once upon a time' --max-tokens 50", "coldint generate --model big-model --prompt 'def fib(n):' --temperature 0.7 --top-p 0.9 --device cuda"},
	"demo":                      {"coldint demo", "coldint demo --dir /tmp/demo --miners 4 --validator-steps 5"},
	"config":                    {"coldint config dump validate > validate.yaml"},
	"config dump":               {"coldint config dump validate > validate.yaml", "coldint validate --config validate.yaml", "coldint --config validate.yaml config dump validate"},
	"version":                   {"coldint version"},
	"engine-info":               {"coldint engine-info", "coldint engine-info --json"},
}

// installExamples appends each command's EXAMPLES to its help.
func installExamples(cmds []*cli.Command, parent string) {
	for _, c := range cmds {
		path := strings.TrimSpace(parent + " " + c.Name)
		if ex, ok := examples[path]; ok {
			var b strings.Builder
			if c.Description != "" {
				b.WriteString(strings.TrimRight(c.Description, "\n"))
				b.WriteString("\n\n")
			}
			b.WriteString("EXAMPLES:\n")
			for _, e := range ex {
				b.WriteString("   " + e + "\n")
			}
			c.Description = b.String()
		}
		installExamples(c.Subcommands, path)
	}
}
