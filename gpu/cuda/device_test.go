package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"latentstudio/gpu"
)

// addOne adds 1 to n floats in place; hand-written PTX keeps this test independent of the
// engine's kernels.
const addOnePTX = `
.version 8.0
.target sm_80
.address_size 64
.visible .entry add_one(.param .u64 p, .param .u32 n)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .b64 %rd<5>;
	.reg .f32 %f<3>;
	ld.param.u64 %rd1, [p];
	ld.param.u32 %r1, [n];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	setp.ge.u32 %p1, %r5, %r1;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd2, %rd1;
	mul.wide.u32 %rd3, %r5, 4;
	add.s64 %rd4, %rd2, %rd3;
	ld.global.f32 %f1, [%rd4];
	add.f32 %f2, %f1, 0f3F800000;
	st.global.f32 [%rd4], %f2;
DONE:
	ret;
}
`

func openOrSkip(t *testing.T) *Device {
	t.Helper()
	d, err := Open(0)
	if err != nil {
		if errors.Is(err, ErrNoGPU) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestNoDriverIsAClearError(t *testing.T) {
	if err := Load(); err == nil {
		t.Skip("a driver is installed here")
	} else if !strings.Contains(err.Error(), "NVIDIA driver") {
		t.Errorf("unclear error: %v", err)
	}
	if _, err := Open(0); err == nil {
		t.Error("Open succeeded without a driver")
	}
}

func floats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestLaunchGraphAndTimer(t *testing.T) {
	d := openOrSkip(t)
	t.Logf("%s, compute %d.%d, %d SMs, %d MiB, driver %d", d.Name, d.Major, d.Minor, d.SMs, d.TotalMemory>>20, d.Driver)
	const n = 1000
	err := d.Do(func() error {
		m, err := d.LoadModule([]byte(addOnePTX))
		if err != nil {
			return err
		}
		f, err := m.Function("add_one")
		if err != nil {
			return err
		}
		ptr, size, err := d.Alloc(4 * n)
		if err != nil {
			return err
		}
		defer d.Free(ptr, size)
		host := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(host[4*i:], math.Float32bits(float32(i)))
		}
		if err := d.Upload(ptr, host); err != nil {
			return err
		}
		if err := d.Launch(f, Dim{X: (n + 255) / 256}, Dim{X: 256}, 0, ptr, uint32(n)); err != nil {
			return err
		}
		g, err := d.Capture(func() error {
			for i := 0; i < 3; i++ {
				if err := d.Launch(f, Dim{X: (n + 255) / 256}, Dim{X: 256}, 0, ptr, uint32(n)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		defer g.Destroy()
		tm, err := d.NewTimer()
		if err != nil {
			return err
		}
		defer tm.Destroy()
		d.Start(tm)
		for i := 0; i < 2; i++ { // two replays of three launches: +6
			if err := g.Launch(); err != nil {
				return err
			}
		}
		d.Stop(tm)
		ms, err := tm.Milliseconds()
		if err != nil {
			return err
		}
		t.Logf("two graph replays: %.3f ms", ms)
		if err := d.Download(host, ptr); err != nil {
			return err
		}
		for i, v := range floats(host) {
			if v != float32(i)+7 {
				t.Fatalf("element %d = %g, want %g", i, v, float32(i)+7)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutOfMemoryAndBadPTX(t *testing.T) {
	d := openOrSkip(t)
	err := d.Do(func() error {
		_, _, err := d.Alloc(1 << 50)
		if !IsOutOfMemory(err) {
			t.Errorf("1 PiB allocation: %v, want out of memory", err)
		}
		_, err = d.LoadModule([]byte(".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry broken( {"))
		if err == nil {
			t.Error("broken PTX loaded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSizeClassesReuse(t *testing.T) {
	for _, n := range []uint64{1, 255, 256, 4096, 4097, 1 << 20, 3<<20 + 1, 1<<30 + 7} {
		c := sizeClass(n)
		if c < n || (n > 4096 && float64(c) > 1.25*float64(n)+1) {
			t.Errorf("sizeClass(%d) = %d", n, c)
		}
		if sizeClass(c) != c {
			t.Errorf("class %d not stable", c)
		}
	}
}

// Without a driver, auto picks the CPU and its one log line says why (the server's case on a
// machine with no GPU; CI runs this).
func TestAutoWithoutDriverFallsBackToCPU(t *testing.T) {
	if err := Load(); err == nil {
		t.Skip("a driver is installed here")
	}
	// the cpu backend is registered by backend_test.go's import
	var lines []string
	old := gpu.Logf
	gpu.Logf = func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	defer func() { gpu.Logf = old }()
	be, err := gpu.Open("auto")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if in := be.Info(); in.Backend != "cpu" || !strings.Contains(in.Reason, ErrNoGPU.Error()) {
		t.Errorf("auto without a driver: %+v", in)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "cpu backend") || !strings.Contains(lines[0], "cuda unavailable: "+ErrNoGPU.Error()) {
		t.Errorf("log lines %q: want one saying the CPU runs because the driver is missing", lines)
	}
	if _, err := gpu.Open("cuda"); err == nil || !strings.Contains(err.Error(), ErrNoGPU.Error()) {
		t.Errorf("cuda chosen without a driver: %v", err)
	}
}
