package model

import (
	"fmt"
	"math"

	"github.com/coldint/coldint/hf"
)

// invFreq returns the rotary inverse frequencies of transformers 4.44
// (modeling_rope_utils) for the default, linear and llama3 rope types:
// inv_freq[i] = 1/theta^(2i/d), divided by factor for linear, and the llama3
// wavelength-dependent smoothing for llama3. For Phi-3 longrope they are the
// short-factor frequencies (see longRoPE for the long ones).
func invFreq(cfg *hf.ModelConfig) ([]float64, error) {
	if short, _, _, _ := cfg.LongRoPE(); short != nil {
		return longropeInvFreq(cfg, short), nil // Phi-3 longrope's short factors
	}
	d := cfg.HeadDim()
	inv := make([]float64, d/2)
	theta := float64(float32(cfg.RopeTheta))
	for i := range inv {
		// torch: 1.0 / (base ** (arange(0, d, 2).float() / d)) in float32
		e := float32(2*i) / float32(d)
		inv[i] = float64(float32(1 / float64(float32(math.Pow(theta, float64(e))))))
	}
	rs := cfg.RopeScaling
	switch k := rs.Kind(); k {
	case "", "default":
		return inv, nil
	case "linear":
		for i := range inv {
			inv[i] = float64(float32(inv[i] / rs.Factor))
		}
		return inv, nil
	case "llama3":
		factor, low, high := rs.Factor, rs.LowFreqFactor, rs.HighFreqFactor
		old := float64(rs.OriginalMaxPositionEmbeddings)
		lowWavelen, highWavelen := old/low, old/high
		for i, f := range inv {
			wavelen := 2 * math.Pi / f
			v := f
			if wavelen > lowWavelen {
				v = f / factor
			}
			if !(wavelen < highWavelen) && !(wavelen > lowWavelen) {
				smooth := (old/wavelen - low) / (high - low)
				v = (1-smooth)*v/factor + smooth*v
			}
			inv[i] = float64(float32(v))
		}
		return inv, nil
	default:
		return nil, fmt.Errorf("rope_scaling type %q is not supported (want default, linear or llama3)", k)
	}
}

// longRoPE returns Phi-3 longrope's long-factor inverse frequencies, the
// position count beyond which they apply and the cos/sin magnitude scale;
// nil, 0, 1 for every other config.
func longRoPE(cfg *hf.ModelConfig) (long []float64, switchAt int, mscale float32) {
	short, longF, orig, ms := cfg.LongRoPE()
	if short == nil {
		return nil, 0, 1
	}
	return longropeInvFreq(cfg, longF), orig, float32(ms)
}

// longropeInvFreq is Phi3LongRoPEScaledRotaryEmbedding's
// 1/(ext_factors · theta^(2i/d)), in float32 like torch.
func longropeInvFreq(cfg *hf.ModelConfig, ext []float64) []float64 {
	d := cfg.HeadDim()
	inv := make([]float64, d/2)
	theta := float64(float32(cfg.RopeTheta))
	for i := range inv {
		e := float32(2*i) / float32(d)
		den := float32(ext[i]) * float32(math.Pow(theta, float64(e)))
		inv[i] = float64(float32(1 / float64(den)))
	}
	return inv
}

// ropeTables returns cos and sin tables of n positions × head_dim in the
// layout of transformers (emb = cat(freqs, freqs)). Both are multiplied by
// mscale (longrope's magnitude, rounded to float32 first as torch does) and
// then by scale (the query tables fold in 1/sqrt(head_dim)); sin's first
// half is negated so that rotate_half(x)·sin = swap_halves(x)·sinSigned.
func ropeTables(inv []float64, n int, mscale, scale float32) (cos, sinSigned []float32) {
	half := len(inv)
	d := 2 * half
	cos = make([]float32, n*d)
	sinSigned = make([]float32, n*d)
	for p := 0; p < n; p++ {
		row := p * d
		for i, f := range inv {
			fr := float32(p) * float32(f) // torch: inv_freq @ positions in float32
			c := float32(math.Cos(float64(fr))) * mscale
			s := float32(math.Sin(float64(fr))) * mscale
			cos[row+i] = c * scale
			cos[row+half+i] = c * scale
			sinSigned[row+i] = -s * scale
			sinSigned[row+half+i] = s * scale
		}
	}
	return cos, sinSigned
}
