package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// pool runs parallel loops on a fixed set of worker goroutines, so a forward pass does not
// start thousands of goroutines.
type pool struct {
	n    int
	jobs chan *job
	once sync.Once
}

type job struct {
	n    int
	next atomic.Int64
	f    func(i int)
	wg   sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, jobs: make(chan *job, n)}
	for i := 1; i < n; i++ { // the caller is the n-th worker
		go p.worker()
	}
	return p
}

// worker runs jobs. After one, it polls briefly before blocking: a forward pass issues its
// ops back to back, and waking a parked thread for each costs more than the poll.
func (p *pool) worker() {
	for {
		var j *job
		select {
		case j = <-p.jobs:
		default:
			for spin := 0; spin < 200 && j == nil; spin++ {
				runtime.Gosched()
				select {
				case j = <-p.jobs:
				default:
				}
			}
			if j == nil {
				var ok bool
				if j, ok = <-p.jobs; !ok {
					return
				}
			}
		}
		if j == nil {
			return
		}
		j.work()
		j.wg.Done()
	}
}

func (j *job) work() {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		j.f(i)
	}
}

// run calls f(i) for i < n on all workers and returns when every call is done.
func (p *pool) run(n int, f func(i int)) {
	if n <= 0 {
		return
	}
	if n == 1 || p.n == 1 {
		for i := range n {
			f(i)
		}
		return
	}
	j := &job{n: n, f: f}
	helpers := min(p.n-1, n-1)
	j.wg.Add(helpers)
	for range helpers {
		p.jobs <- j
	}
	j.work()
	j.wg.Wait()
}

// rows splits [0, n) into about 4 chunks per worker of at least grain items and runs f on each.
func (p *pool) rows(n, grain int, f func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := min(max(n/grain, 1), 4*p.n)
	size := (n + chunks - 1) / chunks
	p.run(chunks, func(i int) {
		lo := i * size
		hi := min(lo+size, n)
		if lo < hi {
			f(lo, hi)
		}
	})
}

func (p *pool) close() { p.once.Do(func() { close(p.jobs) }) }
