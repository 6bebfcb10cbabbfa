package timelock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFinneyCommit reads a real SubtensorModule.commit_timelocked_mechanism_weights
// call the finney runtime accepted (block 9101269, see testdata/README.md),
// made by the reference SDK (bittensor-drand): call index 7/118, netuid 7,
// mecid 0, commit (303 bytes), reveal round 32340463, version 4. Its
// ciphertext must parse (layout, cipher suite, U a valid G2 point), its body
// must be the size of a 4-uid payload, and our CallArgs must give the same
// bytes for the fields the two calls share. Without drand's signature of
// that round it cannot be opened here.
func TestFinneyCommit(t *testing.T) {
	raw, err := os.ReadFile(filepath.FromSlash("testdata/finney-9101269-commit-call.hex"))
	if err != nil {
		t.Fatal(err)
	}
	call := mustHex(t, string(raw))
	if !bytes.Equal(call[:2], []byte{7, 118}) || call[4] != 0 {
		t.Fatalf("unexpected call header %x", call[:5])
	}
	const commitStart, commitLen = 7, 303
	commit := call[commitStart : commitStart+commitLen]
	c, err := parseCiphertext(commit)
	if err != nil {
		t.Fatalf("parse the on-chain ciphertext: %v", err)
	}
	// 4 uids: hotkey 1+32, uids 1+8, values 1+8, version key 8 = 59, plus the tag.
	if len(c.sealed) != 59+tagSize {
		t.Errorf("sealed body is %d bytes, want %d", len(c.sealed), 59+tagSize)
	}
	b := testBeacon(t)
	if _, err := Decrypt(sign(t, b, 32340463), commit); !errors.Is(err, ErrDecrypt) {
		t.Errorf("decrypt with a foreign signature: %v, want ErrDecrypt (U must decode)", err)
	}
	args, err := CallArgs(7, commit, 32340463, CommitRevealVersion)
	if err != nil {
		t.Fatal(err)
	}
	ours := bytes.Join(args, nil)
	// The mechanism call carries one more argument (mecid u8) after netuid.
	theirs := append(bytes.Clone(call[2:4]), call[5:]...)
	if !bytes.Equal(ours, theirs) {
		t.Errorf("CallArgs\n got %s\nwant %s", hex.EncodeToString(ours), strings.TrimSpace(hex.EncodeToString(theirs)))
	}
}
