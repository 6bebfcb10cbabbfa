package evalproof

import (
	"encoding/json"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	s := &Step{}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"coldint-evalproof/1","root":"` + string(make([]byte, 0)) + `"}`))
	_ = s
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		StepRoot(m) // never panics on a parsed manifest
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseCompetition(f *testing.F) {
	f.Add([]byte(`{"format":"coldint-evalproof/1","name":"A","samples":[{"text_sha256":"00"}],"models":[{"uid":1,"losses":[1]}]}`))
	f.Add([]byte(`{"format":"coldint-evalproof/1","name":"A","samples":[],"models":[{"uid":1,"losses":["inf"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCompetition(b)
		if err != nil {
			return
		}
		// A parsed competition always encodes and proves.
		if _, err := LeafHashes(c); err != nil {
			t.Fatal(err)
		}
		if _, err := ModelsDigest(c); err != nil && len(c.Params) == 0 {
			t.Fatal(err)
		}
		s := &Step{Competitions: []Competition{*c}}
		if err := s.Seal(); err != nil && len(c.Params) == 0 {
			t.Fatal(err)
		}
		for i := range c.Samples {
			if p, err := s.Prove(0, i); err == nil {
				if err := p.Verify(&s.Manifest); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func FuzzParseCommitment(f *testing.F) {
	f.Add("audit:" + string(make([]byte, 64)) + ":1")
	f.Add("ns:name:commit:hash:comp")
	f.Fuzz(func(t *testing.T, s string) {
		root, n, err := ParseCommitment(s)
		if err != nil {
			return
		}
		if FormatCommitment(root, n) != s && len(s) < 200 {
			// Only a canonical number may differ (leading zeros).
			if r2, n2, err := ParseCommitment(FormatCommitment(root, n)); err != nil || r2 != root || n2 != n {
				t.Fatalf("%q does not round-trip", s)
			}
		}
	})
}

func FuzzParseLatest(f *testing.F) {
	f.Add([]byte(`{"step":1,"root":"00"}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseLatest(b) })
}
