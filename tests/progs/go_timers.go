// A Go program (built with cgo, so dynamically linked and run with Amber's library) with many
// goroutines on tickers and timers, one asleep, and a signal.Notify channel (which makes the
// runtime keep a thread with nearly every signal blocked). Says "ready", waits for DIR/go,
// then checks that every goroutine still ticks, the sleeper wakes, the timers fire and a
// notified signal arrives; prints PASS, or FAIL and exits 1.
//
//	go_timers DIR
package main

// #include <unistd.h>
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const workers = 64

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: go_timers DIR")
	}
	_ = C.getpid() // cgo: the program is linked against libc
	var ticks [workers]atomic.Int64
	for i := 0; i < workers; i++ {
		go func(i int) {
			t := time.NewTicker(time.Duration(1+i%7) * time.Millisecond)
			for range t.C {
				ticks[i].Add(1)
			}
		}(i)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	woke := make(chan time.Duration, 1)
	started := time.Now()
	go func() {
		time.Sleep(3 * time.Second)
		woke <- time.Since(started)
	}()
	var mu sync.Mutex
	sum := 0
	for i := 0; i < workers; i++ {
		go func() { // goroutines contending on a mutex
			for {
				mu.Lock()
				sum++
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ready")
	for {
		if _, err := os.Stat(filepath.Join(os.Args[1], "go")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var before [workers]int64
	for i := range ticks {
		before[i] = ticks[i].Load()
	}
	time.Sleep(200 * time.Millisecond)
	for i := range ticks {
		if ticks[i].Load() <= before[i] {
			fail("goroutine %d stopped ticking at %d", i, before[i])
		}
	}
	select {
	case <-woke:
	case <-time.After(10 * time.Second):
		fail("the sleeping goroutine did not wake")
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		fail("kill: %v", err)
	}
	select {
	case <-usr1:
	case <-time.After(5 * time.Second):
		fail("SIGUSR1 did not arrive on the signal.Notify channel")
	}
	mu.Lock()
	if sum == 0 {
		fail("no goroutine took the mutex")
	}
	mu.Unlock()
	fmt.Println("PASS")
}
