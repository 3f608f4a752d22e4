/* Under an audit library (LD_AUDIT, csrc/audit/) the loader sizes the static TLS block before it
 * loads the program's libraries, so every one of them whose thread-local data is initial-exec
 * (Amber's library, about 7 KiB: environment buffers, its per-thread state; libjemalloc, 2.6 KiB;
 * libgomp; libc's own is counted apart) must fit in the
 * surplus the loader keeps for libraries loaded later, 512 bytes by default. This tunable makes
 * room for Amber's and leaves 8 KiB beyond the default for the program's; the build checks
 * libamber.so's PT_TLS size against it (Makefile). Unused room costs address space only, but
 * every thread's static TLS block is that much larger, so keep Amber's own small. */
#ifndef AMBER_TLS_ROOM_H
#define AMBER_TLS_ROOM_H

#define AMBER_TLS_ROOM 16384
#define AMBER_TLS_TUNABLE "glibc.rtld.optional_static_tls=16384"

#endif
