/* The contract between C and TypeScript, printed as JSON: the enum values, flags, names and
 * record layouts that both sides use, taken from the C headers by the compiler itself (values,
 * sizeof, offsetof), so that nothing is copied by hand. tools/contract.ts turns this into
 * ffi/contract.ts, and `make test` fails when the committed file disagrees (docs/architecture.md).
 *
 * To share something new: add a group or a line below, then `make contract`. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../../csrc/common/credentials.h"
#include "../../csrc/common/image.h"
#include "../../csrc/common/table.h"

static int first_group = 1, first_item;

/* A group becomes `export const <name> = { ... } as const;` with `doc` as its comment. */
static void group(const char *name, const char *doc) {
  printf("%s\n  {\"name\": \"%s\", \"doc\": \"%s\", \"items\": [", first_group ? "" : ",", name,
         doc);
  first_group = 0;
  first_item = 1;
}

static void num(const char *key, long long value) {
  printf("%s\n    {\"key\": \"%s\", \"value\": %lld}", first_item ? "" : ",", key, value);
  first_item = 0;
}

static void str(const char *key, const char *value) {
  printf("%s\n    {\"key\": \"%s\", \"value\": \"%s\"}", first_item ? "" : ",", key, value);
  first_item = 0;
}

static void end(void) { printf("\n  ]}"); }

#define NUM(prefix, key) num(#key, prefix##key)
#define FIELD(type, field) num(#field, offsetof(type, field))

int main(void) {
  printf("[");

  group("PidFlag", "Flags of a pid row of the translation tables (AMBER_PID_* in table.h).");
  NUM(AMBER_PID_, PROCESS);
  NUM(AMBER_PID_, THREAD);
  NUM(AMBER_PID_, SUPERVISOR);
  NUM(AMBER_PID_, LEADER);
  NUM(AMBER_PID_, GONE);
  end();

  group("AppState", "The application's state, as its supervisor writes it (enum amber_app_state).");
  NUM(AMBER_APP_, STARTING);
  NUM(AMBER_APP_, RUNNING);
  NUM(AMBER_APP_, FAILED);
  NUM(AMBER_APP_, EXITED);
  end();

  group("Phase", "Snapshot phases the coordinator sets (enum amber_ctl_phase).");
  NUM(AMBER_PHASE_, IDLE);
  NUM(AMBER_PHASE_, FREEZE);
  NUM(AMBER_PHASE_, WRITE);
  NUM(AMBER_PHASE_, RESUME);
  NUM(AMBER_PHASE_, ABORT);
  NUM(AMBER_PHASE_, PRECOPY);
  end();

  group("AgentState", "States an agent reports (enum amber_agent_state).");
  NUM(AMBER_AGENT_, NONE);
  NUM(AMBER_AGENT_, FROZEN);
  NUM(AMBER_AGENT_, WRITTEN);
  NUM(AMBER_AGENT_, FAILED);
  NUM(AMBER_AGENT_, RESUMED);
  NUM(AMBER_AGENT_, EXITED);
  NUM(AMBER_AGENT_, CAPTURED);
  end();

  group("SnapshotFlag", "Flags of a snapshot (AMBER_SNAPSHOT_* in table.h).");
  NUM(AMBER_SNAPSHOT_, TCP_ESTABLISHED);
  NUM(AMBER_SNAPSHOT_, COW);
  NUM(AMBER_SNAPSHOT_, ENDING);
  NUM(AMBER_SNAPSHOT_, PRECOPIED);
  end();

  group("IdBase", "Where virtual IDs start: none equals a system ID (table.h).");
  num("PID", AMBER_VPID_MIN);
  num("IPC", AMBER_VIPC_BASE);
  end();

  group("VpidRanges",
        "Each application's virtual pids: BASE = PID_MIN + k * SIZE, k below COUNT (table.h).");
  num("PID_MIN", AMBER_VPID_MIN);
  num("SIZE", AMBER_TABLE_ROWS);
  num("COUNT", AMBER_VPID_RANGES);
  end();

  group("TablesVersion",
        "The tables' format: this build's version and size, and the older ones an image may "
        "hold (table.h), with where the table keeps its vpid_base.");
  num("CURRENT", AMBER_TABLE_VERSION);
  num("NO_MCAST", AMBER_TABLE_VERSION_NO_MCAST);
  num("FIXED_BASE", AMBER_TABLE_VERSION_FIXED_BASE);
  num("SIZE", sizeof(struct amber_table));
  num("SIZE_NO_MCAST", AMBER_TABLE_SIZE_NO_MCAST);
  num("VPID_BASE_OFFSET", offsetof(struct amber_table, vpid_base));
  end();

  group("ProcessFile", "A process's file in an image: prefix + virtual pid + suffix (image.h).");
  str("PREFIX", AMBER_PROC_FILE_PREFIX);
  str("SUFFIX", AMBER_PROC_FILE_SUFFIX);
  str("INDEX_SUFFIX", AMBER_PROC_INDEX_SUFFIX);
  end();

  group("CredsFile", "credentials.bin in an image (credentials.h): its name and its counts.");
  str("NAME", AMBER_CREDS_FILE);
  num("GROUPS", AMBER_CREDS_GROUPS);
  num("LIMITS", AMBER_CREDS_LIMITS);
  end();

  group("CredsRecord", "Byte offsets and size of struct amber_creds_rec (credentials.h).");
  num("size", sizeof(struct amber_creds_rec));
  FIELD(struct amber_creds_rec, vpid);
  FIELD(struct amber_creds_rec, ngroups);
  FIELD(struct amber_creds_rec, uid);
  FIELD(struct amber_creds_rec, gid);
  FIELD(struct amber_creds_rec, groups);
  FIELD(struct amber_creds_rec, limits);
  FIELD(struct amber_creds_rec, nice);
  end();

  /* Every errno the C library names, with its strerror text, so that TypeScript turns any
   * -errno into words (ffi/errno.ts) without a table of its own. The untranslated "C" locale:
   * nothing here calls setlocale. */
  group("Errno", "errno numbers by name (<errno.h>, from strerrorname_np; x86_64 Linux).");
  for (int e = 1; e < 4096; e++)
    if (strerrorname_np(e)) num(strerrorname_np(e), e);
  end();

  group("ErrnoText", "What each errno means, by name (the C library's strerror).");
  for (int e = 1; e < 4096; e++)
    if (strerrorname_np(e)) str(strerrorname_np(e), strerror(e));
  end();

  printf("\n]\n");
  return 0;
}
