/*
 * UDP forwarding: a datagram from a new client address opens a session,
 * its own socket connected to the target; the target's replies on that
 * socket go back to that client from the listening socket. Sessions
 * idle for udp_idle_ms are closed by one sweep timer; the table is
 * bounded (max_clients; when full, the session idle longest is closed).
 * Datagrams are moved one recv/send at a time: no relay, no buffer
 * beyond the one datagram in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "outlog.h"
#include "serve.h"
#include "sockit/sock.h"

#define DGRAM_MAX 65536
#define PER_WAKE 64 /* datagrams per poll wake-up, so no socket starves */
#define SESSIONS_DEFAULT 1000
#define IDLE_DEFAULT_MS 60000

typedef struct udp_fwd udp_fwd_t;

typedef struct udp_session {
  udp_fwd_t *f;
  struct udp_session *prev, *next;
  int fd;
  uv_poll_t poll;
  struct sockaddr_storage client;
  socklen_t client_len;
  uint64_t last; /* loop time of the last datagram either way */
} udp_session_t;

struct udp_fwd {
  sk_engine_t *e;
  sk__part_t part;
  sk_serve_opts_t o;
  int lfd;
  uv_poll_t lpoll;
  uv_timer_t sweep;
  bool running;
  unsigned closing;
  udp_session_t *sessions;
  int n_sessions, max_sessions;
  uint64_t idle_ms;
  struct addrinfo *targets;
  char to_name[SK_ADDRSTR_LEN];
  char buf[DGRAM_MAX];
};

static void session_closed(uv_handle_t *h) {
  udp_session_t *u = h->data;
  u->f->closing--;
  close(u->fd);
  free(u);
}

static void udp_session_close(udp_session_t *u) {
  udp_fwd_t *f = u->f;
  if (u->prev)
    u->prev->next = u->next;
  else
    f->sessions = u->next;
  if (u->next)
    u->next->prev = u->prev;
  f->n_sessions--;
  f->closing++;
  uv_close((uv_handle_t *)&u->poll, session_closed);
}

/* The target answers: back to the client, from the listening socket. */
static void on_reply(uv_poll_t *h, int status, int events) {
  udp_session_t *u = h->data;
  udp_fwd_t *f = u->f;
  (void)events;
  for (int i = 0; i < PER_WAKE && status == 0; i++) {
    ssize_t n = recv(u->fd, f->buf, sizeof f->buf, 0);
    if (n < 0)
      return; /* EAGAIN; ECONNREFUSED: the target is not there (yet) */
    u->last = uv_now(f->e->loop);
    sk__outlog_tap(f->o.relay.log, f->e, SK_OUTLOG_RECEIVED, f->buf, (size_t)n);
    sendto(f->lfd, f->buf, (size_t)n, MSG_NOSIGNAL,
           (struct sockaddr *)&u->client, u->client_len);
  }
}

static udp_session_t *
session_find(udp_fwd_t *f, const struct sockaddr_storage *from, socklen_t len) {
  for (udp_session_t *u = f->sessions; u; u = u->next)
    if (u->client_len == len && memcmp(&u->client, from, len) == 0)
      return u;
  return NULL;
}

/* The table is full: the session idle longest makes room. */
static void session_evict(udp_fwd_t *f) {
  udp_session_t *oldest = f->sessions;
  for (udp_session_t *u = f->sessions; u; u = u->next)
    if (u->last < oldest->last)
      oldest = u;
  if (oldest)
    udp_session_close(oldest);
}

static udp_session_t *
session_open(udp_fwd_t *f, const struct sockaddr_storage *from, socklen_t len) {
  const struct addrinfo *ai = f->targets;
  if (f->n_sessions >= f->max_sessions)
    session_evict(f);
  udp_session_t *u = calloc(1, sizeof *u);
  if (!u)
    return NULL;
  u->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (u->fd < 0 || connect(u->fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
      uv_poll_init(f->e->loop, &u->poll, u->fd) < 0) {
    if (f->o.verbose)
      sk__engine_log(f->e, SK_LOG_NOTICE, "connect %s: %s", f->to_name,
                     strerror(errno));
    if (u->fd >= 0)
      close(u->fd);
    free(u);
    return NULL;
  }
  u->f = f;
  u->poll.data = u;
  memcpy(&u->client, from, len);
  u->client_len = len;
  u->next = f->sessions;
  if (f->sessions)
    f->sessions->prev = u;
  f->sessions = u;
  f->n_sessions++;
  uv_poll_start(&u->poll, UV_READABLE, on_reply);
  return u;
}

/* A client speaks: to its session's socket (opened on its first word). */
static void on_datagram(uv_poll_t *h, int status, int events) {
  udp_fwd_t *f = h->data;
  (void)events;
  for (int i = 0; i < PER_WAKE && status == 0 && f->running; i++) {
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(f->lfd, f->buf, sizeof f->buf, 0,
                         (struct sockaddr *)&from, &len);
    if (n < 0)
      return;
    if (f->o.acl && !sk_acl_permits(f->o.acl, (struct sockaddr *)&from))
      continue;
    udp_session_t *u = session_find(f, &from, len);
    if (!u && !(u = session_open(f, &from, len)))
      continue;
    u->last = uv_now(f->e->loop);
    sk__outlog_tap(f->o.relay.log, f->e, SK_OUTLOG_SENT, f->buf, (size_t)n);
    send(u->fd, f->buf, (size_t)n, MSG_NOSIGNAL); /* lost, as UDP may be */
  }
}

static void on_sweep(uv_timer_t *t) {
  udp_fwd_t *f = t->data;
  uint64_t now = uv_now(f->e->loop);
  for (udp_session_t *u = f->sessions, *next; u; u = next) {
    next = u->next;
    if (now - u->last >= f->idle_ms)
      udp_session_close(u);
  }
}

static void udp_on_stop(void *mode, sk_stop_t reason) {
  udp_fwd_t *f = mode;
  (void)reason;
  if (!f->running)
    return;
  f->running = false;
  while (f->sessions)
    udp_session_close(f->sessions);
  uv_close((uv_handle_t *)&f->lpoll, NULL);
  uv_close((uv_handle_t *)&f->sweep, NULL);
  sk__engine_detach(f->e, &f->part);
}

static int udp_start(udp_fwd_t *f, char *err) {
  int rc;
  sk_addr_format(f->o.to, f->to_name, sizeof f->to_name);
  if (f->o.to->kind == SK_ADDR_UNIX)
    return sk__fail(err, -EINVAL, "-u --to needs host:port, not %s",
                    f->to_name);
  if ((rc = sk_addr_resolve(err, f->o.to, AF_UNSPEC, SOCK_DGRAM, false,
                            &f->targets)) < 0)
    return rc;
  if ((rc = sk_fd_set_nonblock(f->lfd, true)) < 0 ||
      (rc = uv_poll_init(f->e->loop, &f->lpoll, f->lfd)) < 0)
    return sk__fail(err, rc, "listen: %s", uv_strerror(rc));
  f->lpoll.data = f->sweep.data = f;
  uv_timer_init(f->e->loop, &f->sweep);
  uint64_t every = f->idle_ms / 4 ? f->idle_ms / 4 : 1;
  uv_timer_start(&f->sweep, on_sweep, every > 1000 ? 1000 : every,
                 every > 1000 ? 1000 : every);
  uv_poll_start(&f->lpoll, UV_READABLE, on_datagram);
  return 0;
}

int sk_serve_udp(sk_engine_t *e, char *err, int lfd, const sk_serve_opts_t *o) {
  udp_fwd_t *f = calloc(1, sizeof *f);
  if (!f)
    return sk__fail(err, -ENOMEM, "udp: %s", strerror(ENOMEM));
  f->e = e;
  f->o = *o;
  f->lfd = lfd;
  f->max_sessions = o->max_clients > 0 ? o->max_clients : SESSIONS_DEFAULT;
  f->idle_ms = o->udp_idle_ms > 0 ? (uint64_t)o->udp_idle_ms : IDLE_DEFAULT_MS;
  int rc = udp_start(f, err);
  if (rc == 0) {
    f->running = true;
    sk__engine_attach(e, &f->part, f, udp_on_stop);
    uv_run(e->loop, UV_RUN_DEFAULT);
  }
  if (f->targets)
    freeaddrinfo(f->targets);
  free(f);
  return rc;
}
