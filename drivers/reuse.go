package drivers

import (
	"context"
	"sync"
)

// Reused keeps one driver for many runs played one after another (a property campaign's
// interleavings): starting a driver process for every run would cost more than the run.
// Each run opens and closes its own devices; closing the driver at the end of a run leaves
// it running. A driver that died is started again for the next run.
type Reused struct {
	start Factory
	mu    sync.Mutex
	drv   Driver
}

// Reuse keeps the drivers start makes, one at a time.
func Reuse(start Factory) *Reused { return &Reused{start: start} }

// Factory gives every run the kept driver (started on first use, or again after it died).
func (r *Reused) Factory() Factory {
	return func(ctx context.Context) (Driver, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if p, ok := r.drv.(*process); ok && !p.alive() {
			_ = r.drv.Close()
			r.drv = nil
		}
		if r.drv == nil {
			drv, err := r.start(ctx)
			if err != nil {
				return nil, err
			}
			r.drv = drv
		}
		return keptOpen{r.drv}, nil
	}
}

// Close ends the kept driver.
func (r *Reused) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drv == nil {
		return nil
	}
	err := r.drv.Close()
	r.drv = nil
	return err
}

// keptOpen is the kept driver as one run sees it: its Close leaves it running.
type keptOpen struct{ Driver }

func (keptOpen) Close() error { return nil }
