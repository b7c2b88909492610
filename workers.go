package noex

import (
	"sync"
	"time"
)

// workerPool runs request handling on long-lived goroutines, so the one
// goroutine each connection keeps (its reader) never grows the stack that
// JSON decoding and services need: an idle connection then costs a small
// stack instead of 8 KiB (docs/benchmarks.md). The pool grows to the number
// of requests in flight at once (each connection has at most one) and
// shrinks when workers stay idle.
type workerPool struct {
	tasks   chan func() // unbuffered: a send succeeds only if a worker waits
	stop    chan struct{}
	wg      sync.WaitGroup
	onPanic func(any)
}

// workerIdleTimeout is how long a worker waits for work before it exits.
const workerIdleTimeout = 30 * time.Second

func newWorkerPool(onPanic func(any)) *workerPool {
	return &workerPool{tasks: make(chan func()), stop: make(chan struct{}), onPanic: onPanic}
}

// run hands fn to an idle worker, or starts a new one.
func (p *workerPool) run(fn func()) {
	select {
	case p.tasks <- fn:
	default:
		p.wg.Add(1)
		go p.worker(fn)
	}
}

func (p *workerPool) worker(fn func()) {
	defer p.wg.Done()
	idle := time.NewTimer(workerIdleTimeout)
	defer idle.Stop()
	for {
		p.call(fn)
		idle.Reset(workerIdleTimeout)
		select {
		case fn = <-p.tasks:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}

func (p *workerPool) call(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			p.onPanic(r)
		}
	}()
	fn()
}

// close stops idle workers and waits for all of them. Call it only once no
// more work can arrive (every connection has ended).
func (p *workerPool) close() {
	close(p.stop)
	p.wg.Wait()
}
