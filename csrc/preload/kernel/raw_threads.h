/* Threads made by a raw clone without CLONE_SETTLS (raw_threads.c, trap_clone_thread.c). */
#ifndef AMBER_RAW_THREADS_H
#define AMBER_RAW_THREADS_H

#include <stdint.h>
#include <sys/types.h>

#include "../../common/image.h"

/* trap_clone_vm.c: what a child made on a stack of its own runs first, there. */
struct amber_child_start {
  void (*fn)(void *arg);
  void *arg;
};

struct amber_raw_thread {
  int32_t state; /* RAW_FREE, RAW_LIVE, RAW_GOING */
  int32_t tid;   /* system tid: 0 until its clone returns on one side, -1 once gone */
  int32_t vtid;
  int32_t pad;
  uint64_t fs;      /* its own thread pointer: the library's TLS of this thread */
  uint64_t prog_fs; /* the thread pointer its program code starts with (its creator's) */
  char *block;      /* the mapping that holds its TLS */
  size_t len;
  int32_t *tid_word;   /* glibc's cached tid in the copy of the thread descriptor, or NULL */
  uint64_t robust;     /* the copy's robust list head, registered in the thread */
  uint64_t clear_tid;  /* CLONE_CHILD_CLEARTID's word (0 if none), the kernel's per thread */
  pid_t *ptid, *ctid;  /* CLONE_PARENT_SETTID's and CLONE_CHILD_SETTID's words, or NULL */
  uint64_t seized_fs;  /* its thread pointer when the coordinator seized it (agent_seize.c) */
  struct amber_child_start start; /* what it runs first: read after its creator may be gone */
};

/* Any raw thread made in this process: only then do the handlers look a thread up. */
extern int amber_raw_threads;

/* The handlers' first and last steps: a raw thread moves to its own TLS (returns the thread
 * pointer to go back to, 0 if nothing moved). No TLS may be touched before enter. */
uint64_t amber_raw_tls_enter(void);
void amber_raw_tls_leave(uint64_t fs);
/* In a raw thread on its own TLS: the program's thread pointer it came from; elsewhere 0. */
uint64_t amber_raw_tls_program(void);

/* The calling thread's virtual tid if it is a raw thread, else 0 (no TLS used). */
int32_t amber_raw_thread_vtid(void);

/* In the creator, with every signal held: a new entry with its row (vtid), its TLS made from
 * the caller's; NULL if none can be made (errno-style reason in *err). */
struct amber_raw_thread *amber_raw_thread_new(uint64_t flags, pid_t *ptid, pid_t *ctid,
                                              int *err);
/* The clone's outcome on the creator's side (tid > 0), or its failure (the entry goes). */
void amber_raw_thread_made(struct amber_raw_thread *r, int32_t tid);

/* The agent, in the thread (on its own TLS): what the record must not take from the creator's
 * descriptor, and its kernel state back after a restore. The leader marks the gone. */
void amber_raw_thread_capture(struct amber_thread_rec *rec);
void amber_raw_thread_after_restore(const struct amber_thread_rec *rec);
void amber_raw_threads_mark_gone(void);
/* A raw thread seized from outside (it blocks every signal): recorded on its own TLS, and back
 * on the program's thread pointer as it returns to the program after a restore. */
void amber_raw_thread_seized(struct amber_thread_rec *rec);
void amber_raw_thread_resumed(const struct amber_thread_rec *rec);

/* A forked child has none of its parent's threads. */
void amber_raw_threads_forget(void);

long amber_clone_vm_call(long flags, char *child_sp, pid_t *ptid, pid_t *ctid, long tls,
                         const struct amber_child_start *start);
/* raw_threads.c: the first thing a raw thread runs (its arg: its entry) */
void amber_raw_thread_born(void *entry);

/* agent_thread.c: where glibc's thread descriptor caches the thread's tid (-1 if unknown). */
long amber_pthread_tid_offset(void);

#endif
