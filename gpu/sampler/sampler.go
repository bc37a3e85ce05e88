// Package sampler holds k-diffusion style samplers: each is one short function over
// (model, x, sigmas), the noise schedule is data, and inpainting is a wrapper around any of
// them (see inpaint.go).
//
// A schedule may go up as well as down: a step to a larger sigma re-noises x to that level
// (x += sqrt(σ'² − σ²)·ε) and clears the sampler's history. That is how RePaint jumps
// (RePaint builds such a schedule) run through every sampler unchanged.
package sampler

import (
	"context"
	"fmt"
	"math"
)

// Model is the denoiser D(x; σ): the model's estimate of the clean data for a noisy batch x
// (any flat layout; the model knows the shape). It must not keep or modify x.
type Model func(x []float32, sigma float64) ([]float32, error)

// Noise fills out with standard normal values that depend only on the seed it was made with
// and on step, so a run is reproducible and the same on every backend.
type Noise func(step int, out []float32)

// Sampler integrates x from sigmas[0] down the schedule and returns the result (x is updated
// in place and returned). ctx is checked between steps.
type Sampler func(ctx context.Context, model Model, x []float32, sigmas []float64, noise Noise) ([]float32, error)

// ByName returns a sampler: "euler", "dpm++2m" or "dpm++2m-sde".
func ByName(name string) (Sampler, error) {
	switch name {
	case "euler":
		return Euler, nil
	case "dpm++2m", "dpmpp2m":
		return DPMPP2M, nil
	case "dpm++2m-sde", "dpmpp2m-sde":
		return DPMPP2MSDE, nil
	}
	return nil, fmt.Errorf("unknown sampler %q: use euler, dpm++2m or dpm++2m-sde", name)
}

// Karras is the schedule of Karras et al. (2022): n sigmas from sigmaMax to sigmaMin spaced
// evenly in sigma^(1/rho), then a final 0.
func Karras(n int, sigmaMin, sigmaMax, rho float64) []float64 {
	s := make([]float64, n+1)
	lo, hi := math.Pow(sigmaMin, 1/rho), math.Pow(sigmaMax, 1/rho)
	for i := 0; i < n; i++ {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		s[i] = math.Pow(hi+t*(lo-hi), rho)
	}
	return s
}

// renoise raises x from sigma to next > sigma with fresh noise.
func renoise(x []float32, sigma, next float64, noise Noise, step int, buf []float32) {
	noise(step, buf)
	a := float32(math.Sqrt(next*next - sigma*sigma))
	for i := range x {
		x[i] += a * buf[i]
	}
}

// Euler is the first-order deterministic sampler: x += (x − D)/σ · (σ' − σ).
func Euler(ctx context.Context, model Model, x []float32, sigmas []float64, noise Noise) ([]float32, error) {
	buf := make([]float32, len(x))
	for i := 0; i+1 < len(sigmas); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, next := sigmas[i], sigmas[i+1]
		if next > s {
			renoise(x, s, next, noise, i, buf)
			continue
		}
		d, err := model(x, s)
		if err != nil {
			return nil, err
		}
		r := float32(next / s) // x + (x−d)(next−s)/s = d + (x−d)·next/s
		for j := range x {
			x[j] = d[j] + (x[j]-d[j])*r
		}
	}
	return x, nil
}

// DPMPP2M is DPM-Solver++(2M) (Lu et al. 2022), k-diffusion's sample_dpmpp_2m.
func DPMPP2M(ctx context.Context, model Model, x []float32, sigmas []float64, noise Noise) ([]float32, error) {
	buf := make([]float32, len(x))
	var old, hist []float32 // hist owns the previous D (the model may reuse its output)
	hLast := 0.0
	for i := 0; i+1 < len(sigmas); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, next := sigmas[i], sigmas[i+1]
		if next > s {
			renoise(x, s, next, noise, i, buf)
			old = nil
			continue
		}
		d, err := model(x, s)
		if err != nil {
			return nil, err
		}
		if next == 0 {
			copy(x, d)
			old = nil
			continue
		}
		h := math.Log(s) - math.Log(next)
		a, b := float32(next/s), float32(-math.Expm1(-h))
		if old == nil {
			for j := range x {
				x[j] = a*x[j] + b*d[j]
			}
		} else {
			r := hLast / h
			c1, c2 := float32(1+1/(2*r)), float32(1/(2*r))
			for j := range x {
				x[j] = a*x[j] + b*(c1*d[j]-c2*old[j])
			}
		}
		old, hLast = append(hist[:0], d...), h
		hist = old
	}
	return x, nil
}

// DPMPP2MSDE is DPM-Solver++(2M) SDE with eta = 1 and the midpoint correction (k-diffusion's
// sample_dpmpp_2m_sde): each step adds fresh noise, which gives livelier results.
func DPMPP2MSDE(ctx context.Context, model Model, x []float32, sigmas []float64, noise Noise) ([]float32, error) {
	buf := make([]float32, len(x))
	var old, hist []float32 // hist owns the previous D (the model may reuse its output)
	hLast := 0.0
	for i := 0; i+1 < len(sigmas); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, next := sigmas[i], sigmas[i+1]
		if next > s {
			renoise(x, s, next, noise, i, buf)
			old = nil
			continue
		}
		d, err := model(x, s)
		if err != nil {
			return nil, err
		}
		if next == 0 {
			copy(x, d)
			old = nil
			continue
		}
		h := math.Log(s) - math.Log(next)
		a := float32(next / s * math.Exp(-h))
		b := float32(-math.Expm1(-2 * h))
		for j := range x {
			x[j] = a*x[j] + b*d[j]
		}
		if old != nil {
			c := float32(0.5 * -math.Expm1(-2*h) * h / hLast)
			for j := range x {
				x[j] += c * (d[j] - old[j])
			}
		}
		noise(i, buf)
		g := float32(next * math.Sqrt(-math.Expm1(-2*h)))
		for j := range x {
			x[j] += g * buf[j]
		}
		old, hLast = append(hist[:0], d...), h
		hist = old
	}
	return x, nil
}
