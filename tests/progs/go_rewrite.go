// A Go program whose runtime makes its system calls itself: syscall.Getpid and Getppid (Go's
// rawSyscallNoError) and syscall.Kill (Go's Syscall6), from goroutines that keep calling them
// while the test snapshots and restores it. Amber rewrites those sites after their first trap
// (docs/seccomp.md, "Rewritten sites"); the calls keep their virtual pids. Says "ready", waits
// for DIR/go, checks again, prints PASS, or FAIL and exits 1.
//
//	go_rewrite DIR
package main

// #include <unistd.h>
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

var calls atomic.Int64

func check(pid, ppid int) {
	if got := syscall.Getpid(); got != pid {
		fail("getpid %d, not %d", got, pid)
	}
	if got := syscall.Getppid(); got != ppid {
		fail("getppid %d, not %d", got, ppid)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		fail("kill(%d, 0): %v", pid, err)
	}
	if err := syscall.Kill(4999999, 0); err != syscall.ESRCH {
		fail("kill(4999999, 0): %v, not ESRCH", err)
	}
	calls.Add(1)
}

// Each goroutine's calls go on within 5 seconds.
func goOn(phase string) {
	was := calls.Load()
	for t := 0; t < 500 && calls.Load() < was+100; t++ {
		time.Sleep(10 * time.Millisecond)
	}
	if calls.Load() < was+100 {
		fail("%s: the calls stopped", phase)
	}
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: go_rewrite DIR")
	}
	_ = C.getpid() // cgo: the program is linked against libc
	pid, ppid := syscall.Getpid(), syscall.Getppid()
	if pid < 4200000 || ppid < 4200000 {
		fail("pids %d, %d are not virtual", pid, ppid)
	}
	for i := 0; i < 4; i++ {
		go func() {
			for {
				check(pid, ppid)
			}
		}()
	}
	goOn("before")
	fmt.Println("ready")
	for {
		if _, err := os.Stat(filepath.Join(os.Args[1], "go")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	goOn("after")
	start := time.Now()
	for i := 0; i < 10000; i++ {
		check(pid, ppid)
	}
	fmt.Printf("after: %d ns a round of four calls\n", time.Since(start).Nanoseconds()/10000)
	fmt.Println("PASS")
}
