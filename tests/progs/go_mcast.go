// A Go program's multicast membership, which Go's runtime makes with its own system call
// (net.ListenMulticastUDP: IP_ADD_MEMBERSHIP with an ip_mreqn, and IP_MULTICAST_LOOP), not
// libc's setsockopt: the seccomp filter traps it and the library notes it. Joins 239.7.7.15 on
// lo, checks that a datagram sent there from 127.0.0.1 arrives, says "ready", waits for DIR/go
// (after a restore) and checks again; prints PASS, or FAIL and exits 1.
//
//	go_mcast DIR
package main

// #include <unistd.h>
import "C"

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// Whether a datagram sent to the group from a socket whose multicast interface is 127.0.0.1, TTL
// 0 (it never leaves the machine), reaches conn.
func arrives(conn *net.UDPConn, group *net.UDPAddr, what string) bool {
	s, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		fail("socket: %v", err)
	}
	defer syscall.Close(s)
	if err := syscall.SetsockoptInet4Addr(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, [4]byte{127, 0, 0, 1}); err != nil {
		fail("IP_MULTICAST_IF: %v", err)
	}
	if err := syscall.SetsockoptInt(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 0); err != nil {
		fail("IP_MULTICAST_TTL: %v", err) // 0: delivered on this machine only
	}
	to := &syscall.SockaddrInet4{Port: group.Port}
	copy(to.Addr[:], group.IP.To4())
	if err := syscall.Sendto(s, []byte(what), 0, to); err != nil {
		fail("sendto: %v", err)
	}
	buf := make([]byte, 64)
	for {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == what {
			return true
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: go_mcast DIR")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		fail("lo: %v", err)
	}
	group := &net.UDPAddr{IP: net.IPv4(239, 7, 7, 15)} // a port the kernel picks
	conn, err := net.ListenMulticastUDP("udp4", lo, group)
	if err != nil {
		fail("ListenMulticastUDP: %v", err)
	}
	group.Port = conn.LocalAddr().(*net.UDPAddr).Port
	if !arrives(conn, group, "before") {
		fail("before the snapshot: a datagram to %v did not arrive", group)
	}
	fmt.Println("ready")
	for {
		if _, err := os.Stat(filepath.Join(os.Args[1], "go")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !arrives(conn, group, "after") {
		fail("after the restore: a datagram to %v did not arrive", group)
	}
	fmt.Println("PASS")
}
