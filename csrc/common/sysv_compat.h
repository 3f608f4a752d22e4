/* SysV IPC commands that Debian 12's glibc headers do not name yet (Linux 4.17 added them). */
#ifndef AMBER_SYSV_COMPAT_H
#define AMBER_SYSV_COMPAT_H

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

#endif
