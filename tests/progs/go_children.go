// A Go program's children (os/exec: the runtime's raw clone with CLONE_VM | CLONE_VFORK, then
// exec) have virtual pids, as the program sees them and as they see themselves; the program
// reads /proc/<child>/stat by that pid (its runtime's raw openat), signals the child and waits
// for it (raw kill, waitid and wait4), before a snapshot and after the restore. Says "ready",
// waits for DIR/go; prints PASS, or FAIL and exits 1.
//
//	go_children DIR
package main

// #include <unistd.h>
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// start runs `sh -c 'echo $$; exec sleep 1000'` and checks the pid it says it has.
func start(phase string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", "echo $$; exec sleep 1000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("%s: pipe: %v", phase, err)
	}
	if err := cmd.Start(); err != nil {
		fail("%s: start: %v", phase, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fail("%s: the child said nothing: %v", phase, err)
	}
	said, _ := strconv.Atoi(strings.TrimSpace(line))
	if cmd.Process.Pid < 4200000 || said != cmd.Process.Pid {
		fail("%s: the child's pid is %d, it says %d", phase, cmd.Process.Pid, said)
	}
	return cmd
}

func check(phase string, cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || !strings.HasPrefix(string(stat), fmt.Sprintf("%d (", pid)) {
		fail("%s: /proc/%d/stat: %v %.40q", phase, pid, err, stat)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		fail("%s: signal 0 to %d: %v", phase, pid, err)
	}
	if os.Getpid() < 4200000 || syscall.Getpid() != os.Getpid() {
		fail("%s: getpid %d", phase, os.Getpid())
	}
}

func stop(phase string, cmd *exec.Cmd) {
	if err := cmd.Process.Kill(); err != nil {
		fail("%s: kill %d: %v", phase, cmd.Process.Pid, err)
	}
	err := cmd.Wait()
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
		fail("%s: wait for %d: %v", phase, cmd.Process.Pid, err)
	}
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: go_children DIR")
	}
	_ = C.getpid() // cgo: the program is linked against libc
	first := start("before")
	check("before", first)
	short := start("before, another")
	stop("before", short)
	fmt.Println("ready")
	for {
		if _, err := os.Stat(filepath.Join(os.Args[1], "go")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	check("after", first)
	stop("after", first)
	second := start("after")
	check("after, a new child", second)
	stop("after", second)
	fmt.Println("PASS")
}
