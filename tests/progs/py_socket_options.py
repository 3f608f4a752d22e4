"""Options servers and clients set on their sockets that a new socket would not have: SO_LINGER,
SO_PRIORITY, IP_TOS, IP_TTL, TCP_USER_TIMEOUT, TCP_NOTSENT_LOWAT, TCP Fast Open, the congestion
control and the receive buffer on a TCP listener; the multicast hop limit and loopback and both
buffers on a UDP socket; IPV6_TCLASS on an IPv6 one. Says "ready"; on DIR/go checks each still
has them: PASS or FAIL."""
import socket, struct, sys
from sockopt_round import options_round

DIR = sys.argv[1]
tcp = socket.create_server(("127.0.0.1", 0))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
available = open("/proc/sys/net/ipv4/tcp_allowed_congestion_control").read().split()
current = tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
other = next((c for c in available if c != current), None)

SET = [
    (tcp, socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 7)),
    (tcp, socket.SOL_SOCKET, socket.SO_PRIORITY, 5),
    (tcp, socket.IPPROTO_IP, socket.IP_TOS, 0x10),
    (tcp, socket.IPPROTO_IP, socket.IP_TTL, 33),
    (tcp, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 12345),
    (tcp, socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, 65536),
    (tcp, socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16),
    (udp, socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 7),
    (udp, socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0),
    (udp6, socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x20),
    # buffer sizes of sockets the kernel does not tune: a UDP server's, a listener's
    (udp, socket.SOL_SOCKET, socket.SO_RCVBUF, 150000),
    (udp, socket.SOL_SOCKET, socket.SO_SNDBUF, 70000),
    (tcp, socket.SOL_SOCKET, socket.SO_RCVBUF, 90000),
]
if other:
    SET.append((tcp, socket.IPPROTO_TCP, socket.TCP_CONGESTION, other.encode()))


def read(s, level, name, value):
    if isinstance(value, bytes):
        got = s.getsockopt(level, name, 16 if name == socket.TCP_CONGESTION else len(value))
        return got.rstrip(b"\0") if name == socket.TCP_CONGESTION else got
    return s.getsockopt(level, name)


lost = options_round(DIR, SET, read)
print("FAIL: " + "; ".join(lost) if lost else "PASS", flush=True)
