/* An image's tables.bin, compact (files.h): the tables are almost 2 MiB of fixed arrays, nearly
 * all as a fresh table has them (zeros, and -1 for every row's system ID), so the file holds a
 * header, the indexes of the 4 KiB pages of the table that differ from a fresh table's, and
 * those pages. A reader starts from a fresh table and puts them back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/table.h"
#include "files.h"

#define TABLES_FILE_MAGIC 0x315a544252424d41ULL /* "AMBRTBZ1" */
#define PAGE 4096u
#define NPAGES ((sizeof(struct amber_table) + PAGE - 1) / PAGE)

struct tables_file_head {
  uint64_t magic;
  uint32_t version; /* AMBER_TABLE_VERSION */
  uint32_t size;    /* sizeof(struct amber_table): the size it expands to */
  uint32_t npages;  /* indexes (uint32_t, increasing) follow, then those pages */
  uint32_t pad;
};

/* Page i's length in a table of `size` bytes: the last one ends with the table. */
static size_t page_len_of(uint32_t i, size_t size) {
  size_t end = (size_t)(i + 1) * PAGE;
  return (end > size ? size : end) - (size_t)i * PAGE;
}

static size_t page_len(uint32_t i) { return page_len_of(i, sizeof(struct amber_table)); }

/* The size a table of this version has in an image, or 0 for a version not read. */
static size_t size_of_version(uint32_t version) {
  if (version == AMBER_TABLE_VERSION) return sizeof(struct amber_table);
  if (version == AMBER_TABLE_VERSION_NO_MCAST || version == AMBER_TABLE_VERSION_FIXED_BASE)
    return AMBER_TABLE_SIZE_NO_MCAST;
  return 0;
}

/* The fresh table the pages are compared to: zeros, and no row has a system ID, as
 * amber_table_create leaves it. */
static void blank(struct amber_table *t) {
  memset(t, 0, sizeof *t);
  for (int k = 0; k < AMBER_KIND_COUNT; k++)
    for (int i = 0; i < AMBER_TABLE_ROWS; i++) t->rows[k][i].sid = -1;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    p += n, len -= (size_t)n;
  }
  return 0;
}

int amber_write_image_tables(int fd, const struct amber_table *table) {
  /* One copy taken first: the live table may change while the pages are picked. */
  size_t cap = sizeof(struct tables_file_head) + NPAGES * sizeof(uint32_t) + sizeof *table;
  char *buf = malloc(2 * sizeof *table + cap);
  if (!buf) return -ENOMEM;
  char *copy = buf, *fresh = buf + sizeof *table, *out = fresh + sizeof *table;
  memcpy(copy, table, sizeof *table);
  /* The live processes' tracking epochs say what their write-protect bits hold: nothing a
   * restore has (it starts without tracking), so not kept, and the image does not depend on
   * whether the agents had armed again when it was taken. */
  memset(((struct amber_table *)copy)->dirty_epoch, 0, sizeof table->dirty_epoch);
  /* Multicast memberships travel with their sockets' owners (preload/fds/mcast_keep.c), which
   * note them again in the restored tables. */
  ((struct amber_table *)copy)->nmcast = ((struct amber_table *)copy)->mcast_full = 0;
  memset(((struct amber_table *)copy)->mcast, 0, sizeof table->mcast);
  blank((struct amber_table *)fresh);
  struct tables_file_head head = {TABLES_FILE_MAGIC, AMBER_TABLE_VERSION, sizeof *table, 0, 0};
  uint32_t *index = (uint32_t *)(out + sizeof head);
  for (uint32_t i = 0; i < NPAGES; i++)
    if (memcmp(copy + (size_t)i * PAGE, fresh + (size_t)i * PAGE, page_len(i))) index[head.npages++] = i;
  char *p = (char *)(index + head.npages);
  for (uint32_t n = 0; n < head.npages; n++) {
    memcpy(p, copy + (size_t)index[n] * PAGE, page_len(index[n]));
    p += page_len(index[n]);
  }
  memcpy(out, &head, sizeof head);
  int err = write_all(fd, out, (size_t)(p - out));
  free(buf);
  return err;
}

static int read_at(int fd, void *buf, size_t len, off_t off) {
  ssize_t n = pread(fd, buf, len, off);
  return n == (ssize_t)len ? 0 : -EPROTO;
}

int amber_read_tables_file(int fd, struct amber_table *copy) {
  struct tables_file_head head;
  struct stat st;
  if (fstat(fd, &st)) return -errno;
  if (read_at(fd, &head, sizeof head, 0) || head.magic != TABLES_FILE_MAGIC) return -EPROTO;
  size_t size = size_of_version(head.version); /* an older one is shorter: the rest stays blank */
  uint32_t npages = (uint32_t)((size + PAGE - 1) / PAGE);
  if (!size || head.size != size || head.npages > npages) return -EPROTO;
  uint32_t index[NPAGES];
  off_t off = sizeof head;
  if (read_at(fd, index, head.npages * sizeof *index, off)) return -EPROTO;
  off += head.npages * sizeof *index;
  blank(copy);
  for (uint32_t n = 0; n < head.npages; n++) {
    /* Increasing: each page once, inside the table. */
    if (index[n] >= npages || (n && index[n] <= index[n - 1])) return -EPROTO;
    size_t len = page_len_of(index[n], size);
    if (read_at(fd, (char *)copy + (size_t)index[n] * PAGE, len, off)) return -EPROTO;
    off += (off_t)len;
  }
  return st.st_size == off ? 0 : -EPROTO; /* nothing after the last page */
}
