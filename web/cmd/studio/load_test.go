//go:build load

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/web/jobs"
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestLoad: SESSIONS sessions each send RATE live requests per second for SECONDS seconds
// to a studio in a child process, against the burn kind (BURN_US of CPU each). It reports
// the round trip of answered requests (p50, p99), how many were superseded by newer ones
// (latest-wins at work), protocol errors (must be 0) and the server's RSS (must stay bounded).
//
//	go test -tags load -run Load -v ./web/cmd/studio   (STUDIO_LOAD_SESSIONS=100 _RATE=60 _SECONDS=30 _BURN_US=200)
func TestLoad(t *testing.T) {
	sessions := envInt("STUDIO_LOAD_SESSIONS", 100)
	rate := envInt("STUDIO_LOAD_RATE", 60)
	seconds := envInt("STUDIO_LOAD_SECONDS", 30)
	burnUS := envInt("STUDIO_LOAD_BURN_US", 200)
	const rssLimit = 512 << 20

	srv := startChild(t, "--data", t.TempDir(), "--test-jobs")
	_, base := srv.rss()
	cpu0 := srv.cpu()
	params := jobs.BurnParams{MS: float64(burnUS) / 1000}

	var (
		mu        sync.Mutex
		rtts      []time.Duration
		sent      atomic.Int64
		answered  atomic.Int64
		supersede atomic.Int64
		protoErrs atomic.Int64
		lastErr   atomic.Value
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	clients := make([]*client.Client, sessions)
	for i := range clients {
		c, err := client.Dial(context.Background(), "ws://"+srv.addr+"/ws", client.Options{Name: "load"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	var peakRSS int64
	var rssSamples []int64
	go func() {
		for ctx.Err() == nil {
			now, _ := srv.rss()
			mu.Lock()
			rssSamples = append(rssSamples, now)
			peakRSS = max(peakRSS, now)
			mu.Unlock()
			time.Sleep(time.Second)
		}
	}()
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the sessions' ticks over the period.
			time.Sleep(time.Duration(i) * time.Second / time.Duration(rate*sessions))
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				sent.Add(1)
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					rctx, rc := context.WithTimeout(context.Background(), 10*time.Second)
					defer rc()
					t0 := time.Now()
					_, err := c.Live(rctx, "burn", params)
					d := time.Since(t0)
					switch {
					case err == nil:
						answered.Add(1)
						mu.Lock()
						rtts = append(rtts, d)
						mu.Unlock()
					case protocol.CodeOf(err) == protocol.Superseded:
						supersede.Add(1)
					default:
						protoErrs.Add(1)
						if !errors.Is(err, context.Canceled) {
							lastErr.Store(err.Error())
						}
					}
				}()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	_, hwm := srv.rss()
	cpu := srv.cpu() - cpu0
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(rtts)
	pct := func(p float64) time.Duration {
		if len(rtts) == 0 {
			return 0
		}
		return rtts[min(len(rtts)-1, int(p*float64(len(rtts))))]
	}
	t.Logf("%d sessions × %d req/s × %.0f s, burn %d µs: sent %d, answered %d (%.0f/s), superseded %d, protocol errors %d",
		sessions, rate, elapsed.Seconds(), burnUS, sent.Load(), answered.Load(), float64(answered.Load())/elapsed.Seconds(), supersede.Load(), protoErrs.Load())
	t.Logf("round trip of answered requests: p50 %v, p90 %v, p99 %v, max %v", pct(.5), pct(.9), pct(.99), pct(1))
	t.Logf("server RSS: %.1f MiB at start, %.1f MiB peak while loaded (VmHWM %.1f MiB), samples %v MiB",
		float64(base)/(1<<20), float64(peakRSS)/(1<<20), float64(hwm)/(1<<20), mib(rssSamples))
	t.Logf("server CPU: %.1f s in %.0f s (%.0f µs per request sent, burn included)",
		cpu.Seconds(), elapsed.Seconds(), float64(cpu.Microseconds())/float64(sent.Load()))
	if n := protoErrs.Load(); n > 0 {
		t.Errorf("%d protocol errors (last: %v)", n, lastErr.Load())
	}
	if hwm > rssLimit {
		t.Errorf("server RSS peaked at %d MiB, over %d MiB", hwm>>20, rssLimit>>20)
	}
	if answered.Load() == 0 {
		t.Error("nothing answered")
	}
}

func mib(xs []int64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = x >> 20
	}
	return out
}

// rss returns the child's resident set size now and at its peak, in bytes.
func (c *child) rss() (now, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			now = kb << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
	}
	return now, peak
}

// cpu returns the child's user+system CPU time so far (from /proc/PID/stat, 100 Hz ticks).
func (c *child) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}
