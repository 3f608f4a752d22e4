// A Go library (-buildmode=c-shared), loaded by python3 with ctypes (py_go_lib.py): its
// runtime makes system calls itself, from a shared library's code. Check(pid) answers 0 when
// Go sees pid as its own: os.Getpid, a signal 0 to it, and the Pid line of /proc/pid/status.
package main

import "C"

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

//export Check
func Check(pid C.int) C.int {
	want := int(pid)
	if os.Getpid() != want {
		return 1
	}
	if syscall.Kill(want, 0) != nil {
		return 2
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(want) + "/status")
	if err != nil || !strings.Contains(string(status), "\nPid:\t"+strconv.Itoa(want)+"\n") {
		return 3
	}
	return 0
}

//export GoPid
func GoPid() C.int { return C.int(os.Getpid()) }

func main() {}
