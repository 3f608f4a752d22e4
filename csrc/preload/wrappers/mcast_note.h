/* Multicast memberships as the program changes them (mcast_note.c): noted in the application's
 * tables by socket, for the socket's owner to save at a snapshot (fds/mcast_keep.c). */
#ifndef AMBER_MCAST_NOTE_H
#define AMBER_MCAST_NOTE_H

#include <stdint.h>

#include "../../common/table.h"

/* Whether setsockopt(level, name) changes what Amber notes (a membership, a source, the
 * multicast interface, IP_MULTICAST_ALL). */
int amber_mcast_option(int level, int name);
/* After the kernel accepted setsockopt(fd, level, name, val, len): noted. */
void amber_mcast_note(int fd, int level, int name, const void *val, uint32_t len);
/* The socket's SO_COOKIE, 0 if none. */
uint64_t amber_mcast_cookie(int fd);
/* What a noted change is, for messages: "IP_ADD_MEMBERSHIP 239.1.2.3 on eth0" and the like. */
void amber_mcast_describe(const struct amber_mcast_rec *m, char *out, uint32_t cap);

#endif
