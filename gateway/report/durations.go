package report

import (
	"container/heap"
	"math"
	"slices"
	"sync"
)

// durations are the first-response or resolution times of one row, in
// seconds: calendar time, and business time only once an event's differs
// (with no calendar configured, or only always-open ones, they are the
// same numbers, kept once). The values live in fixed blocks from a
// shared free list rather than in slices that double as they grow: a
// year's report holds a million values, and doubling slices would
// allocate and drop twice that, which the daemon's GOGC=400 turns into
// five times as much heap. Percentiles sort each block and walk them
// merged, so no contiguous copy is made either.
type durations struct {
	cal, biz blocks
	diff     bool // biz differs from cal
}

func (d *durations) add(cal, biz int32) {
	if !d.diff && biz != cal {
		d.diff = true
		d.biz = d.cal.clone()
	}
	d.cal.add(cal)
	if d.diff {
		d.biz.add(biz)
	}
}

// times are the median and 90th percentile of d; d's blocks go back to
// the free list.
func (d *durations) times() Times {
	t := Times{Count: d.cal.n}
	if d.cal.n == 0 {
		return t
	}
	cm, c90 := d.cal.percentiles()
	bm, b90 := cm, c90
	if d.diff {
		bm, b90 = d.biz.percentiles()
	}
	t.BusinessMedian, t.BusinessP90 = minutes(bm), minutes(b90)
	t.CalendarMedian, t.CalendarP90 = minutes(cm), minutes(c90)
	d.cal.release()
	d.biz.release()
	return t
}

// blockLen is the values per block (64 KiB).
const blockLen = 16 << 10

// freeBlocks keeps released blocks for the next report, up to
// maxFreeBlocks (32 MiB): after the first large report, the next ones
// allocate none.
var freeBlocks struct {
	sync.Mutex
	l [][]int32
}

const maxFreeBlocks = 512

func getBlock() []int32 {
	freeBlocks.Lock()
	defer freeBlocks.Unlock()
	if n := len(freeBlocks.l); n > 0 {
		b := freeBlocks.l[n-1]
		freeBlocks.l = freeBlocks.l[:n-1]
		return b[:0]
	}
	return make([]int32, 0, blockLen)
}

type blocks struct {
	l [][]int32
	n int
}

func (b *blocks) add(v int32) {
	if len(b.l) == 0 || len(b.l[len(b.l)-1]) == blockLen {
		b.l = append(b.l, getBlock())
	}
	last := &b.l[len(b.l)-1]
	*last = append(*last, v)
	b.n++
}

func (b *blocks) clone() blocks {
	c := blocks{n: b.n}
	for _, x := range b.l {
		c.l = append(c.l, append(getBlock(), x...))
	}
	return c
}

func (b *blocks) release() {
	freeBlocks.Lock()
	for _, x := range b.l {
		if len(freeBlocks.l) < maxFreeBlocks {
			freeBlocks.l = append(freeBlocks.l, x)
		}
	}
	freeBlocks.Unlock()
	*b = blocks{}
}

// percentiles are the values at the nearest ranks of 50 and 90 percent
// (Percentile's ranks), b not empty.
func (b *blocks) percentiles() (p50, p90 int32) {
	r50, r90 := rank(b.n, 50), rank(b.n, 90)
	if len(b.l) == 1 {
		x := b.l[0]
		slices.Sort(x)
		return x[r50-1], x[r90-1]
	}
	h := make(mergeHeap, 0, len(b.l))
	for _, x := range b.l {
		slices.Sort(x)
		h = append(h, x)
	}
	heap.Init(&h)
	for i := 1; ; i++ {
		v := h[0][0]
		if i == r50 {
			p50 = v
		}
		if i == r90 {
			return p50, v
		}
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
}

// rank is the 1-based nearest rank of the p-th percentile of n values.
func rank(n int, p float64) int {
	return min(max(int(math.Ceil(p/100*float64(n))), 1), n)
}

// mergeHeap orders sorted blocks by their first value.
type mergeHeap [][]int32

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return h[i][0] < h[j][0] }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.([]int32)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
