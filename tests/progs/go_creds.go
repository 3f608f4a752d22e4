// What godbus, Go's D-Bus library, does in its EXTERNAL authentication: a byte sent with
// net.UnixConn.WriteMsgUnix and SCM_CREDENTIALS naming os.Getpid() (the virtual pid under Amber),
// os.Getuid() and os.Getgid(), from a process that never turned SO_PASSCRED on (the seccomp
// layer's first filter alone), to a peer (this program again, --peer) that has SO_PASSCRED on
// and reads the credentials with ReadMsgUnix: it must read its parent's pid, uid and gid. Before a
// snapshot, after a restore and after a second. Says "ready", waits for DIR/again, says
// "restored once", waits for DIR/go; prints PASS, or FAIL and exits 1.
//
//	go_creds DIR
package main

// #include <unistd.h>
import "C"

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func filters() string {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(status, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("Seccomp_filters:")) {
			return string(bytes.TrimSpace(line[len("Seccomp_filters:"):]))
		}
	}
	return "?"
}

func unixConn(fd int, what string) *net.UnixConn {
	f := os.NewFile(uintptr(fd), what)
	c, err := net.FileConn(f)
	if err != nil {
		fail("%s: %v", what, err)
	}
	f.Close()
	return c.(*net.UnixConn)
}

// The peer: SO_PASSCRED on, then each byte's credentials checked and answered with "k".
func peer() {
	if err := syscall.SetsockoptInt(3, syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1); err != nil {
		fail("peer: SO_PASSCRED: %v", err)
	}
	conn := unixConn(3, "peer")
	for n := 1; ; n++ {
		buf := make([]byte, 1)
		oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			os.Exit(0) // the sender closed its end
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			fail("peer: byte %d: control messages %v (%v)", n, msgs, err)
		}
		cred, err := syscall.ParseUnixCredentials(&msgs[0])
		if err != nil {
			fail("peer: byte %d: %v", n, err)
		}
		if int(cred.Pid) != os.Getppid() || int(cred.Uid) != os.Getuid() ||
			int(cred.Gid) != os.Getgid() {
			fail("peer: byte %d: credentials pid %d uid %d gid %d, not %d %d %d", n, cred.Pid,
				cred.Uid, cred.Gid, os.Getppid(), os.Getuid(), os.Getgid())
		}
		if _, err := conn.Write([]byte("k")); err != nil {
			fail("peer: write: %v", err)
		}
	}
}

// godbus's SendNullByte, then the peer's answer.
func round(conn *net.UnixConn, when string) {
	if f := filters(); f != "1" {
		fail("%s: the sender has %s seccomp filters, not 1", when, f)
	}
	pid := os.Getpid()
	if pid < 4200000 {
		fail("%s: os.Getpid() is %d, not a virtual pid", when, pid)
	}
	ucred := &syscall.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	b := syscall.UnixCredentials(ucred)
	if _, oobn, err := conn.WriteMsgUnix([]byte{0}, b, nil); err != nil || oobn != len(b) {
		fail("%s: WriteMsgUnix with the credentials of pid %d: %v (%d of %d bytes)", when, pid,
			err, oobn, len(b))
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	answer := make([]byte, 1)
	if _, err := conn.Read(answer); err != nil || answer[0] != 'k' {
		fail("%s: the peer's answer: %q %v", when, answer, err)
	}
}

func waitFor(dir, name string) {
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--peer" {
		peer()
		return
	}
	if len(os.Args) != 2 {
		fail("usage: go_creds DIR")
	}
	dir := os.Args[1]
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socketpair: %v", err)
	}
	cmd := exec.Command("/proc/self/exe", "--peer")
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fds[1]), "peer end")}
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		fail("start the peer: %v", err)
	}
	cmd.ExtraFiles[0].Close()
	conn := unixConn(fds[0], "sender")
	round(conn, "before")
	fmt.Println("ready")
	waitFor(dir, "again")
	round(conn, "after a restore")
	fmt.Println("restored once")
	waitFor(dir, "go")
	round(conn, "after two restores")
	conn.Close()
	if err := cmd.Wait(); err != nil {
		fail("the peer: %v", err)
	}
	fmt.Println("PASS")
}
