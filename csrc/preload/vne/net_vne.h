/* The policy behind wrap_net.c: translation between an application's virtual network (its
 * VNE, common/vne.h) and the real sockets of the computer it runs on now. Only IPv4 sockets of
 * an application that runs in a VNE are touched; everything else passes through.
 *
 * Callers are wrappers inside their critical section (amber_enter). Functions return 1 when
 * they translated, 0 when the call is not Amber's business (pass it through unchanged), or
 * -errno when the call must fail with that error. */
#ifndef AMBER_NET_VNE_H
#define AMBER_NET_VNE_H

#include <netinet/in.h>
#include <sys/socket.h>

/* Whether this process runs in a VNE (cheap: no system call). */
int amber_net_active(void);

/* bind: a virtual address (the application's virtual IP or INADDR_ANY) binds a real socket
 * here, on the same port number when it is free, else on one the kernel chooses, and
 * registers it. Another address of the VNE's subnet is EADDRNOTAVAIL. */
int amber_net_bind(int fd, const struct sockaddr *addr, socklen_t len);

/* connect, sendto: the real address behind a virtual one of the application's own VNE, in
 * *real. The socket is bound to a registered real port first, so that the other side can
 * translate it back. Another VNE's address is ENETUNREACH; a virtual IP that nobody holds
 * is EHOSTUNREACH, a port nobody listens on ECONNREFUSED. */
int amber_net_dest(int fd, const struct sockaddr *addr, socklen_t len, struct sockaddr_in *real);

/* accept, getpeername, recvfrom: rewrites the real peer address in *addr (of *len bytes) as
 * the virtual one, when the socket belongs to the VNE and the peer is known. */
int amber_net_peer_out(int fd, struct sockaddr_in *addr, socklen_t len);

/* getsockname: rewrites the real local address in *addr as the virtual one. */
int amber_net_local_out(int fd, struct sockaddr_in *addr, socklen_t len);

/* close: before, whether fd is a registered socket (and which); after, drops the
 * registration if no socket holds that real port any more. */
int amber_net_close_begin(int fd, int *proto, uint16_t *rport);
void amber_net_close_end(int proto, uint16_t rport);

/* getaddrinfo, gethostbyname: the virtual IP of a hostname of the VNE, in *vip. */
int amber_net_resolve(const char *name, uint32_t *vip);

/* Restore support (vne_restore.c): whether [start, ...) is the mapping of the VNE table,
 * which belongs to the computer, not to the image. */
int amber_net_table_mapping(uint64_t start);

/* Restore: a socket of the VNE whose real port is taken here is bound to another one, and
 * its registrations follow (clones of one image). 0, or -errno (-EADDRINUSE: not the VNE's). */
int amber_net_rebind(int fd, const struct sockaddr *addr, socklen_t len);

#endif
