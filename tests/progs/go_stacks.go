// A Go program linked the way most are: no `import "C"` of its own, dynamically linked only
// because package net wants libc's resolver (so Amber's library is loaded, but the runtime's
// cgo symbols are not exported). Goroutines run on stacks of a few KiB, next to each other in
// the heap: a signal handler that ran on one would write over its neighbours. Busy goroutines
// check arrays on their own stacks, and short-lived ones are started all the time (their
// stacks come from the runtime's free lists, whose links live in the free stacks). Says
// "ready", waits for DIR/go, then prints PASS, or FAIL and exits 1.
//
//	go_stacks DIR
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

const checkers = 32

var rounds [checkers]atomic.Int64
var spawned atomic.Int64

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// Keeps an array on its own stack and checks it, round after round.
func check(id int) {
	var a [48]uint64
	for round := uint64(0); ; round++ {
		for i := range a {
			a[i] = uint64(id)<<40 | round<<8 | uint64(i)
		}
		for spin := 0; spin < 200; spin++ {
			for i := range a {
				if a[i] != uint64(id)<<40|round<<8|uint64(i) {
					fail("goroutine %d: its stack array changed under it at %d: %#x", id, i, a[i])
				}
			}
		}
		rounds[id].Add(1)
	}
}

// Starts goroutines that live for a moment, for ever.
func spawn() {
	done := make(chan uint64)
	for n := uint64(0); ; n++ {
		go func(n uint64) {
			var b [32]uint64
			for i := range b {
				b[i] = n + uint64(i)
			}
			done <- b[31] - n
		}(n)
		if got := <-done; got != 31 {
			fail("a short-lived goroutine computed %d, not 31", got)
		}
		spawned.Add(1)
	}
}

func main() {
	dir := os.Args[1]
	ln, err := net.Listen("tcp", "127.0.0.1:0") // package net: the reason it is linked with libc
	if err != nil {
		fail("listen: %v", err)
	}
	defer ln.Close()
	for id := 0; id < checkers; id++ {
		go check(id)
	}
	go spawn()
	fmt.Println("ready")
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var before [checkers]int64
	for id := range before {
		before[id] = rounds[id].Load()
	}
	startedBefore := spawned.Load()
	// Each goroutine runs again within a few of the scheduler's 10 ms slices.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		stuck := -1
		for id := range before {
			if rounds[id].Load() == before[id] {
				stuck = id
			}
		}
		if stuck < 0 && spawned.Load() > startedBefore {
			break
		}
		if time.Now().After(deadline) {
			fail("goroutine %d or the spawner no longer runs", stuck)
		}
	}
	fmt.Println("PASS")
}
