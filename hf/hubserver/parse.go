package hubserver

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/coldint/coldint/hf"
)

// errBadRequest marks a request body the server cannot accept (answered 400).
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errBadRequest)
}

// Limits on what one request may carry.
const (
	maxPreuploadFiles = 1000
	maxBatchObjects   = 1000
	maxCommitOps      = 10000
	maxJSONBody       = 16 << 20
)

func isOID(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// commitOp is one parsed line of an ndjson commit after the header.
type commitOp struct {
	Kind    string // "file", "lfsFile", "deletedFile", "deletedFolder"
	Path    string
	Content []byte // for "file"
	OID     string // for "lfsFile"
	Size    int64  // for "lfsFile"
}

// commitPayload is a parsed ndjson commit body.
type commitPayload struct {
	Summary      string
	Description  string
	ParentCommit string
	Ops          []commitOp
}

// parseCommit reads an application/x-ndjson commit body: a header line, then
// file, lfsFile, deletedFile and deletedFolder lines. Inline (base64) file
// contents may total at most maxInline bytes. Every path is checked with
// hf.ValidateFilePath and may appear only once.
func parseCommit(r io.Reader, maxInline int64) (*commitPayload, error) {
	dec := json.NewDecoder(r)
	var p *commitPayload
	seen := map[string]bool{}
	var inline int64
	for line := 1; ; line++ {
		var item struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := dec.Decode(&item); err == io.EOF {
			break
		} else if err != nil {
			return nil, badRequest("parse commit line %d: %v", line, err)
		}
		if p == nil {
			if item.Key != "header" {
				return nil, badRequest("parse commit line %d: first line must be the header, got %q", line, item.Key)
			}
			var h struct {
				Summary      string `json:"summary"`
				Description  string `json:"description"`
				ParentCommit string `json:"parentCommit"`
			}
			if err := json.Unmarshal(item.Value, &h); err != nil {
				return nil, badRequest("parse commit header: %v", err)
			}
			if h.ParentCommit != "" && !hf.IsCommitSHA(h.ParentCommit) {
				return nil, badRequest("parse commit header: parentCommit %q is not a commit sha", h.ParentCommit)
			}
			p = &commitPayload{Summary: h.Summary, Description: h.Description, ParentCommit: h.ParentCommit}
			continue
		}
		if len(p.Ops) >= maxCommitOps {
			return nil, badRequest("parse commit: more than %d operations", maxCommitOps)
		}
		var v struct {
			Path     string `json:"path"`
			Content  string `json:"content"`
			Encoding string `json:"encoding"`
			Algo     string `json:"algo"`
			OID      string `json:"oid"`
			Size     *int64 `json:"size"`
		}
		if err := json.Unmarshal(item.Value, &v); err != nil {
			return nil, badRequest("parse commit line %d: %v", line, err)
		}
		op := commitOp{Kind: item.Key, Path: v.Path}
		if item.Key == "deletedFolder" {
			op.Path = strings.TrimSuffix(op.Path, "/")
		}
		if err := hf.ValidateFilePath(op.Path); err != nil {
			return nil, badRequest("parse commit line %d: %v", line, err)
		}
		if seen[op.Path] {
			return nil, badRequest("parse commit line %d: path %q given twice", line, op.Path)
		}
		seen[op.Path] = true
		switch item.Key {
		case "file":
			switch v.Encoding {
			case "base64":
				b, err := base64.StdEncoding.DecodeString(v.Content)
				if err != nil {
					return nil, badRequest("parse commit line %d: content of %q: %v", line, op.Path, err)
				}
				op.Content = b
			case "", "utf-8":
				op.Content = []byte(v.Content)
			default:
				return nil, badRequest("parse commit line %d: encoding %q not supported", line, v.Encoding)
			}
			inline += int64(len(op.Content))
			if inline > maxInline {
				return nil, badRequest("parse commit: inline file contents exceed %d bytes; upload large files with LFS", maxInline)
			}
		case "lfsFile":
			if v.Algo != "" && v.Algo != "sha256" {
				return nil, badRequest("parse commit line %d: algo %q not supported", line, v.Algo)
			}
			if !isOID(v.OID) {
				return nil, badRequest("parse commit line %d: oid %q is not a sha256", line, v.OID)
			}
			if v.Size == nil || *v.Size < 0 {
				return nil, badRequest("parse commit line %d: lfsFile %q needs a size", line, op.Path)
			}
			op.OID, op.Size = v.OID, *v.Size
		case "deletedFile", "deletedFolder":
		default:
			return nil, badRequest("parse commit line %d: unknown key %q", line, item.Key)
		}
		p.Ops = append(p.Ops, op)
	}
	if p == nil {
		return nil, badRequest("parse commit: empty body")
	}
	return p, nil
}

// lfsObject is one object of an LFS batch request.
type lfsObject struct {
	OID  string `json:"oid"`
	Size int64  `json:"size"`
}

// lfsBatchRequest is a parsed LFS batch request.
type lfsBatchRequest struct {
	Operation string      `json:"operation"`
	Transfers []string    `json:"transfers"`
	HashAlgo  string      `json:"hash_algo"`
	Objects   []lfsObject `json:"objects"`
	Ref       *struct {
		Name string `json:"name"`
	} `json:"ref"`
}

func (r *lfsBatchRequest) offers(t string) bool {
	if len(r.Transfers) == 0 {
		return t == "basic" // the LFS spec's default
	}
	for _, x := range r.Transfers {
		if x == t {
			return true
		}
	}
	return false
}

// parseLFSBatch parses and checks an LFS batch request body.
func parseLFSBatch(b []byte) (*lfsBatchRequest, error) {
	var req lfsBatchRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, badRequest("parse lfs batch: %v", err)
	}
	if req.Operation != "upload" && req.Operation != "download" {
		return nil, badRequest("parse lfs batch: operation %q must be upload or download", req.Operation)
	}
	switch req.HashAlgo {
	case "", "sha256", "sha_256":
	default:
		return nil, badRequest("parse lfs batch: hash_algo %q not supported", req.HashAlgo)
	}
	if !req.offers("basic") && !req.offers("multipart") {
		return nil, badRequest("parse lfs batch: transfers %q: need basic or multipart", req.Transfers)
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxBatchObjects {
		return nil, badRequest("parse lfs batch: %d objects, want 1 to %d", len(req.Objects), maxBatchObjects)
	}
	if req.Ref != nil && req.Ref.Name != "" {
		if err := hf.ValidateRevision(req.Ref.Name); err != nil {
			return nil, badRequest("parse lfs batch: %v", err)
		}
	}
	for _, o := range req.Objects {
		if !isOID(o.OID) {
			return nil, badRequest("parse lfs batch: oid %q is not a sha256", o.OID)
		}
		if o.Size < 0 {
			return nil, badRequest("parse lfs batch: negative size for %q", o.OID)
		}
	}
	return &req, nil
}

// preuploadFile is one entry of a preupload request.
type preuploadFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Sample string `json:"sample"`
}

// parsePreupload parses a preupload request and decodes the samples.
func parsePreupload(b []byte) ([]preuploadFile, [][]byte, error) {
	var req struct {
		Files []preuploadFile `json:"files"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, nil, badRequest("parse preupload: %v", err)
	}
	if len(req.Files) > maxPreuploadFiles {
		return nil, nil, badRequest("parse preupload: %d files, at most %d", len(req.Files), maxPreuploadFiles)
	}
	samples := make([][]byte, len(req.Files))
	for i, f := range req.Files {
		if err := hf.ValidateFilePath(f.Path); err != nil {
			return nil, nil, badRequest("parse preupload: %v", err)
		}
		if f.Size < 0 {
			return nil, nil, badRequest("parse preupload: negative size for %q", f.Path)
		}
		s, err := base64.StdEncoding.DecodeString(f.Sample)
		if err != nil || len(s) > 512 {
			return nil, nil, badRequest("parse preupload: sample of %q must be base64 of at most 512 bytes", f.Path)
		}
		samples[i] = s
	}
	return req.Files, samples, nil
}
