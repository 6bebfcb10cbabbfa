// Package competition holds the rules of the coldint competitions in one
// place, so that a miner's precheck, `surgeon check` and the validator apply
// the same ones and give the same reasons.
//
// The config. competitions.json is an object of competitions; its `default`
// section fills in keys a competition leaves out and also sets the
// validator-wide sample and cache settings. A competition must name its
// reward share, dataset, accepted model classes (model_types), the most
// bytes a model repo may hold (model_size) and the most parameters a model
// may have. The file is read as the reference validator reads it: what the
// reference loads loads here too, and what cannot be used (unknown keys,
// unusable optional values, competitions whose limits are not numbers) is
// named in warnings. hall_of_fame.json lists the extra awards per hotkey.
//
// Shared samples and tasks. eval_seed block makes every validator draw a
// competition's pages from the hash of the last sync block (every
// sync_cadence blocks, [Competition.SyncBlock]) and evaluate only models
// committed eval_delay blocks before it ([Competition.Eligible]); tasks
// list weighted datasets whose win rates are combined by
// [Competition.TaskWeights].
//
// Admission. A model enters a competition when its config.json model_type
// maps to a class (llama, phi3, phi) whose name contains one of model_types
// (so "LlamaForCausalLM" also admits the sliced variant), its dimensions are
// in range, its parameter count is within the limit, its repo's bytes are
// within model_size, and its files are complete: config.json, weights as
// model.safetensors or an index plus every shard the index names (no name
// may leave the folder), and the tokenizer files. The architectures list in
// config.json is not used: the validator goes by model_type.
//
// Files. The validator downloads exactly the allow-list (config, generation
// config, tokenizer files of the tokenizer's class, weights); the hash of a
// model is taken over those files only, so a miner must upload what that
// list names. The index is read with a size cap.
//
// Tokenizer. When the competition names a tokenizer, every sample is
// tokenized with it, and a model's own tokenizer.json is used instead only
// when free_tokenizer is true. When the competition names none, the model
// must ship tokenizer.json. A sample is cut at cap_sample_len characters
// (at the last space), gets the EOS token unless it was cut, must decode
// back to the same text, and must fit in max_sequence_len tokens; a
// tokenizer that fails the round trip too often is rejected.
package competition
