// Package substrate is coldint's client for subtensor, the Substrate chain of
// Bittensor, over JSON-RPC (HTTP or WebSocket). It reads the runtime metadata
// (V14) so call indices, storage hashers, error names and the signed-extension
// list come from the chain, builds and signs v4 extrinsics with mortal eras,
// waits for inclusion and maps dispatch errors to the sentinels of package
// chain. Client implements chain.Reader; a Client bound to a chain.Signer
// (Client.WithSigner) also implements chain.Committer, chain.WeightSetter and
// chain.Registrar.
package substrate
