// Package hf holds the Hugging Face model-repository domain: model configs
// (config.json for llama and phi3), repository ids and revisions, and the
// small [Hub] interface that the network client and the local backends
// implement. It imports no network or codec libraries.
package hf
