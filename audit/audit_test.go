package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/internal/testenv"
)

// copyTrainer "trains" by copying the starting model (no engine needed).
type copyTrainer struct{}

func (copyTrainer) Train(_ context.Context, job demorun.TrainJob) (demorun.TrainResult, error) {
	dst := filepath.Join(job.Out, "model")
	if err := modeldir.CopyFiles(job.Init, dst); err != nil {
		return demorun.TrainResult{}, err
	}
	return demorun.TrainResult{Model: dst, LossStart: 5, LossEnd: 4}, nil
}

// contentScorer stands in for the engine: a sample's loss depends on the
// model's config.json and the sample's tokens only, wherever the model
// lives, so the validator and the auditor compute the same values.
type contentScorer struct{}

func (contentScorer) Score(ctx context.Context, job *eval.EvalJob, _ func(int, int)) ([]float64, error) {
	cfg, err := os.ReadFile(filepath.Join(job.Dir, "config.json"))
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(job.Samples))
	for i, s := range job.Samples {
		if s == nil {
			out[i] = math.Inf(1)
			continue
		}
		h := fnv.New64a()
		h.Write(cfg)
		fmt.Fprint(h, s)
		out[i] = float64(h.Sum64()%1000)/100 + float64(len(s))
	}
	return out, nil
}

type demoEnv struct {
	dir  string
	res  *demorun.Result
	opts Options
}

// runDemo runs the demo pipeline (devchain, dirhub, validator publishing
// its steps) without the engine, and returns audit options against it.
func runDemo(t *testing.T) *demoEnv {
	t.Helper()
	if _, err := os.Stat("/usr/share/doc/jargon-text/jargon.txt.gz"); err != nil {
		testenv.Missing(t, "corpus Debian packages are not installed (make setup-data)")
	}
	dir := t.TempDir()
	res, err := demorun.Run(context.Background(), demorun.Options{Dir: dir, Miners: 3, Steps: 2, TrainSteps: 2,
		Trainer: copyTrainer{}, Scorer: contentScorer{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := dirhub.Open(filepath.Join(dir, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	e := &demoEnv{dir: dir, res: res}
	e.opts = Options{Hub: h, Scorer: contentScorer{}, CacheDir: t.TempDir(),
		Texts: func(ctx context.Context, dataset string) (data.Source, error) {
			if dataset != "local" {
				return nil, fmt.Errorf("no source for %q", dataset)
			}
			return data.OpenLocal(ctx, []string{filepath.Join(dir, "corpus")}, data.LocalOptions{})
		}}
	return e
}

func (e *demoEnv) withChain(t *testing.T, published string) Options {
	t.Helper()
	node, err := devchain.Open(context.Background(), devchain.Options{Path: filepath.Join(e.dir, "chain", "devchain.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	o := e.opts
	o.Chain, o.Netuid = node, e.res.Netuid
	o.Previous = func(ctx context.Context, step uint64) (*evalproof.Manifest, error) {
		s, err := evalproof.Load(ctx, evalproof.DirGetter(filepath.Join(published, evalproof.StepDir(step))))
		if err != nil {
			return nil, err
		}
		return &s.Manifest, nil
	}
	return o
}

func load(t *testing.T, dir string) *evalproof.Step {
	t.Helper()
	s, err := evalproof.Load(context.Background(), evalproof.DirGetter(dir))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper changes uid's loss on sample k of the first competition in the
// step folder dir; reseal recomputes the roots as a cheater would.
func tamper(t *testing.T, dir string, k int, reseal bool) (uid uint16) {
	t.Helper()
	s := load(t, dir)
	c := &s.Competitions[0]
	for i := range c.Models {
		if c.Models[i].Losses != nil {
			c.Models[i].Losses[k] -= 0.5
			uid = c.Models[i].UID
			break
		}
	}
	if reseal {
		if err := s.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.MarshalIndent(c, "", " ")
	if err := os.WriteFile(filepath.Join(dir, "competition-0.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	mb, _ := json.MarshalIndent(&s.Manifest, "", " ")
	if err := os.WriteFile(filepath.Join(dir, evalproof.ManifestFile), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	return uid
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, r), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, r), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func text(r *Report) string {
	var b bytes.Buffer
	r.WriteText(&b)
	return b.String()
}

func disputed(r *Report, uid uint16, k int) *Dispute {
	for _, c := range r.Competitions {
		for _, m := range c.Models {
			for i := range m.Disputes {
				if m.UID == uid && m.Disputes[i].Index == k {
					return &m.Disputes[i]
				}
			}
		}
	}
	return nil
}

var _ = errors.Is
var _ = strings.Contains
