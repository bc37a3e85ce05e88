package cuda

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sort"
	"unsafe"
)

// Device is one GPU with its context, a work stream and a caching memory pool. Every method
// except Do and Close must run inside Do, on the device's thread.
type Device struct {
	Ordinal     int
	Name        string
	Major       int // compute capability
	Minor       int
	SMs         int
	SharedOptIn int // bytes of shared memory a block may opt in to (SetMaxSharedMemory)
	TotalMemory uint64
	Driver      int // driver API version, e.g. 13000

	ctx    uintptr
	stream uintptr
	calls  chan func()
	done   chan struct{}

	cache map[uint64][]uint64 // size class -> free device pointers
	held  uint64              // bytes in the cache

	args    []uint64 // launch argument slots, reused (the driver copies them at launch)
	argPtrs []unsafe.Pointer
}

// Device attributes (CUdevice_attribute).
const (
	attrMultiprocessorCount = 16
	attrComputeMajor        = 75
	attrComputeMinor        = 76
	attrSharedOptIn         = 97
)

// Count returns how many CUDA devices the driver sees.
func Count() (int, error) {
	if err := Load(); err != nil {
		return 0, err
	}
	var n int32
	if err := check("cuDeviceGetCount", cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Open starts the device's thread, makes its primary context current there, and creates the
// work stream. The device needs compute capability 8.0 or newer (the PTX targets compute_80).
func Open(ordinal int) (*Device, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	d := &Device{Ordinal: ordinal, calls: make(chan func()), done: make(chan struct{}), cache: map[uint64][]uint64{}}
	started := make(chan error, 1)
	go d.loop(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Device) loop(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	if err := d.init(); err != nil {
		started <- err
		return
	}
	started <- nil
	for f := range d.calls {
		f()
	}
	close(d.done)
}

func (d *Device) init() error {
	var dev, v int32
	if err := check("cuDeviceGet", cuDeviceGet(&dev, int32(d.Ordinal))); err != nil {
		return err
	}
	name := make([]byte, 256)
	if err := check("cuDeviceGetName", cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return err
	}
	d.Name = cstring(&name[0])
	attr := func(a int32) int {
		var x int32
		cuDeviceGetAttribute(&x, a, dev)
		return int(x)
	}
	d.Major, d.Minor, d.SMs = attr(attrComputeMajor), attr(attrComputeMinor), attr(attrMultiprocessorCount)
	d.SharedOptIn = attr(attrSharedOptIn)
	cuDeviceTotalMem(&d.TotalMemory, dev)
	cuDriverGetVersion(&v)
	d.Driver = int(v)
	if d.Major < 8 {
		return fmt.Errorf("%s has compute capability %d.%d; the engine needs 8.0 or newer", d.Name, d.Major, d.Minor)
	}
	if err := check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(&d.ctx, dev)); err != nil {
		return err
	}
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	const nonBlocking = 1
	return check("cuStreamCreate", cuStreamCreate(&d.stream, nonBlocking))
}

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("cuda: device closed")

// Do runs f on the device's thread and returns its error. Calls are serialized, which is also
// how concurrent sessions share one device.
func (d *Device) Do(f func() error) (err error) {
	ch := make(chan error, 1)
	call := func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- fmt.Errorf("cuda: panic on the device thread: %v", r)
			}
		}()
		ch <- f()
	}
	select {
	case <-d.done:
		return ErrClosed
	default:
	}
	defer func() {
		if recover() != nil { // send on a closed channel: the device was closed meanwhile
			err = ErrClosed
		}
	}()
	d.calls <- call
	return <-ch
}

// Close waits for queued work, frees the pool and stops the thread.
func (d *Device) Close() error {
	err := d.Do(func() error {
		r := cuStreamSynchronize(d.stream)
		d.Trim()
		cuStreamDestroy(d.stream)
		return check("close", r)
	})
	close(d.calls)
	<-d.done
	return err
}

// Sync waits for all work queued on the stream.
func (d *Device) Sync() error { return check("cuStreamSynchronize", cuStreamSynchronize(d.stream)) }

// MemoryInfo returns free and total device memory in bytes.
func (d *Device) MemoryInfo() (free, total uint64, err error) {
	err = check("cuMemGetInfo", cuMemGetInfo(&free, &total))
	return
}

// sizeClass rounds n up so that freed buffers are reused by nearby sizes: 256-byte steps up to
// 4 KiB, then four classes per power of two.
func sizeClass(n uint64) uint64 {
	if n <= 4096 {
		return (max(n, 1) + 255) &^ 255
	}
	step := uint64(1) << (bits.Len64(n-1) - 3)
	return (n + step - 1) &^ (step - 1)
}

// Alloc returns device memory of at least n bytes, from the pool when it can. When the device
// is out of memory it frees the pool's cached buffers and tries once more.
func (d *Device) Alloc(n uint64) (ptr uint64, size uint64, err error) {
	size = sizeClass(n)
	if free := d.cache[size]; len(free) > 0 {
		ptr = free[len(free)-1]
		d.cache[size] = free[:len(free)-1]
		d.held -= size
		return ptr, size, nil
	}
	r := cuMemAlloc(&ptr, size)
	if r == errOutOfMemory && d.held > 0 {
		d.Trim()
		r = cuMemAlloc(&ptr, size)
	}
	if r != 0 {
		return 0, 0, fmt.Errorf("allocating %d MiB on %s: %w", size>>20, d.Name, r)
	}
	return ptr, size, nil
}

// Free returns a buffer from Alloc to the pool.
func (d *Device) Free(ptr, size uint64) {
	if ptr != 0 {
		d.cache[size] = append(d.cache[size], ptr)
		d.held += size
	}
}

// Trim gives the pool's cached buffers back to the driver.
func (d *Device) Trim() {
	cuStreamSynchronize(d.stream)
	for k, ptrs := range d.cache {
		for _, p := range ptrs {
			cuMemFree(p)
		}
		delete(d.cache, k)
	}
	d.held = 0
}

// Upload copies host bytes to the device; it returns once the copy is done, so src may be
// reused right away.
func (d *Device) Upload(dst uint64, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	r := cuMemcpyHtoDAsync(dst, unsafe.Pointer(&src[0]), uint64(len(src)), d.stream)
	if r == 0 {
		r = cuStreamSynchronize(d.stream)
	}
	runtime.KeepAlive(src)
	return check("upload", r)
}

// Download copies device bytes to the host after all queued work.
func (d *Device) Download(dst []byte, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	r := cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), src, uint64(len(dst)), d.stream)
	if r == 0 {
		r = cuStreamSynchronize(d.stream)
	}
	runtime.KeepAlive(dst)
	return check("download", r)
}

// Copy queues a device-to-device copy.
func (d *Device) Copy(dst, src, n uint64) error {
	return check("copy", cuMemcpyDtoDAsync(dst, src, n, d.stream))
}

// Fill32 queues setting n 32-bit words to v.
func (d *Device) Fill32(dst uint64, v uint32, n uint64) error {
	return check("fill", cuMemsetD32Async(dst, v, n, d.stream))
}

// Module is loaded PTX.
type Module struct {
	ptr   uintptr
	funcs map[string]*Function
}

// Function is a kernel of a module.
type Function struct {
	Name string
	ptr  uintptr
}

// LoadModule JIT-compiles PTX text for this device. A PTX error returns the JIT's log.
func (d *Device) LoadModule(ptx []byte) (*Module, error) {
	img := append(append([]byte(nil), ptx...), 0)
	logBuf := make([]byte, 8192)
	const optErrorLog, optErrorLogSize = 5, 6
	opts := []int32{optErrorLog, optErrorLogSize}
	// Option values are void*-sized words: a pointer for the log, a plain number for its size.
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	m := &Module{funcs: map[string]*Function{}}
	r := cuModuleLoadDataEx(&m.ptr, unsafe.Pointer(&img[0]), uint32(len(opts)), unsafe.Pointer(&opts[0]), unsafe.Pointer(&vals[0]))
	runtime.KeepAlive(img)
	runtime.KeepAlive(logBuf)
	runtime.KeepAlive(opts)
	if r != 0 {
		return nil, fmt.Errorf("loading PTX on %s (compute %d.%d, driver %d): %w: %s", d.Name, d.Major, d.Minor, d.Driver, r, cstring(&logBuf[0]))
	}
	return m, nil
}

// Function looks a kernel up by its (extern "C") name.
func (m *Module) Function(name string) (*Function, error) {
	if f, ok := m.funcs[name]; ok {
		return f, nil
	}
	cname := append([]byte(name), 0)
	f := &Function{Name: name}
	if err := check("kernel "+name, cuModuleGetFunction(&f.ptr, m.ptr, &cname[0])); err != nil {
		return nil, err
	}
	m.funcs[name] = f
	return f, nil
}

// SetMaxSharedMemory lets a kernel use more than 48 KiB of dynamic shared memory.
func (f *Function) SetMaxSharedMemory(bytes int) error {
	const attrMaxDynamicShared = 8
	return check(f.Name+": shared memory", cuFuncSetAttribute(f.ptr, attrMaxDynamicShared, int32(bytes)))
}

// Dim is a grid or block shape.
type Dim struct{ X, Y, Z uint32 }

// Launch queues a kernel on the device's stream. Arguments are uint64 (device pointers),
// int32, uint32, float32 or int64, passed by value in order, or []byte holding a struct
// parameter's bytes (its C layout).
func (d *Device) Launch(f *Function, grid, block Dim, sharedBytes uint32, args ...any) error {
	if cap(d.args) < len(args) {
		d.args = make([]uint64, len(args)+8)
		d.argPtrs = make([]unsafe.Pointer, len(args)+8)
	}
	slots := d.args[:len(args)]
	for i, a := range args {
		switch v := a.(type) {
		case uint64:
			slots[i] = v
		case int64:
			slots[i] = uint64(v)
		case int32:
			slots[i] = uint64(uint32(v))
		case uint32:
			slots[i] = uint64(v)
		case int:
			if v != int(int32(v)) {
				return fmt.Errorf("%s: argument %d = %d does not fit int32", f.Name, i, v)
			}
			slots[i] = uint64(uint32(int32(v)))
		case float32:
			slots[i] = uint64(*(*uint32)(unsafe.Pointer(&v)))
		case []byte: // the driver copies the struct's bytes at launch
			d.argPtrs[i] = unsafe.Pointer(&v[0])
			continue
		default:
			return fmt.Errorf("%s: argument %d has unsupported type %T", f.Name, i, a)
		}
		d.argPtrs[i] = unsafe.Pointer(&slots[i])
	}
	var params unsafe.Pointer
	if len(args) > 0 {
		params = unsafe.Pointer(&d.argPtrs[0])
	}
	r := cuLaunchKernel(f.ptr, max(grid.X, 1), max(grid.Y, 1), max(grid.Z, 1), max(block.X, 1), max(block.Y, 1), max(block.Z, 1), sharedBytes, d.stream, params, nil)
	runtime.KeepAlive(d.args)
	runtime.KeepAlive(args)
	return check("launch "+f.Name, r)
}

// Graph is a captured sequence of launches and copies, replayed with one call.
type Graph struct {
	d          *Device
	graph, exe uintptr
}

// Capture records what f queues on the stream into a graph instead of running it. f must
// queue work only (no Upload/Download, which synchronize); allocations stay valid because
// replays reuse the same buffers.
func (d *Device) Capture(f func() error) (*Graph, error) {
	if err := d.BeginCapture(); err != nil {
		return nil, err
	}
	return d.EndCapture(f())
}

// BeginCapture starts recording the stream (see Capture); EndCapture finishes it. Between
// them, calls come through Do as usual: this suits callers whose work reaches the device
// thread one Do at a time.
func (d *Device) BeginCapture() error {
	const relaxed = 2
	return check("begin capture", cuStreamBeginCapture(d.stream, relaxed))
}

// EndCapture ends the recording and instantiates the graph; a non-nil ferr (the recorded
// work's own failure) discards it.
func (d *Device) EndCapture(ferr error) (*Graph, error) {
	g := &Graph{d: d}
	eerr := check("end capture", cuStreamEndCapture(d.stream, &g.graph))
	if ferr != nil || eerr != nil {
		if g.graph != 0 {
			cuGraphDestroy(g.graph)
		}
		return nil, errors.Join(ferr, eerr)
	}
	if err := check("instantiate graph", cuGraphInstantiate(&g.exe, g.graph, 0)); err != nil {
		cuGraphDestroy(g.graph)
		return nil, err
	}
	return g, nil
}

// Launch replays the graph on the device's stream.
func (g *Graph) Launch() error { return check("graph launch", cuGraphLaunch(g.exe, g.d.stream)) }

// Destroy frees the graph.
func (g *Graph) Destroy() {
	cuGraphExecDestroy(g.exe)
	cuGraphDestroy(g.graph)
}

// Timer measures device time between two points of the stream.
type Timer struct{ start, end uintptr }

// NewTimer creates the two events.
func (d *Device) NewTimer() (*Timer, error) {
	t := &Timer{}
	if err := check("event", cuEventCreate(&t.start, 0)); err != nil {
		return nil, err
	}
	if err := check("event", cuEventCreate(&t.end, 0)); err != nil {
		return nil, err
	}
	return t, nil
}

// Start and Stop record the events on the stream.
func (d *Device) Start(t *Timer) error { return check("record", cuEventRecord(t.start, d.stream)) }
func (d *Device) Stop(t *Timer) error  { return check("record", cuEventRecord(t.end, d.stream)) }

// Milliseconds waits for the end event and returns the time between the events.
func (t *Timer) Milliseconds() (float32, error) {
	if err := check("event sync", cuEventSynchronize(t.end)); err != nil {
		return 0, err
	}
	var ms float32
	err := check("elapsed", cuEventElapsedTime(&ms, t.start, t.end))
	return ms, err
}

// Destroy frees the events.
func (t *Timer) Destroy() {
	cuEventDestroy(t.start)
	cuEventDestroy(t.end)
}

// PoolStats reports cached bytes by size class (for tests and logs).
func (d *Device) PoolStats() (held uint64, classes []uint64) {
	for k, v := range d.cache {
		if len(v) > 0 {
			classes = append(classes, k)
		}
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	return d.held, classes
}
