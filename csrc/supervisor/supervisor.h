/* The supervisor's parts: its arguments, detaching, and starting what it supervises. */
#ifndef AMBER_SUPERVISOR_H
#define AMBER_SUPERVISOR_H

#include <sys/types.h>

#include "../common/table.h"

struct sup_options {
  int restore;            /* restore mode: rebuild from image_dir */
  int detach;             /* daemonize: the command returns at once */
  int lazy;               /* restore: map saved pages from the image instead of reading them */
  const char *app_dir;
  const char *image_dir;
  const char *output;     /* program stdout and stderr go here (appended) */
  char **program;         /* run mode: PROGRAM ARGS... */
  const char *as;         /* restore: UID:GID:GROUPS, the image owner's, a ceiling (identity.c) */
};

int sup_parse_args(int argc, char **argv, struct sup_options *o);
/* Forks; returns 1 in the caller's process (which should exit), 0 in the daemon. */
pid_t sup_detach(void);
/* Both return the root process's pid, or -1 with the table's state set to failed. */
pid_t sup_start_program(struct amber_table *t, const struct sup_options *o);
pid_t sup_start_restorer(struct amber_table *t, const struct sup_options *o);

/* restore_gone.c: names the root of a restore that ended before it was back, before its reap */
void sup_restore_gone(struct amber_table *t, pid_t root);

/* exit_record.c: how a detached application ended (a wait status, and the error that ended it
 * or NULL), for `amber ps`. */
void sup_write_exit_record(const char *app_dir, int status, const char *error);

/* lazy_check.c: checks the pages of a lazy restore's image in the background, and ends the
 * application if one is damaged; what was found damaged, or NULL. */
void sup_lazy_check_start(struct amber_table *t, const char *image_dir);
const char *sup_lazy_damage(void);

/* cow_writers.c: whether the children left are only copies writing a snapshot's files. */
int sup_only_writers_left(const struct amber_table *t);

/* thread.c: runs `run` on a thread of its own, with every signal blocked there. */
void sup_thread_start(void *(*run)(void *));

/* lease_fence.c: stops the application on its own when the agent's lease renewals, handed to it
 * on a channel of its own (common/lease_channel.h), stop coming (the agent may have died).
 * listen binds the channel, before the application's first process starts; -1 if it cannot. */
int sup_lease_fence_listen(void);
void sup_lease_fence_start(struct amber_table *t, const char *app_dir);

/* broker.c: the descriptor broker of a restore (common/broker.h), on its own thread. */
int sup_broker_start(const char *app_dir, int nprocesses);

#endif
