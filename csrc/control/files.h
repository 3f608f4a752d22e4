/* Opening what Amber reads and makes without following a link someone else planted: image
 * files are untrusted input (a FIFO would hang the reader, a link would read another file),
 * and Amber's private directories must be the ones it made. */
#ifndef AMBER_CTL_FILES_H
#define AMBER_CTL_FILES_H

#include <stdint.h>

/* Opens an existing regular file, looked at first without following a link (O_PATH), so that
 * a FIFO or device is never opened; flags: O_RDONLY or O_RDWR. Returns the descriptor, or
 * -ELOOP for a link, -EISDIR for a directory, -EINVAL for anything else that is not a regular
 * file, -errno. */
int amber_open_regular(const char *path, int flags);

/* An image's copy of the tables (tables.bin) read whole from path into copy, opened as above
 * and checked: its magic, version and size, every count within its array, every name ended.
 * 0, -EPROTO if it is not such a copy, or -errno. */
struct amber_table;
int amber_read_image_tables(const char *path, struct amber_table *copy);

/* tables.bin is compact (ctl_tables_file.c): a header, then only the table's pages that differ
 * from a fresh table's. Writes table so to fd: 0 or -errno. Reads it back from fd into copy, a
 * fresh table first, its header, indexes and length checked: 0, -EPROTO if it is not such a
 * file, or -errno. The one writer and the one reader of the format. */
int amber_write_image_tables(int fd, const struct amber_table *table);
int amber_read_tables_file(int fd, struct amber_table *copy);

/* pread until len bytes are read: 0, -EPROTO if the file ends first (a truncated image file),
 * or -errno. */
int amber_read_at(int fd, void *buf, uint64_t len, uint64_t off);

#endif
