package gpu

import (
	"context"
	"fmt"
	"sort"
	"time"
	"unsafe"
)

// Context runs ops on one backend for one goroutine. Each op checks shapes, allocates its
// output from the context's arena and queues the backend kernel. The first error (a shape
// mismatch naming the op and the shapes, a kernel failure, or the cancellation of ctx) is kept;
// later ops do nothing and return placeholder tensors, and Err/Sync/Download report it. So model
// code reads as straight-line math and checks the error once per step.
//
// The arena hands out the same buffers in the same order on every pass: call Reset before each
// forward pass of the same shapes and no allocation happens after the first (the CPU reuses
// its buffers; CUDA can capture the pass once into a graph and replay it, see Replay).
type Context struct {
	be     Backend
	ctx    context.Context
	err    error
	arena  arena
	graphs map[string]*replay

	prof      map[string]*OpStat // nil unless profiling
	profStart time.Time
}

// OpStat is the time spent in one op (by name) while profiling.
type OpStat struct {
	Op    string
	Calls int
	Time  time.Duration
}

// SetProfile turns per-op timing on or off (and clears it). While on, every op waits for its
// kernel (Sync), so the times are real on asynchronous backends too, and passes run slower.
func (c *Context) SetProfile(on bool) {
	c.prof = nil
	if on {
		c.prof = map[string]*OpStat{}
	}
}

// Profile returns the per-op times since SetProfile(true), largest first.
func (c *Context) Profile() []OpStat {
	var out []OpStat
	for _, s := range c.prof {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

// NewContext makes a context on be. ctx cancels the work: after it is done, ops stop and Err
// returns ctx's error.
func NewContext(ctx context.Context, be Backend) *Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return &Context{be: be, ctx: ctx, graphs: map[string]*replay{}}
}

// SetContext replaces the context.Context that cancels the work (one per request) and clears
// the error, keeping the arena, its plan and any captured graphs: a session keeps one Context
// across requests and calls SetContext at the start of each.
func (c *Context) SetContext(ctx context.Context) {
	if ctx == nil {
		ctx = context.Background()
	}
	c.ctx, c.err = ctx, nil
}

// Backend returns the backend the context runs on.
func (c *Context) Backend() Backend { return c.be }

// Err returns the first error so far (including cancellation), without waiting for queued work.
func (c *Context) Err() error {
	if c.err == nil {
		if err := c.ctx.Err(); err != nil {
			c.err = err
		}
	}
	return c.err
}

// Sync waits for queued work and returns the first error.
func (c *Context) Sync() error {
	if c.Err() != nil {
		return c.err
	}
	if err := c.be.Sync(); err != nil {
		c.err = fmt.Errorf("sync: %w", err)
	}
	return c.err
}

// Reset starts a new pass: the arena hands out its buffers again from the first, and the error
// is cleared. Tensors from the previous pass must not be used after Reset. After a pass that
// allocated new buffers, Reset plans the arena: tensors whose lifetimes do not overlap (from
// allocation to last use as an op input or a download) share one buffer, so a pass holds
// about its peak of live tensors rather than all of them.
func (c *Context) Reset() {
	if c.arena.dirty {
		c.plan()
	}
	c.arena.next, c.arena.clock = 0, 0
	c.err = nil
}

// Close frees the arena and any captured graphs.
func (c *Context) Close() {
	for _, g := range c.graphs {
		if g.graph != nil {
			g.graph.Destroy()
		}
	}
	c.graphs = nil
	for _, b := range c.arena.phys {
		c.be.Free(b.s)
	}
	c.arena = arena{}
}

// ArenaStats reports how many buffers the arena holds, their total bytes, and how many
// allocations missed (needed a new buffer from the backend) since the context was made.
func (c *Context) ArenaStats() (buffers int, bytes int64, misses int) {
	for _, b := range c.arena.phys {
		bytes += int64(b.s.Bytes())
	}
	return len(c.arena.phys), bytes, c.arena.misses
}

// arenaSlot is the n-th allocation of a pass; born and last are clock values of the last pass.
type arenaSlot struct {
	dt         DType
	elems      int
	phys       int
	born, last int
}

type physBuf struct {
	dt    DType
	elems int
	s     Storage
}

type arena struct {
	slots  []arenaSlot
	phys   []physBuf
	owner  []int // per buffer: the slot that last took it in this pass
	next   int
	clock  int  // advances by one per allocation
	dirty  bool // this pass made new slots: plan at Reset
	misses int
}

// use records that t is read by the op about to allocate its output (or by a download), so
// the output never shares t's buffer. A tensor read after the plan gave its buffer to a later
// tensor (the pass reads tensors in a different pattern than the pass that was planned) is an
// error for this pass; the next Reset plans again with the new lifetimes.
func (c *Context) use(t *Tensor) {
	a := &c.arena
	if t == nil || t.slot <= 0 || t.slot > len(a.slots) {
		return
	}
	s := &a.slots[t.slot-1]
	s.last = max(s.last, a.clock+1)
	if a.owner[s.phys] != t.slot-1 {
		a.dirty = true
		c.fail(fmt.Errorf("gpu: %v (arena slot %d) was read after its buffer was reused: this pass reads tensors later than the pass the arena was planned on; the next pass replans", t, t.slot-1))
	}
}

// plan maps slots onto shared buffers: in allocation order, a slot takes a buffer of its dtype
// and size whose previous occupant was last used before the slot was born. Existing buffers are
// kept where the plan needs them, so planning allocates nothing when buffers suffice.
func (c *Context) plan() {
	a := &c.arena
	type key struct {
		dt    DType
		elems int
	}
	old := map[key][]Storage{}
	for _, p := range a.phys {
		k := key{p.dt, p.elems}
		old[k] = append(old[k], p.s)
	}
	var phys []physBuf
	freeAt := []int{}
	for i := range a.slots {
		s := &a.slots[i]
		s.phys = -1
		for j, p := range phys {
			if p.dt == s.dt && p.elems == s.elems && freeAt[j] < s.born {
				s.phys = j
				break
			}
		}
		if s.phys < 0 {
			k := key{s.dt, s.elems}
			var st Storage
			if l := old[k]; len(l) > 0 {
				st, old[k] = l[len(l)-1], l[:len(l)-1]
			} else {
				var err error
				if st, err = c.be.Alloc(s.dt, s.elems); err != nil {
					c.fail(fmt.Errorf("gpu: planning the arena: %w", err))
					return
				}
				a.misses++
			}
			phys = append(phys, physBuf{s.dt, s.elems, st})
			freeAt = append(freeAt, 0)
			s.phys = len(phys) - 1
		}
		freeAt[s.phys] = max(s.last, s.born)
	}
	for _, l := range old {
		for _, st := range l {
			c.be.Free(st)
		}
	}
	a.phys, a.dirty = phys, false
	a.owner = make([]int, len(phys))
	for k := range c.graphs { // captured graphs point at the old buffers
		if g := c.graphs[k]; g.graph != nil {
			g.graph.Destroy()
		}
		delete(c.graphs, k)
	}
}

// ok reports whether ops should still run.
func (c *Context) ok() bool { return c.Err() == nil }

// fail keeps the first error.
func (c *Context) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// failf records a shape/argument error for op.
func (c *Context) failf(op, format string, args ...any) {
	c.fail(&OpError{Op: op, Msg: fmt.Sprintf(format, args...)})
}

// OpError is a bad call of an op: wrong shapes, dtypes or arguments.
type OpError struct {
	Op  string
	Msg string
}

func (e *OpError) Error() string { return "gpu: " + e.Op + ": " + e.Msg }

// dead is the placeholder returned after an error: it has the expected shape when known (so
// model code that reads dims does not panic) and no storage.
func dead(shape Shape) *Tensor {
	if shape == nil {
		shape = Shape{0, 0, 0, 0, 0, 0, 0, 0}
	}
	return &Tensor{shape: shape.Clone()}
}

// alloc takes the arena's next slot: its planned buffer when the pass repeats the last one,
// else (a new or changed pass) a buffer of its own until the next Reset plans again.
func (c *Context) alloc(op string, dt DType, shape Shape) *Tensor {
	if c.prof != nil {
		c.profStart = time.Now()
	}
	n := shape.Elems()
	a := &c.arena
	a.clock++
	i := a.next
	if i < len(a.slots) && a.slots[i].dt == dt && a.slots[i].elems == n && !a.dirty {
		s := &a.slots[i]
		s.born, s.last = a.clock, a.clock
		a.owner[s.phys] = i
		a.next++
		return &Tensor{shape: shape.Clone(), dtype: dt, buf: a.phys[s.phys].s, slot: i + 1}
	}
	// The pass differs from the planned one: from here on every slot gets its own buffer.
	a.slots = a.slots[:i]
	a.dirty = true
	s, err := c.be.Alloc(dt, n)
	if err != nil {
		c.fail(fmt.Errorf("gpu: %s: allocating %s%v: %w", op, dt, shape, err))
		return dead(shape)
	}
	a.misses++
	a.phys = append(a.phys, physBuf{dt, n, s})
	a.owner = append(a.owner, i)
	a.slots = append(a.slots, arenaSlot{dt: dt, elems: n, phys: len(a.phys) - 1, born: a.clock, last: a.clock})
	a.next++
	return &Tensor{shape: shape.Clone(), dtype: dt, buf: s, slot: i + 1}
}

// run calls a kernel and records its error (and, while profiling, its time since alloc).
func (c *Context) run(op string, out *Tensor, err error) *Tensor {
	if err != nil {
		c.fail(fmt.Errorf("gpu: %s: %w", op, err))
	}
	if c.prof != nil {
		if serr := c.be.Sync(); serr != nil {
			c.fail(fmt.Errorf("gpu: %s: %w", op, serr))
		}
		st := c.prof[op]
		if st == nil {
			st = &OpStat{Op: op}
			c.prof[op] = st
		}
		st.Calls++
		st.Time += time.Since(c.profStart)
	}
	return out
}

// live checks that inputs are real tensors (not nil, not placeholders) of dtype F32.
func (c *Context) live(op string, ts ...*Tensor) bool {
	if !c.ok() {
		return false
	}
	for i, t := range ts {
		if t == nil {
			c.failf(op, "input %d is nil", i)
			return false
		}
		if t.buf == nil {
			c.failf(op, "input %d (%v) has no storage (made after an earlier error?)", i, t)
			return false
		}
		if t.dtype != F32 {
			c.failf(op, "input %d is %v: ops take F32 (Cast first)", i, t)
			return false
		}
	}
	for _, t := range ts {
		c.use(t)
	}
	return true
}

// Upload copies host float32 data into a new arena tensor.
func (c *Context) Upload(data []float32, shape ...int) *Tensor {
	s := Shape(shape)
	if !c.ok() {
		return dead(s)
	}
	if !s.valid() || s.Elems() != len(data) {
		c.failf("upload", "%d values for shape %v", len(data), s)
		return dead(nil)
	}
	t := c.alloc("upload", F32, s)
	if !c.ok() {
		return t
	}
	return c.run("upload", t, c.be.Write(t, f32Bytes(data), F32))
}

// Write overwrites t's contents with host data (len(data) == t.Elems()); use it to refill an
// input tensor before a Replay.
func (c *Context) Write(t *Tensor, data []float32) {
	if !c.live("write", t) {
		return
	}
	if len(data) != t.Elems() {
		c.failf("write", "%d values for %v", len(data), t)
		return
	}
	c.use(t)
	if c.prof != nil {
		c.profStart = time.Now()
	}
	c.run("write", t, c.be.Write(t, f32Bytes(data), F32))
}

// Download waits for the work queued so far and returns t's values as float32.
func (c *Context) Download(t *Tensor) ([]float32, error) {
	if c.Err() != nil {
		return nil, c.err
	}
	out := make([]float32, t.Elems())
	return out, c.DownloadInto(out, t)
}

// DownloadInto is Download into a caller's slice of t.Elems() values.
func (c *Context) DownloadInto(dst []float32, t *Tensor) error {
	if c.Err() != nil {
		return c.err
	}
	if t == nil || t.buf == nil {
		c.failf("download", "tensor %v has no storage", t)
		return c.err
	}
	if len(dst) != t.Elems() {
		c.failf("download", "destination holds %d values, tensor %v has %d", len(dst), t, t.Elems())
		return c.err
	}
	c.use(t)
	if err := c.be.Read(dst, t); err != nil {
		c.fail(fmt.Errorf("gpu: download %v: %w", t, err))
	}
	return c.Err()
}

// NewWeight uploads a persistent tensor (a weight) that outlives contexts and is shared by
// them. data holds little-endian elements of type dt; the backend may store another type (the
// CPU backend converts F16/BF16 to F32). Free it with FreeTensor.
func NewWeight(be Backend, dt DType, data []byte, shape ...int) (*Tensor, error) {
	s := Shape(shape)
	if !s.valid() || len(data) != s.Elems()*dt.Size() {
		return nil, fmt.Errorf("gpu: weight %s%v needs %d bytes, got %d", dt, s, s.Elems()*dt.Size(), len(data))
	}
	st := be.WeightDType(dt)
	buf, err := be.Alloc(st, s.Elems())
	if err != nil {
		return nil, fmt.Errorf("gpu: weight %s%v: %w", dt, s, err)
	}
	t := &Tensor{shape: s.Clone(), dtype: st, buf: buf}
	if err := be.Write(t, data, dt); err != nil {
		be.Free(buf)
		return nil, fmt.Errorf("gpu: weight %s%v: %w", dt, s, err)
	}
	if sl, ok := be.(Sealer); ok {
		sl.Seal(buf)
	}
	return t, nil
}

// Sealer is implemented by backends that cache layouts derived from weights (the CPU packs
// GEMM panels once): Seal promises that the storage will never be written again.
type Sealer interface{ Seal(Storage) }

// NewWeightF32 is NewWeight for float32 host data.
func NewWeightF32(be Backend, data []float32, shape ...int) (*Tensor, error) {
	return NewWeight(be, F32, f32Bytes(data), shape...)
}

// FreeTensor releases a weight made by NewWeight.
func FreeTensor(be Backend, t *Tensor) {
	if t != nil && t.buf != nil {
		be.Free(t.buf)
		t.buf = nil
	}
}

// f32Bytes views v as little-endian bytes without copying (every GOARCH the engine builds for
// is little-endian; the bytes are only read).
func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// Capturer is implemented by backends that can record the kernels queued by f into a graph
// and replay it (CUDA stream capture). f allocates nothing during capture: Replay runs f
// uncaptured first and captures only once the arena is planned and the pass repeats.
type Capturer interface {
	Capture(f func() error) (Graph, error)
}

// Graph is a captured pass.
type Graph interface {
	Launch() error
	Destroy()
}

type replay struct {
	start, end int
	clock      int // the arena clock after f
	out        *Tensor
	graph      Graph
}

// Replay runs f, one fixed-shape piece of a pass (typically the whole model forward), and
// returns its output. On a backend with graphs, f runs normally until the arena is planned and
// the pass repeats (pass 1 fills the arena, Reset plans it, pass 2 runs on the plan), then one
// call captures it and later calls replay the graph without calling f at all. So f must depend only on tensors made before Replay in the same pass (write new
// input values into them with Write) and on weights; call it at the same point of every pass.
// On other backends (CPU) Replay just calls f, whose buffers the arena already reuses.
func (c *Context) Replay(key string, f func() *Tensor) *Tensor {
	if !c.ok() {
		return dead(nil)
	}
	capt, ok := c.be.(Capturer)
	if !ok {
		return f()
	}
	r := c.graphs[key]
	if r != nil && r.start == c.arena.next && r.end <= len(c.arena.slots) && r.graph != nil && !c.arena.dirty {
		if err := r.graph.Launch(); err != nil {
			c.fail(fmt.Errorf("gpu: replay %q: %w", key, err))
			return dead(r.out.shape)
		}
		// the graph's tensors hold their buffers as in the captured pass: a buffer it shares
		// with an earlier tensor of this pass (an input upload, say) now belongs to it
		for i := r.start; i < r.end; i++ {
			c.arena.owner[c.arena.slots[i].phys] = i
		}
		c.arena.next, c.arena.clock = r.end, r.clock
		return r.out
	}
	if r != nil && r.graph != nil {
		r.graph.Destroy() // the pass moved: capture again
		r = nil
	}
	start := c.arena.next
	if r == nil || r.start != start || c.arena.dirty {
		out := f()
		c.graphs[key] = &replay{start: start, end: c.arena.next, clock: c.arena.clock, out: out}
		return out
	}
	var out *Tensor
	g, err := capt.Capture(func() error {
		out = f()
		return c.Err()
	})
	if err != nil {
		c.fail(fmt.Errorf("gpu: capture %q: %w", key, err))
		return dead(nil)
	}
	if c.arena.next != r.end || c.arena.dirty {
		g.Destroy() // allocation pattern changed between runs: do not trust the graph
		c.graphs[key] = &replay{start: start, end: c.arena.next, clock: c.arena.clock, out: out}
		return out
	}
	r.graph, r.out = g, out
	if err := g.Launch(); err != nil { // capture records without running
		c.fail(fmt.Errorf("gpu: replay %q: %w", key, err))
	}
	return out
}
