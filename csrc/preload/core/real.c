/* Resolves the real libc functions behind every wrapper, once. */
#include <dlfcn.h>

#include "symbols.h"

struct amber_real_table amber_real_fns;

void amber_resolve_real(void) {
#define AMBER_RESOLVE(ret, name, params)                                                         \
  amber_real_fns.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
  AMBER_SYMBOLS(AMBER_RESOLVE)
#undef AMBER_RESOLVE
}
