/* Under an audit library (LD_AUDIT, csrc/audit/) the loader sizes the static TLS block before it
 * loads the preloaded libraries, so Amber's library's thread-local data (about 22 KiB: the path
 * and environment buffers a SIGSYS handler uses on a small signal stack) must fit in the surplus
 * the loader keeps for libraries loaded later, 512 bytes by default. This tunable makes room for
 * it and leaves the default for the program's own. libamber.so's PT_TLS size is checked against it
 * by the build (Makefile). */
#ifndef AMBER_TLS_ROOM_H
#define AMBER_TLS_ROOM_H

#define AMBER_TLS_ROOM 24576
#define AMBER_TLS_TUNABLE "glibc.rtld.optional_static_tls=24576"

#endif
