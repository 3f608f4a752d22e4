/* What the program sees of file locks, in virtual pids (lock_view.c). */
#ifndef AMBER_LOCK_VIEW_H
#define AMBER_LOCK_VIEW_H

/* After fcntl(fd, cmd, arg) returned r: for F_GETLK, the holder's pid made virtual (0 for a
 * process outside the application, as the kernel says of one outside a pid namespace). */
int amber_lock_query_result(int r, int cmd, void *arg);

#endif
