package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
)

// ParseDType reads a weight dtype as a miner spells it: bf16, f16 or f32
// (and their long names).
func ParseDType(s string) (safetensors.DType, error) {
	switch strings.ToLower(s) {
	case "bf16", "bfloat16":
		return safetensors.BF16, nil
	case "f16", "fp16", "float16":
		return safetensors.F16, nil
	case "f32", "fp32", "float32":
		return safetensors.F32, nil
	}
	return "", fmt.Errorf("parse dtype %q: want bf16, f16 or f32", s)
}

// UploadDir returns the folder to upload for the model folder dir in dt: dir
// itself when dt is empty, else a copy converted to dt next to it
// (<dir>.<dtype>), made once and reused by later runs.
func UploadDir(ctx context.Context, dir string, dt safetensors.DType) (string, error) {
	if dt == "" {
		return dir, nil
	}
	conv := filepath.Clean(dir) + "." + strings.ToLower(string(dt))
	if _, err := os.Stat(conv); err == nil {
		return conv, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := ConvertDType(ctx, dir, conv, dt); err != nil {
		return "", fmt.Errorf("convert %q to %s: %w", dir, dt, err)
	}
	return conv, nil
}

// ConvertDType writes a copy of the model folder src with its weights in dt
// into a new folder dst (written whole or not at all). The config's
// torch_dtype follows; the other files a validator downloads are copied.
func ConvertDType(ctx context.Context, src, dst string, dt safetensors.DType) error {
	cfg, err := hf.LoadModelConfig(src)
	if err != nil {
		return err
	}
	set, err := safetensors.OpenDir(src)
	if err != nil {
		return err
	}
	defer set.Close()
	var tensors []safetensors.Tensor
	for _, info := range set.Tensors() {
		if err := ctx.Err(); err != nil {
			return err
		}
		vals, shape, err := set.ReadFloat32(info.Name)
		if err != nil {
			return err
		}
		t, err := safetensors.Float32Tensor(info.Name, dt, shape, vals)
		if err != nil {
			return err
		}
		tensors = append(tensors, t)
	}
	cfg.TorchDtype = map[safetensors.DType]string{safetensors.BF16: "bfloat16", safetensors.F16: "float16", safetensors.F32: "float32"}[dt]
	return modeldir.WriteDir(dst, func(tmp string) error {
		if err := modeldir.WriteFiles(tmp, cfg, tensors, ""); err != nil {
			return err
		}
		for _, f := range modelhash.OptionalFiles {
			if f == hf.ConfigFile {
				continue
			}
			if err := copyIfExists(filepath.Join(src, f), filepath.Join(tmp, f)); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyIfExists copies src to dst; a missing src is no error.
func copyIfExists(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
