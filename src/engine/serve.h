/*
 * Serving clients with exec (-e, -c) and forwarding (--to): a listener
 * on the engine's loop accepts clients (--allow/--deny, -m apply) and
 * joins each to its own other side with one relay: a child process
 * (exec), or a new outbound connection made without blocking the loop
 * (forwarding, -w bounding it). Plain listen mode is the same with one
 * client; connect mode exec joins the one connected socket.
 */
#ifndef SOCKIT_SERVE_H
#define SOCKIT_SERVE_H

#include <stdbool.h>

#include "engine.h"
#include "relay.h"
#include "sockit/acl.h"
#include "sockit/addr.h"

typedef struct sk_serve_opts {
  const char *file;       /* exec: the program's path; NULL: forwarding */
  char *const *argv;      /* exec: its argv */
  const sk_addr_t *to;    /* forwarding: the target */
  int connect_timeout_ms; /* forwarding: -w; 0 as long as the kernel */
  bool keep;              /* many clients at once; else the first only */
  int max_clients;        /* -m: 0 for no limit (TCP); UDP sessions */
  int udp_idle_ms;        /* UDP: a session idle this long is closed */
  const sk_acl_t *acl;    /* NULL: everyone */
  bool verbose;           /* -v: notices per client */
  sk_relay_opts_t relay;  /* every client's relay (-i, --no-splice, -o) */
  /* TLS on the client's socket (a listener's: a server context; the
   * connected socket of sk_serve_fd: a client one, checked against
   * tls_host), and on the target's (--to-ssl: a client context, the
   * name checked is o->to's host). NULL: plaintext. Handshakes run here,
   * bounded, before the child is started or the target connected: a
   * client whose handshake fails ends alone and costs nothing else. */
  struct sk_tls_ctx *tls;
  const char *tls_host;
  struct sk_tls_ctx *to_tls;
} sk_serve_opts_t;

/* Serves the clients of the listening socket lfd (the caller's: it is
 * never closed here) on e's loop until the one client of plain mode is
 * done, or sk_engine_stop(). Returns 0 and *failed (a child that failed,
 * a connection that failed: exit 1), or a negative code with one line
 * in err (this run could not start). */
int sk_serve_run(sk_engine_t *e, char *err, int lfd, const sk_serve_opts_t *o,
                 bool *failed);

/* Connect mode exec: the program joined to the connected socket fd
 * (the caller's). As sk_serve_run, err also gets a failed relay's line. */
int sk_serve_fd(sk_engine_t *e, char *err, int fd, const sk_serve_opts_t *o,
                bool *failed);

/* UDP forwarding: each client address gets a session, its own socket
 * connected to o->to, closed after o->udp_idle_ms without traffic; at
 * most o->max_clients sessions (the one idle longest makes room). Runs
 * until sk_engine_stop(). */
int sk_serve_udp(sk_engine_t *e, char *err, int lfd, const sk_serve_opts_t *o);

#endif
