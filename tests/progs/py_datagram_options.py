"""What UDP servers ask of the kernel and then read in each datagram's control messages, and
timeouts: IP_PKTINFO and IPV6_RECVPKTINFO (a DNS server answers from the address asked),
IP_RECVTOS, IP_RECVTTL, IP_RECVERR and IPV6_RECVERR (QUIC), IP_MTU_DISCOVER and
IPV6_MTU_DISCOVER (QUIC sets DF), SO_TIMESTAMPNS, SO_RXQ_OVFL, IP_FREEBIND, UDP_GRO and
UDP_SEGMENT, SO_MARK, SO_BINDTODEVICE, and SO_RCVTIMEO and SO_SNDTIMEO on a UDP socket and a
TCP listener; and on Unix sockets, the timeouts and send buffer of a socket pair's end, and
SO_PASSCRED, a timeout and the receive buffer on a bound datagram socket (a syslog daemon's
/dev/log) and SO_PASSCRED on a listener. Each came back
as a new socket's, the program then finding no control message, or a blocking call never timing
out. Says "ready"; on DIR/go checks each, and that a datagram still brings its IP_PKTINFO, and
one to the Unix socket its sender's credentials: PASS or FAIL."""
import os, socket, struct, sys
from sockopt_round import options_round

DIR = sys.argv[1]
SOL_IP, SOL_IPV6, SOL_UDP = 0, 41, 17
IP_MTU_DISCOVER, IP_RECVERR, IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_FREEBIND = 10, 11, 8, 12, 13, 15
IPV6_MTU_DISCOVER, IPV6_RECVERR = 23, 25
SO_TIMESTAMPNS, SO_MARK, SO_RXQ_OVFL, SO_BINDTODEVICE = 35, 36, 40, 25
UDP_SEGMENT, UDP_GRO = 103, 104
PMTUDISC_DO = 2

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp6.bind(("::1", 0))
tcp = socket.create_server(("127.0.0.1", 0))
timeout = struct.pack("ll", 3, 500000)
pair, _ = socket.socketpair()
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind(os.path.join(DIR, "log.sock"))
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(os.path.join(DIR, "listen.sock"))
listener.listen()

SET = [
    (udp, SOL_IP, IP_PKTINFO, 1),
    (udp, SOL_IP, IP_RECVTOS, 1),
    (udp, SOL_IP, IP_RECVTTL, 1),
    (udp, SOL_IP, IP_RECVERR, 1),
    (udp, SOL_IP, IP_MTU_DISCOVER, PMTUDISC_DO),
    (udp, SOL_IP, IP_FREEBIND, 1),
    (udp, socket.SOL_SOCKET, SO_TIMESTAMPNS, 1),
    (udp, socket.SOL_SOCKET, SO_RXQ_OVFL, 1),
    (udp, socket.SOL_SOCKET, SO_MARK, 7),
    (udp, SOL_UDP, UDP_GRO, 1),
    (udp, SOL_UDP, UDP_SEGMENT, 1200),
    (udp, socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout),
    (udp, socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 1500)),
    (udp6, SOL_IPV6, socket.IPV6_RECVPKTINFO, 1),
    (udp6, SOL_IPV6, IPV6_RECVERR, 1),
    (udp6, SOL_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_DO),
    (udp6, socket.SOL_SOCKET, SO_BINDTODEVICE, b"lo"),
    (tcp, socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout),
    (pair, socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout),
    (pair, socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout),
    (log, socket.SOL_SOCKET, socket.SO_PASSCRED, 1),
    (log, socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout),
    (log, socket.SOL_SOCKET, socket.SO_RCVBUF, 300000),  # as journald's /dev/log, larger
    (pair, socket.SOL_SOCKET, socket.SO_SNDBUF, 100000),
    (listener, socket.SOL_SOCKET, socket.SO_PASSCRED, 1),
]


def read(s, level, name, value):
    return s.getsockopt(level, name, 16) if isinstance(value, bytes) else s.getsockopt(level, name)


def pktinfo_arrives():
    """A datagram to the socket brings its destination address in IP_PKTINFO."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"x", udp.getsockname())
    sender.close()
    _, ancillary, _, _ = udp.recvmsg(16, 1024)
    return any(level == SOL_IP and kind == IP_PKTINFO for level, kind, _ in ancillary)


def credentials_arrive():
    """A datagram to the Unix socket brings its sender's credentials, naming this process."""
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.sendto(b"x", os.path.join(DIR, "log.sock"))
    sender.close()
    _, ancillary, _, _ = log.recvmsg(16, 1024)
    creds = [data for level, kind, data in ancillary
             if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
    return creds and struct.unpack("iII", creds[0][:12])[0] == os.getpid()


def arriving():
    if not pktinfo_arrives() or not credentials_arrive():
        print("FAIL: no IP_PKTINFO or credentials before the snapshot", flush=True)
        sys.exit(1)


lost = options_round(DIR, SET, read, arriving)
if not pktinfo_arrives():
    lost.append("a datagram brings no IP_PKTINFO")
if not credentials_arrive():
    lost.append("a Unix datagram brings no credentials of this process")
print("FAIL: " + "; ".join(lost) if lost else "PASS", flush=True)
