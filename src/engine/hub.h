/*
 * sockit: one listener, many clients: the -k relay, the byte broker and
 * the line chat room, on one libuv loop.
 */
#ifndef SOCKIT_HUB_H
#define SOCKIT_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "sockit/acl.h"

typedef enum sk_hub_mode {
  SK_HUB_KEEP = 1, /* -k: operator stdin to every client, clients to stdout */
  SK_HUB_BROKER,   /* --broker: each client's bytes to every other client */
  SK_HUB_CHAT,     /* --chat: named lines to every other client, logged */
} sk_hub_mode_t;

/*
 * Flow control: a client whose output queue passes max_queue / 2 pauses
 * reading from every client and the operator until it is back under
 * max_queue / 4, so that a burst does not push healthy readers out. A
 * client congested for 2 s, or past max_queue at any time, is dropped
 * with a notice: a stuck client holds the others back 2 s at most and
 * never makes the server grow; the 2 s belong to the client's address
 * (an address dropped for stalling is shed at once when it stalls again
 * within 60 s). A read is never more than half a queue can take. The
 * operator's input is read only while at least one client is connected,
 * as ncat does. In chat, out_fd is a log that never holds the room back:
 * lines it cannot take are dropped and counted.
 */
typedef struct sk_hub_opts {
  sk_hub_mode_t mode;
  int in_fd;            /* operator input (stdin), or -1 for none */
  int out_fd;           /* operator output (stdout), or -1 to discard */
  size_t max_line;      /* chat: longest line in bytes; 0 means 4096 */
  size_t max_queue;     /* per-client output queue; 0 means 1 MiB */
  int max_conns;        /* 0: as many as descriptors allow */
  int idle_timeout_ms;  /* 0: none; closes only a client that sent
                           nothing for this long */
  const sk_acl_t *acl;  /* NULL: everybody */
  bool verbose;         /* connection notices on stderr */
  bool crlf;            /* -k, broker: operator's LF sent as CRLF */
  unsigned history;     /* chat: lines of its room a joiner is sent
                           (0: none; at most 1000, more is taken as 1000;
                           a room keeps max_queue / 4 bytes at most) */
  int web_port;         /* chat: also serve the web client and its
                           WebSocket here (0: no web side) */
  const char *web_host; /* address the web side listens on (NULL: all) */
  struct sk_outlog *log; /* -k -o / --hex-dump: what clients send and the
                           operator's input, as read; NULL: none */
  const char *federate;      /* chat: redis://[:PASS@]HOST:PORT[/DB] or NULL */
  const char *federate_name; /* this server in /who; NULL: host:port */
  unsigned federate_ttl;     /* s a dead server's members linger; 0: 10 */
  struct sk_tls_ctx *tls;    /* server context: each client is a TLS
                                endpoint, a member once its handshake
                                is done; NULL: plaintext */
} sk_hub_opts_t;

/* Longest --federate-name. */
#define SK_HUB_FED_NAME_MAX 32

/*
 * Checks that opts can be served without dropping a reader for one
 * message it could not have avoided: in chat, the longest line once made
 * terminal-safe (3 bytes per byte, plus the name) must fit in half a
 * queue, the room left when reading pauses. Returns 0, or -EINVAL with
 * the rule in err (a usage error: exit code 2).
 */
int sk_hub_opts_check(char *err, const sk_hub_opts_t *opts);

/*
 * Serves clients accepted on listen_fd (a listening stream socket,
 * made by sk_tcp_listen or sk_socket_open), on e's loop, until
 * sk_engine_stop(e) asks (main does on SIGINT / SIGTERM), as ncat does;
 * the operator's input ending changes nothing else. Asked to stop, it
 * stops reading and accepting, gives every client and out_fd up to
 * SK_ENGINE_FLUSH_MS to take what is queued, then closes; asked again,
 * it closes at once. Returns 0, or a negative code with one line in err
 * (-EINVAL when sk_hub_opts_check refuses opts); e->reason says why it
 * ended. Notices go to e's log callback.
 */
int sk_hub_run(sk_engine_t *e, char *err, int listen_fd,
               const sk_hub_opts_t *opts);

/*
 * Checks a --federate URL, redis://[:PASSWORD@]HOST:PORT[/DB]. Returns 0,
 * or -EINVAL with one line in err naming what was expected (rediss://
 * is refused: TLS for Redis is not built yet).
 */
int sk_hub_federate_check(char *err, const char *url);

#endif
