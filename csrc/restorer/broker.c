/* The restorer reaches the application's descriptor broker (common/broker.h) for the process
 * while it still may: the broker's socket is in the application's private directory, which a
 * process that comes back as another user cannot search. The library takes the connection
 * over (amber_restore_args.broker_fd). */
#include <sys/socket.h>
#include <sys/un.h>

#include "../common/broker.h"
#include "restorer.h"

int broker_fd = -1;

void connect_broker(void) {
  if (tree_size() <= 1) return; /* one process shares with no one */
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  rt_copy(addr.sun_path, tables_path, sizeof addr.sun_path);
  int i = (int)strlen(addr.sun_path);
  while (i > 0 && addr.sun_path[i - 1] != '/') addr.sun_path[--i] = 0;
  rt_append(addr.sun_path, sizeof addr.sun_path, AMBER_BROKER_SOCKET);
  int s = (int)amber_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  if (amber_sys3(SYS_connect, s, &addr, sizeof addr) < 0) {
    amber_sys1(SYS_close, s);
    return; /* the library says so, if it needs the broker */
  }
  broker_fd = s;
}
