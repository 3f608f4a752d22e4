/* The VNE table: one shared-memory file per computer ($AMBER_STATE_DIR/vne.table) that says,
 * for every virtual network environment known here, where each virtual address is now. The
 * interposition library reads it on every translation without leaving shared memory; it
 * writes it when a program binds or closes a socket. The control library writes it for the
 * command line, and the agent mirrors other computers' entries (from etcd) into it.
 *
 *   defs:   VNE name -> subnet
 *   claims: (VNE, virtual IP) -> the application that holds it, and its virtual hostname
 *   rows:   (VNE, proto, virtual IP, virtual port) -> (real IPv4, real port)
 *
 * A real IPv4 of 0 means "this computer": the library connects to 127.0.0.1. Addresses and
 * ports are in network byte order. Writers take one robust, process-shared mutex; readers
 * take none (a row is complete before its state says LIVE). Every change bumps `generation`,
 * which the agent polls to publish this computer's entries. */
#ifndef AMBER_VNE_H
#define AMBER_VNE_H

#include <pthread.h>
#include <stdint.h>

#define AMBER_VNE_MAGIC 0x31454e56524d4241ULL /* "AMBRVNE1" */
#define AMBER_VNE_VERSION 1
#define AMBER_VNE_MAX 64
#define AMBER_VNE_CLAIMS 1024
#define AMBER_VNE_ROWS 8192

/* Who wrote an entry: this computer (its programs, its command line), or the agent, copying
 * another computer's entry from the distributed registry. */
enum amber_vne_origin { AMBER_VNE_LOCAL = 1, AMBER_VNE_MIRROR = 2 };

struct amber_vne_def {
  int32_t state;   /* enum amber_row_state */
  int32_t origin;  /* enum amber_vne_origin */
  uint32_t subnet; /* network byte order, host bits clear */
  uint32_t prefix; /* 0..32 */
  char name[64];
};

struct amber_vne_claim {
  int32_t state;
  int32_t origin;
  int32_t vne; /* index into defs */
  uint32_t vip;
  char app_id[40];
  char app[64];
  char hostname[68];
  char host[64]; /* the computer it runs on: its agent's name, "" for this one */
};

struct amber_vne_row {
  int32_t state;
  int32_t origin;
  int32_t vne;
  uint32_t vip;
  uint32_t rip; /* 0: this computer */
  uint16_t vport, rport;
  uint8_t proto;
  uint8_t pad[3];
  int32_t pid; /* the system pid that bound it (local rows), to tell a stale row */
  char app_id[40];
};

struct amber_vne_table {
  uint64_t magic;
  uint32_t version;
  uint32_t size;
  pthread_mutex_t lock;
  uint32_t generation;
  uint32_t high; /* one past the highest row slot ever used: bounds the scans */
  struct amber_vne_def defs[AMBER_VNE_MAX];
  struct amber_vne_claim claims[AMBER_VNE_CLAIMS];
  struct amber_vne_row rows[AMBER_VNE_ROWS];
};

/* Opens the table at path, creating it (mode 0600) if `create` and it does not exist.
 * Returns 0 or -errno. */
int amber_vne_open(const char *path, int create, struct amber_vne_table **out);
void amber_vne_close(struct amber_vne_table *t);
void amber_vne_lock(struct amber_vne_table *t);
void amber_vne_unlock(struct amber_vne_table *t); /* bumps the generation */

static inline int amber_vne_in(const struct amber_vne_def *d, uint32_t ip) {
  uint32_t mask = d->prefix ? __builtin_bswap32(~0U << (32 - d->prefix)) : 0;
  return (ip & mask) == d->subnet;
}

/* Lookups without the lock: -1 / NULL when unknown. */
int amber_vne_find(const struct amber_vne_table *t, const char *name);
/* The VNE whose subnet holds ip, or -1. */
int amber_vne_of_ip(const struct amber_vne_table *t, uint32_t ip);
struct amber_vne_claim *amber_vne_claim_of_ip(struct amber_vne_table *t, int vne, uint32_t vip);
struct amber_vne_claim *amber_vne_claim_of_host(struct amber_vne_table *t, int vne,
                                                const char *hostname);
struct amber_vne_row *amber_vne_row_of(struct amber_vne_table *t, int vne, int proto,
                                       uint32_t vip, uint16_t vport);
/* The row whose real address is (rip, rport); rip 0 matches rows of this computer. */
struct amber_vne_row *amber_vne_row_of_real(struct amber_vne_table *t, int vne, int proto,
                                            uint32_t rip, uint16_t rport);

/* Changes, with the lock held. put replaces a row of the same virtual address; it returns
 * NULL when the table is full. */
struct amber_vne_row *amber_vne_row_put(struct amber_vne_table *t, int vne, int proto,
                                        uint32_t vip, uint16_t vport);
void amber_vne_row_free(struct amber_vne_row *row);
/* Makes a row that put returned, and the caller filled, visible to readers. */
static inline void amber_vne_row_live(struct amber_vne_row *row) {
  __atomic_store_n(&row->state, 1 /* AMBER_ROW_LIVE */, __ATOMIC_RELEASE);
}

#endif
