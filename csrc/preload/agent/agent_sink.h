/* Where a process file goes. Usually a regular file, written in place (pwrite) with its header
 * last at offset 0. For a migration the coordinator puts a FIFO at the file's path and reads
 * it while the agent writes (src/migrate/outgoing.ts): the sink then writes strictly in order,
 * the same bytes the file would hold (the header's place as zeros), and the header once more
 * after the end, as a trailer, since it cannot go back to offset 0. Beside a FIFO the sink
 * also writes the file's index, `process-<vpid>.index`: a sparse regular file with the header
 * and the sections after the pages at their offsets, the pages' place left a hole; it is all
 * that a later snapshot needs of this one as its parent (agent_pages.c), so a migration's
 * pre-copy keeps it (src/migrate/outgoing.ts). Best effort: an index that cannot be written
 * is removed, and the stream goes on. Runs in the checkpoint handler: raw system calls only. */
#ifndef AMBER_AGENT_SINK_H
#define AMBER_AGENT_SINK_H

#include <stdint.h>

struct amber_sink {
  int fd;
  int stream;           /* a FIFO: sequential writes only */
  uint64_t pos;         /* stream: bytes written so far */
  uint64_t saved_mask;  /* stream: the signal mask before SIGPIPE was blocked */
  int pipe_was_pending; /* stream: a SIGPIPE of the program's own was pending already */
  int index_fd;         /* stream: the index beside the FIFO, or -1 */
  char index_path[576]; /* AMBER_CTL_PATH and the file name */
  int (*cancelled)(void); /* a regular file: asked before each batch of pages; 1 gives up */
};

/* Opens path: an existing FIFO as a stream (waiting for its reader while still_wanted() says
 * so; it returns 0 to give up), otherwise a regular file, created mode 0600 unless the
 * coordinator made it. 0 or -errno. */
int amber_sink_open(struct amber_sink *s, const char *path, int (*still_wanted)(void));
/* The regular file at path, kept as it is (a pre-copy's pages are in it); 0 or -errno. */
int amber_sink_open_kept(struct amber_sink *s, const char *path);
/* Writes len bytes that belong at offset off of the file. A stream writes the zeros of a gap,
 * and refuses an offset it has passed (-ESPIPE). 0 or -errno. */
int amber_sink_write(struct amber_sink *s, const void *buf, uint64_t len, uint64_t off);
/* The same for n pieces of memory that follow one another in the file from offset off: one
 * system call for them all (pwritev) where the sink is a regular file. 0 or -errno. */
struct iovec;
int amber_sink_writev(struct amber_sink *s, struct iovec *iov, int n, uint64_t off);
/* The same for a section that the file's index holds too (all but the pages). */
int amber_sink_write_indexed(struct amber_sink *s, const void *buf, uint64_t len, uint64_t off);
/* Completes the file with its header: a regular file is synced and gets it at offset 0; a
 * stream gets it as its trailer. 0 or -errno. */
int amber_sink_finish(struct amber_sink *s, const void *header, uint64_t len);
/* Closes the sink; a regular file that failed is removed, and so is an index that failed or
 * whose stream did. A SIGPIPE that a reader gone away
 * raised is taken back, and the signal mask put back. */
void amber_sink_close(struct amber_sink *s, const char *path, int failed);

/* pwrite until everything is written; 0 or -errno. */
int amber_write_at(int fd, const void *buf, uint64_t len, uint64_t off);

/* agent_handover.c: this process's file, from the coordinator; a descriptor or -errno */
int amber_handover_take(void);

#endif
