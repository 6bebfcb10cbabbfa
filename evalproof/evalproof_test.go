package evalproof

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical.golden")

// testStep is a fixed two-competition step.
func testStep(t *testing.T) *Step {
	t.Helper()
	s := &Step{Manifest: Manifest{Step: 7, Block: 1234, Timestamp: 1.5e9, Validator: "5Val", Netuid: 29,
		Prev: &Link{Step: 6, Root: strings.Repeat("ab", 32)}, Weights: []UIDWeight{{1, 0.25}, {2, 0.75}}}}
	refs := []SampleRef{
		{Dataset: "d", Config: "c1", Split: "train", Row: 10, TextSHA256: eval.TextHash("first text")},
		{Dataset: "d", Config: "c1", Split: "train", Row: 11, TextSHA256: eval.TextHash("second text")},
		{Task: "math", Dataset: "d2", Config: "c2", Split: "test", Row: 3, TextSHA256: eval.TextHash("third")},
	}
	s.Competitions = []Competition{
		{Name: "A", Params: []byte(`{"reward": 60, "tokenizer": "tok"}`), Samples: refs, Models: []Model{
			{UID: 1, Hotkey: "5hk1", Repo: "ns/a", Commit: strings.Repeat("1", 40), Hash: "h1", Block: 100, Status: "ok", WinRate: 0.5, Weight: 0.25,
				Losses: []eval.JSONFloat{1.5, 2.25, eval.JSONFloat(math.Inf(1))}},
			{UID: 2, Hotkey: "5hk2", Repo: "ns/b", Commit: strings.Repeat("2", 40), Hash: "h2", Block: 101, Status: "ok", WinRate: 0.5, Weight: 0.75,
				Losses: []eval.JSONFloat{1.25, 2.5, 3}},
			{UID: 3, Hotkey: "5hk3", Status: "failed: boom"},
		}},
		{Name: "B", Samples: refs[:1], Models: []Model{}},
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCanonicalGolden pins the canonical encoding: a leaf's bytes, the
// model digest, the roots. A change to the encoding breaks every
// published step, so it must show here.
func TestCanonicalGolden(t *testing.T) {
	s := testStep(t)
	leaf, err := LeafBytes(&s.Competitions[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "leaf A/2 %s\n", hex.EncodeToString(leaf))
	for _, c := range s.Manifest.Competitions {
		fmt.Fprintf(&b, "competition %s root %s models %s\n", c.Name, c.Root, c.ModelsDigest)
	}
	fmt.Fprintf(&b, "step root %s\n", s.Manifest.Root)
	path := filepath.Join("testdata", "canonical.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("canonical encoding changed:\n got %s\nwant %s", b.String(), want)
	}
}

func TestMerkleProofs(t *testing.T) {
	for n := 1; n <= 17; n++ {
		leaves := make([]Hash, n)
		for i := range leaves {
			leaves[i] = LeafHash([]byte{byte(i), byte(n)})
		}
		root := MerkleRoot(leaves)
		for i := range leaves {
			path, err := MerklePath(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyPath(leaves[i], i, n, path, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			other := LeafHash([]byte("other"))
			if err := VerifyPath(other, i, n, path, root); !errors.Is(err, ErrProof) {
				t.Fatalf("n=%d i=%d: a wrong leaf verified (%v)", n, i, err)
			}
			if n > 1 {
				if err := VerifyPath(leaves[i], (i+1)%n, n, path, root); !errors.Is(err, ErrProof) {
					t.Fatalf("n=%d i=%d: a wrong index verified (%v)", n, i, err)
				}
			}
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	cases := []struct {
		name   string
		change func(s *Step)
		want   string // in the error; "" for none
	}{
		{"honest", func(s *Step) {}, ""},
		{"loss altered", func(s *Step) { s.Competitions[0].Models[1].Losses[1] = 2.4 }, `competition "A" (competition-0.json): sample root`},
		{"win rate altered", func(s *Step) { s.Competitions[0].Models[0].WinRate = 0.9 }, "model table digest"},
		{"weight vector altered", func(s *Step) { s.Manifest.Weights[0].Weight = 0.3 }, "step root"},
		{"competition root rewritten", func(s *Step) { s.Manifest.Competitions[1].Root = strings.Repeat("0", 64) }, "step root"},
		{"resealed", func(s *Step) { s.Competitions[0].Models[1].Losses[1] = 2.4; _ = s.Seal() }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testStep(t)
			tc.change(s)
			err := s.Verify()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrRoot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrRoot naming %q", err, tc.want)
			}
		})
	}
}

func TestProof(t *testing.T) {
	s := testStep(t)
	for i := range s.Competitions[0].Samples {
		p, err := s.Prove(0, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(&s.Manifest); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	p, _ := s.Prove(0, 1)
	// The same sample with another loss does not verify.
	s.Competitions[0].Models[0].Losses[1] = 9
	leaf, _ := LeafBytes(&s.Competitions[0], 1)
	p.Leaf = hex.EncodeToString(leaf)
	if err := p.Verify(&s.Manifest); !errors.Is(err, ErrProof) {
		t.Fatalf("altered leaf verified: %v", err)
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	s := testStep(t)
	root := t.TempDir()
	if err := WriteDir(root, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(context.Background(), DirGetter(filepath.Join(root, "step-7")))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Root != s.Manifest.Root || math.IsInf(float64(got.Competitions[0].Models[0].Losses[2]), 1) == false {
		t.Fatalf("round trip changed the step: %+v", got.Manifest)
	}
	lb, _ := os.ReadFile(filepath.Join(root, LatestFile))
	if l, err := ParseLatest(lb); err != nil || l.Step != 7 || l.Root != s.Manifest.Root {
		t.Fatalf("latest.json %s: %v", lb, err)
	}
	if err := os.Remove(filepath.Join(root, "step-7", "competition-1.json")); err != nil {
		t.Fatal(err)
	}
	_, err = Load(context.Background(), DirGetter(filepath.Join(root, "step-7")))
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), `competition-1.json of competition "B"`) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestCommitment(t *testing.T) {
	root := strings.Repeat("cd", 32)
	c := FormatCommitment(root, 12345)
	if len(c) > chain.MaxCommitmentLen {
		t.Fatalf("%d bytes", len(c))
	}
	r, n, err := ParseCommitment(c)
	if err != nil || r != root || n != 12345 {
		t.Fatalf("%q → %q %d %v", c, r, n, err)
	}
	// A miner's model-id parser refuses it cleanly.
	if _, err := chain.ParseModelID(c); !errors.Is(err, chain.ErrMalformedCommitment) || !strings.Contains(err.Error(), "evaluation commitment") {
		t.Fatalf("model id parse of %q: %v", c, err)
	}
	for _, bad := range []string{"ns:name:commit:hash:comp", "audit:xyz:1", "audit:" + root, "audit:" + root + ":x"} {
		if _, _, err := ParseCommitment(bad); !errors.Is(err, ErrNotAudit) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
