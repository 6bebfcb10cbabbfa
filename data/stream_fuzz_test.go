package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/parquet-go/parquet-go"
)

// goShardBytes returns a small parquet file written by parquet-go.
func goShardBytes(t testing.TB, docs []string, groupRows int64) []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[textRow](&buf, parquet.MaxRowsPerRowGroup(groupRows), parquet.Compression(&parquet.Snappy))
	for i, d := range docs {
		if _, err := w.Write([]textRow{{Text: d, ID: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzOpenParquet feeds arbitrary bytes to the parquet reader: it must
// return rows or an error of its own kinds, never panic (a panic of the
// library is recovered into ErrNotParquet).
func FuzzOpenParquet(f *testing.F) {
	good := goShardBytes(f, []string{"a", "", "héllo", "x y z", "last"}, 2)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append([]byte("PAR1"), good[len(good)-40:]...))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := OpenParquet(bytes.NewReader(b), int64(len(b)), "fuzz", "text")
		if err != nil {
			if !errors.Is(err, ErrNotParquet) && !errors.Is(err, ErrNoColumn) && !errors.Is(err, ErrNotString) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		for g := 0; g < pf.NumRowGroups() && g < 64; g++ {
			rows := 0
			err := pf.ReadRowGroup(context.Background(), g, 0, func(ParquetRow) error {
				rows++
				if rows > 1<<16 {
					return io.EOF
				}
				return nil
			})
			if err != nil && err != io.EOF && !errors.Is(err, ErrNotParquet) {
				t.Fatalf("row group %d: error of no known kind: %v", g, err)
			}
		}
	})
}

// FuzzParseDatasetRef checks that accepted references format back to
// themselves.
func FuzzParseDatasetRef(f *testing.F) {
	for _, s := range []string{"HuggingFaceFW/fineweb-edu", "a/b@main", "ns/name@refs/convert/parquet", "x@y", "a/b@", "a/b@c@d", "../x/y", "ns/na..me@0123456789abcdef0123456789abcdef01234567", "datasets/ns/name@main", "models/ns/name", "datasets/abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseDatasetRef(s)
		if err != nil {
			if !errors.Is(err, ErrDatasetRef) {
				t.Fatalf("error %v is not ErrDatasetRef", err)
			}
			return
		}
		// "datasets/" is the default and formats away.
		canon := s
		if r.Repo.Type == hf.DatasetRepo && strings.Count(strings.SplitN(s, "@", 2)[0], "/") == 2 {
			canon = strings.TrimPrefix(s, "datasets/")
		}
		if r.String() != canon && r.String()+"@" != canon {
			t.Fatalf("%q parsed to %+v, formats as %q", s, r, r.String())
		}
		r2, err := ParseDatasetRef(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q: reparse gave %+v, %v", s, r2, err)
		}
	})
}

// FuzzResumeCheckpoint resumes a small stream from arbitrary checkpoint
// JSON ("DIR" stands for the shard folder's name): it is refused with ErrCheckpoint, or the stream yields documents in
// order, each not handed out before, and never panics.
func FuzzResumeCheckpoint(f *testing.F) {
	dir := f.TempDir()
	for i, docs := range [][]string{{"a", "b", "c", "d", "e"}, {"f", "g"}, {"h", "i", "j", "k"}} {
		if err := os.WriteFile(filepath.Join(dir, "s"+string(rune('0'+i))+".parquet"), goShardBytes(f, docs, 2), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(`{}`)
	f.Add(`{"start":{"shard":1,"path":"DIR/s1.parquet","row_group":0,"row":1}}`)
	f.Add(`{"start":{"shard":0},"generations":[{"world":2,"unit":"row-group","next":[{"shard":1,"path":"DIR/s1.parquet"},{"shard":0,"row_group":1,"row":1,"path":"DIR/s0.parquet"}]}]}`)
	f.Add(`{"generations":[{"world":0,"next":[]}]}`)
	f.Add(`{"start":{"shard":3}}`)
	f.Fuzz(func(t *testing.T, js string) {
		var cp Checkpoint
		if json.Unmarshal([]byte(strings.ReplaceAll(js, "DIR", filepath.Base(dir))), &cp) != nil {
			return
		}
		s, err := OpenStream(context.Background(), &LocalShards{Paths: []string{dir}}, StreamOptions{Resume: &cp})
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v is not ErrCheckpoint", err)
			}
			return
		}
		defer s.Close()
		var last *Position
		for n := 0; ; n++ {
			d, err := s.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if cp.Seen(d.Pos) || (last != nil && d.Pos.Compare(*last) <= 0) || n > 11 {
				t.Fatalf("document %s after %v, handed out before: %v", d.Pos, last, cp.Seen(d.Pos))
			}
			last = &d.Pos
		}
	})
}
