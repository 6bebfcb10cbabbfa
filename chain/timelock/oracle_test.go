package timelock

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

// oracleReport is what tools/timelockjs/check.mjs prints.
type oracleReport struct {
	Decrypted             oracleResult `json:"decrypted"`
	Flipped               oracleResult `json:"flipped"`
	WrongSignature        oracleResult `json:"wrong_signature"`
	BeaconValid           bool         `json:"beacon_valid"`
	WrongRoundBeaconValid bool         `json:"wrong_round_beacon_valid"`
	ReferenceCiphertext   string       `json:"reference_ciphertext"`
	Quicknet              struct {
		PublicKey   string `json:"public_key"`
		GenesisTime int64  `json:"genesis_time"`
		Period      int64  `json:"period"`
		Scheme      string `json:"scheme"`
		Hash        string `json:"hash"`
	} `json:"quicknet"`
}

type oracleResult struct {
	Plaintext *string `json:"plaintext"`
	Error     string  `json:"error"`
}

// runOracle feeds req to the Node check with the modules setup-timelock
// installs.
func runOracle(t *testing.T, req map[string]any) oracleReport {
	t.Helper()
	node := testenv.Node(t)
	modules := testenv.NodeModules(t, "timelock")
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(testenv.Root(), "tools", "timelockjs", "check.mjs"), modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	var rep oracleReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("read check.mjs report: %v\n%s", err, out)
	}
	return rep
}

// TestReferenceImplementation checks our ciphertexts against code nobody
// here wrote: the reference tle implementation (wasm) must open a Go
// ciphertext of a weights payload with a test beacon's signature and refuse
// a flipped byte and another round's signature; drand-client must accept
// the test beacon's signature as a quicknet-scheme beacon of that round
// only; a ciphertext the reference makes must open in Go; and tlock-js's
// quicknet chain info must equal ours.
func TestReferenceImplementation(t *testing.T) {
	b := testBeacon(t)
	const round = 19_066_280
	p := Payload{Hotkey: hotkey(), UIDs: []uint16{0, 5, 17}, Values: []uint16{65535, 1200, 7}, VersionKey: 8}
	plain, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := Encrypt(b.Info().PublicKey, round, plain, seeded(11))
	if err != nil {
		t.Fatal(err)
	}
	sig, wrong := sign(t, b, round), sign(t, b, round+1)
	rep := runOracle(t, map[string]any{
		"public_key":      hex.EncodeToString(b.Info().PublicKey.Bytes()),
		"scheme":          QuicknetScheme,
		"round":           round,
		"signature":       hex.EncodeToString(sig),
		"wrong_signature": hex.EncodeToString(wrong),
		"ciphertext":      hex.EncodeToString(ct),
		"flip_index":      96 + 8 + 5, // inside V
		"encrypt_message": hex.EncodeToString([]byte("from the reference")),
	})

	t.Logf("reference: flipped byte -> %q; round %d's signature -> %q", rep.Flipped.Error, round+1, rep.WrongSignature.Error)
	if rep.Decrypted.Plaintext == nil || *rep.Decrypted.Plaintext != hex.EncodeToString(plain) {
		t.Errorf("reference decrypt of our ciphertext: %+v, want plaintext %x", rep.Decrypted, plain)
	}
	if rep.Flipped.Plaintext != nil || rep.Flipped.Error == "" {
		t.Errorf("reference decrypt of a flipped ciphertext succeeded: %+v", rep.Flipped)
	}
	if rep.WrongSignature.Plaintext != nil || rep.WrongSignature.Error == "" {
		t.Errorf("reference decrypt with round %d's signature succeeded: %+v", round+1, rep.WrongSignature)
	}
	if !rep.BeaconValid {
		t.Error("drand-client rejects the test beacon's signature as round's beacon")
	}
	if rep.WrongRoundBeaconValid {
		t.Error("drand-client accepts another round's signature")
	}

	refCT, err := hex.DecodeString(rep.ReferenceCiphertext)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decrypt(sig, refCT); err != nil || string(got) != "from the reference" {
		t.Errorf("Go decrypt of the reference's ciphertext: %q, %v", got, err)
	}
	if _, err := Decrypt(wrong, refCT); err == nil {
		t.Error("Go decrypt of the reference's ciphertext with the wrong round's signature succeeded")
	}

	q := rep.Quicknet
	if !strings.EqualFold(q.PublicKey, QuicknetPublicKeyHex) || q.GenesisTime != QuicknetGenesis ||
		q.Period != int64(QuicknetPeriod.Seconds()) || q.Scheme != QuicknetScheme || q.Hash != QuicknetHash {
		t.Errorf("tlock-js quicknet info %+v differs from ours", q)
	}
}
