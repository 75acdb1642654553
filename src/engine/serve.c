/*
 * The serve shape, written once for exec and forwarding: a listener on
 * the loop, one session per client, each session one relay between the
 * client socket (side a) and its other side (b): a child's socket ends
 * (exec: b's EOF, the child's stdout, ends the relay; the client's EOF
 * shuts the child's stdin) or an outbound connection (forwarding: each
 * direction ends on its own, half-close carried through).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "child.h"
#include "endpoint.h"
#include "internal.h"
#include "serve.h"
#include "sockit/sock.h"
#include "sockit/tls.h"

#define ACCEPTS_PER_WAKE 64

typedef struct serve serve_t;
typedef struct session session_t;

/* The TLS sides of a session: the client's socket, the target's. */
enum { HS_CLIENT, HS_TARGET, HS_SIDES };

/* One side's TLS, allocated for TLS only (a plaintext session stays
 * its size): its session (the relay's once the handshake is done;
 * freed with the session) and, while the handshake runs, its poll (an
 * endpoint) and its bound. */
typedef struct hs {
  session_t *c;
  int side;
  sk_tls_t *tls;
  sk__endpoint_t ep; /* ep.owner: this */
  uv_timer_t timer;  /* timer.data: this */
  bool live;         /* the handshake is running */
} hs_t;

struct session {
  serve_t *s;
  struct session *prev, *next;
  int cfd;           /* the client */
  int ofd;           /* forwarding: the outbound socket */
  sk__child_t child; /* exec */
  bool child_live;   /* the process handle is open */
  bool relay_live;
  bool connecting;           /* forwarding: the connect is in progress */
  bool cpoll_ready;          /* cpoll is open (closed after each try) */
  bool timed_out, aborted;   /* -w, or a stop: no more tries */
  hs_t *hs[HS_SIDES];        /* TLS (opts' tls, to_tls), or NULL */
  int cerr;                  /* the last try's errno */
  const struct addrinfo *ai; /* forwarding: the address being tried */
  uv_poll_t cpoll;           /* forwarding: the connect's completion */
  uv_timer_t ctimer;         /* forwarding: -w */
  unsigned closing;          /* handles whose close is pending */
  char name[SK_ADDRSTR_LEN]; /* "127.0.0.1 41234", for messages */
  char peer[SK_ADDRSTR_LEN]; /* "127.0.0.1:41234", for the relay */
};

struct serve {
  sk_engine_t *e;
  sk__part_t part;
  sk_serve_opts_t o;
  int lfd;
  uv_poll_t lpoll;
  uv_timer_t timer; /* an accept pause (EMFILE) */
  bool timer_ready;
  bool listening, stopping, attached;
  session_t *sessions;
  int n_sessions;
  struct addrinfo *targets; /* forwarding to an inet target */
  struct addrinfo unix_target;
  struct sockaddr_un unix_sa;
  char to_name[SK_ADDRSTR_LEN];
  bool failed;
  int rc; /* the first failure of plain mode */
  char err[SK_ERR_LEN];
};

static void serve_check_end(serve_t *s);

/* ---- a session ------------------------------------------------------ */

static void session_free(session_t *c) {
  serve_t *s = c->s;
  for (int i = 0; i < HS_SIDES; i++) {
    if (c->hs[i])
      sk_tls_free(c->hs[i]->tls); /* after the relay: it used them */
    free(c->hs[i]);
  }
  if (c->cfd >= 0)
    close(c->cfd);
  if (c->ofd >= 0)
    close(c->ofd);
  sk__child_close_fds(&c->child);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->sessions = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->n_sessions--;
  free(c);
  serve_check_end(s);
}

static bool hs_live(const session_t *c, int side) {
  return c->hs[side] && c->hs[side]->live;
}

/* Over when nothing of it is running or closing any more. */
static void session_check_end(session_t *c) {
  if (!c->child_live && !c->relay_live && !c->connecting &&
      !hs_live(c, HS_CLIENT) && !hs_live(c, HS_TARGET) && c->closing == 0)
    session_free(c);
}

static void session_handle_closed(uv_handle_t *h) {
  session_t *c = h->data;
  c->closing--;
  session_check_end(c);
}

static void session_close_handle(session_t *c, uv_handle_t *h) {
  if (uv_is_closing(h))
    return;
  c->closing++;
  uv_close(h, session_handle_closed);
}

static void session_relay_done(void *arg, int rc, sk_stop_t reason,
                               const char *err, const sk_relay_stats_t *stats) {
  session_t *c = arg;
  serve_t *s = c->s;
  (void)reason;
  (void)stats;
  c->relay_live = false;
  if (rc < 0) {
    s->failed = true;
    if (!s->o.keep && s->o.file && s->rc == 0) {
      s->rc = rc; /* plain mode: main says it */
      snprintf(s->err, sizeof s->err, "%s", err);
    } else if (s->o.verbose) {
      sk__engine_log(s->e, SK_LOG_NOTICE, "%s: %s", c->name, err);
    }
  }
  /* Nobody reads or feeds the child any more: its stdout gets EPIPE and
   * its stdin EOF, rather than blocking until the child is killed. */
  sk__child_close_fds(&c->child);
  /* The client's FIN now, not when the child is reaped; the target's
   * now too (the relay may have left both FINs to these closes: see
   * closes_after). */
  if (c->cfd >= 0 && !c->child_live) {
    close(c->cfd);
    c->cfd = -1;
  } else if (c->cfd >= 0) {
    shutdown(c->cfd, SHUT_RDWR);
  }
  if (c->ofd >= 0)
    close(c->ofd);
  c->ofd = -1;
  session_check_end(c);
}

static void session_relay_start(session_t *c, const sk_relay_side_t *b) {
  serve_t *s = c->s;
  char err[SK_ERR_LEN];
  sk_relay_opts_t o = s->o.relay;
  sk_relay_side_t a = {c->cfd, c->cfd, c->peer, NULL};
  o.peer_name = c->peer;
  o.a_tls = c->hs[HS_CLIENT] ? c->hs[HS_CLIENT]->tls : NULL;
  o.tls = c->hs[HS_TARGET] ? c->hs[HS_TARGET]->tls : NULL; /* exec: none */
  /* Ours and non-blocking: the client when accepted here (sk_serve_fd's
   * is a dup of the caller's, whose flags come back), the target. */
  o.a_stream = s->lfd >= 0;
  o.b_stream = !s->o.file;
  o.closes_after = o.a_stream && o.b_stream; /* session_relay_done does */
  if (s->o.file)
    o.shutdown_on_eof = true; /* the client's EOF: the child's stdin's */
  else
    o.half_close = true;
  c->relay_live = true;
  if (sk_relay_start(s->e, err, &a, b, &o, session_relay_done, c) < 0) {
    c->relay_live = false;
    s->failed = true;
    sk__engine_log(s->e, SK_LOG_ERROR, "%s: %s", c->name, err);
    if (c->child_live)
      uv_process_kill(&c->child.proc, SIGTERM);
  }
}

/* ---- TLS: each side's handshake, before what comes next ------------ */

/* Run here rather than by the relay: a client that fails its handshake
 * (plaintext, a refused certificate, silence) must end before a child
 * is started or the target is connected for it; a refused target ends
 * only its client, with the refusal said every time. */

static void session_proceed(session_t *c);
static void target_ready(session_t *c);
static void listener_stop(serve_t *s);
static void on_client(uv_poll_t *h, int status, int events);

/* The poll's data is its endpoint (whose owner is the hs), the timer's
 * the hs. */
static void hs_handle_closed(uv_handle_t *handle) {
  hs_t *h = handle->type == UV_POLL ? ((sk__endpoint_t *)handle->data)->owner
                                    : handle->data;
  h->c->closing--;
  session_check_end(h->c);
}

static void hs_close_handle(hs_t *h, uv_handle_t *handle) {
  h->c->closing++;
  uv_close(handle, hs_handle_closed);
}

/* A failed handshake's line: the target's always (its certificate is
 * the operator's to mend), a client's with -v; plain mode's one client
 * is the run's failure (main says it, exit 1) when it was connected
 * (-e/--to with a host), and refused aloud when it came to -l. */
static void hs_failed(session_t *c, int side, const char *err) {
  serve_t *s = c->s;
  if (side == HS_TARGET) {
    sk__engine_log(s->e, SK_LOG_ERROR, "%s", err);
  } else if (!s->o.keep && s->lfd >= 0) {
    /* plain -l: the client that counts is the first whose handshake
     * completes; this one is refused aloud, the listener takes the next */
    sk__engine_log(s->e, SK_LOG_ERROR, "%s", err);
    if (s->listening)
      uv_poll_start(&s->lpoll, UV_READABLE, on_client);
  } else if (!s->o.keep && s->rc == 0) {
    s->failed = true;
    s->rc = SK_ETLS;
    snprintf(s->err, sizeof s->err, "%s", err);
  } else if (s->o.verbose) {
    sk__engine_log(s->e, SK_LOG_NOTICE, "%s", err);
  }
}

/* Side's handshake is over: done (err NULL), failed (err its line) or
 * stopped (both). Its poll and bound close; uv_close unregisters the
 * poll at once, so the relay may poll the same descriptor next. */
static void hs_end(hs_t *h, bool done, const char *err) {
  session_t *c = h->c;
  serve_t *s = c->s;
  int side = h->side;
  h->live = false;
  hs_close_handle(h, (uv_handle_t *)&h->timer);
  if (sk__endpoint_close(&h->ep, hs_handle_closed))
    c->closing++;
  sk__endpoint_tls_detach(&h->ep);
  if (done && s->o.verbose && !s->o.relay.verbose) /* the relay says it */
    sk__engine_log(s->e, SK_LOG_NOTICE, "TLS with %s: %s, %s",
                   side == HS_CLIENT ? c->peer : s->to_name,
                   sk_tls_version(h->tls), sk_tls_cipher(h->tls));
  if (done && side == HS_CLIENT && !s->o.keep)
    listener_stop(s); /* plain -l: this is the one client */
  if (done && side == HS_CLIENT)
    session_proceed(c);
  else if (done)
    target_ready(c);
  else if (err)
    hs_failed(c, side, err);
  session_check_end(c);
}

static void hs_poll_cb(uv_poll_t *p, int status, int events);

/* One step; the session waits for the poll the session asked for. */
static void hs_step(hs_t *h) {
  char err[SK_ERR_LEN];
  int rc = sk__endpoint_tls_handshake(&h->ep);
  if (rc == 0) {
    sk__endpoint_watch(&h->ep, h->ep.tls->hs_wait, hs_poll_cb);
    return;
  }
  snprintf(err, sizeof err, "%s", h->ep.tls->err); /* detach frees it */
  hs_end(h, rc > 0, rc > 0 ? NULL : err);
}

static void hs_poll_cb(uv_poll_t *p, int status, int events) {
  sk__endpoint_t *ep = p->data;
  sk__endpoint_tls_ready(ep, status < 0 ? UV_READABLE | UV_WRITABLE : events);
  if (status < 0)
    sk__endpoint_poll_failed(ep);
  hs_step(ep->owner);
}

/* How long a handshake may take (-i here). */
static int hs_limit(const serve_t *s) {
  return sk_engine_handshake_ms(s->o.relay.idle_timeout_ms);
}

static void on_hs_timeout(uv_timer_t *t) {
  hs_t *h = t->data;
  char err[SK_ERR_LEN];
  snprintf(err, sizeof err, "TLS handshake with %.200s: no answer for %d ms",
           h->side == HS_CLIENT ? h->c->peer : h->c->s->to_name,
           hs_limit(h->c->s));
  hs_end(h, false, err);
}

/* Starts side's handshake on fd (host: the name a client checks, or
 * NULL); its end comes to hs_end. */
static void hs_start(session_t *c, int side, sk_tls_ctx_t *ctx, int fd,
                     const char *host, const char *peer) {
  serve_t *s = c->s;
  hs_t *h = c->hs[side] = calloc(1, sizeof *h);
  char err[SK_ERR_LEN];
  if (!h) {
    snprintf(err, sizeof err, "%.200s: %s", peer, strerror(ENOMEM));
    hs_failed(c, side, err);
    session_check_end(c);
    return;
  }
  h->c = c;
  h->side = side;
  int rc = sk_tls_new(err, &h->tls, ctx, fd, host, peer);
  if (rc == 0 && (rc = sk__endpoint_adopt(&h->ep, s->e->loop, h, fd)) < 0)
    snprintf(err, sizeof err, "%.200s: %s", peer, uv_strerror(rc));
  if (rc == 0 && (rc = sk__endpoint_tls_attach(&h->ep, h->tls)) < 0)
    snprintf(err, sizeof err, "%.200s: %s", peer, strerror(ENOMEM));
  uv_timer_init(s->e->loop, &h->timer);
  h->timer.data = h;
  h->live = true;
  if (rc < 0) {
    hs_end(h, false, err);
    return;
  }
  uv_timer_start(&h->timer, on_hs_timeout, (uint64_t)hs_limit(s), 0);
  hs_step(h);
}

/* ---- exec ----------------------------------------------------------- */

static void child_closed(uv_handle_t *h) {
  session_t *c = h->data;
  c->child_live = false;
  if (!c->relay_live && c->cfd >= 0) {
    close(c->cfd);
    c->cfd = -1;
  }
  session_check_end(c);
}

static void child_exited(uv_process_t *p, int64_t status, int signum) {
  session_t *c = p->data;
  if (status != 0 || (signum != 0 && !c->s->stopping))
    c->s->failed = true;
  uv_close((uv_handle_t *)p, child_closed);
}

static void session_exec(session_t *c) {
  serve_t *s = c->s;
  c->child.proc.data = c;
  int rc = sk__child_spawn(&c->child, s->e->loop, s->o.file, s->o.argv, c->cfd,
                           child_exited);
  if (rc < 0) {
    /* uv_spawn leaves its handle initialised even when it fails. */
    if (rc != -ENOMEM && rc != -EMFILE && rc != -ENFILE) {
      c->child_live = true;
      uv_close((uv_handle_t *)&c->child.proc, child_closed);
    }
    s->failed = true;
    s->rc = s->rc ? s->rc : rc;
    snprintf(s->err, sizeof s->err, "exec \"%s\": %s", s->o.argv[0],
             uv_strerror(rc));
    if (s->o.keep)
      sk__engine_log(s->e, SK_LOG_ERROR, "%s: %s", c->name, s->err);
    session_check_end(c);
    return;
  }
  c->child_live = true;
  sk_relay_side_t b = {c->child.out_fd, c->child.in_fd, s->o.argv[0], NULL};
  session_relay_start(c, &b);
}

/* ---- forwarding: a non-blocking connect on the loop ----------------- */

/* One try per resolved address: a socket, connect, its poll; the poll
 * is closed after each try (the relay polls the same descriptor, and a
 * descriptor has one poll), and what follows runs in its close callback.
 * -w (ctimer) bounds the whole connect. */

static void connect_try(session_t *c);

/* The connect is over and failed: one -v line, the client closed. */
static void connect_give_up(session_t *c) {
  serve_t *s = c->s;
  if (s->o.verbose && !c->aborted)
    sk__engine_log(s->e, SK_LOG_NOTICE, "%s: connect %s: %s", c->name,
                   s->to_name, c->timed_out ? "timed out" : strerror(c->cerr));
  c->connecting = false;
  session_close_handle(c, (uv_handle_t *)&c->ctimer);
  session_check_end(c);
}

/* This try failed: the next address, or the end. */
static void connect_next(session_t *c) {
  if (c->ofd >= 0)
    close(c->ofd);
  c->ofd = -1;
  if (!c->timed_out && !c->aborted && c->ai->ai_next) {
    c->ai = c->ai->ai_next;
    connect_try(c);
    return;
  }
  connect_give_up(c);
}

static void cpoll_closed(uv_handle_t *h) {
  session_t *c = h->data;
  c->closing--;
  c->cpoll_ready = false;
  if (c->cerr || c->timed_out || c->aborted)
    connect_next(c);
  else
    session_check_end(c);
}

static void cpoll_close(session_t *c) {
  if (c->cpoll_ready && !uv_is_closing((uv_handle_t *)&c->cpoll)) {
    c->closing++;
    uv_close((uv_handle_t *)&c->cpoll, cpoll_closed);
  }
}

/* Connected: the relay takes the socket at once. uv_close has already
 * taken our poll off the descriptor (libuv unregisters it there, before
 * the callback), so the relay's own poll may watch it now. */
static void connect_done(session_t *c) {
  serve_t *s = c->s;
  c->connecting = false;
  uv_timer_stop(&c->ctimer);
  session_close_handle(c, (uv_handle_t *)&c->ctimer);
  cpoll_close(c);
  if (s->o.to_tls)
    hs_start(c, HS_TARGET, s->o.to_tls, c->ofd,
             s->o.to->kind == SK_ADDR_INET ? s->o.to->host : NULL, s->to_name);
  else
    target_ready(c);
}

/* Connected (and, with --to-ssl, the target's handshake done). */
static void target_ready(session_t *c) {
  sk_relay_side_t b = {c->ofd, c->ofd, c->s->to_name, NULL};
  session_relay_start(c, &b);
}

static void on_connected(uv_poll_t *h, int status, int events) {
  session_t *c = h->data;
  int e = 0;
  socklen_t len = sizeof e;
  (void)events;
  /* libuv reports POLLERR as UV_EBADF: the socket knows the real one. */
  if (getsockopt(c->ofd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
    e = errno;
  else if (e == 0 && status < 0)
    e = -status;
  if (e == EINPROGRESS || e == EALREADY)
    return;
  c->cerr = e;
  if (e == 0) {
    connect_done(c);
    return;
  }
  uv_timer_stop(&c->ctimer);
  cpoll_close(c);
}

/* -w, or sk_engine_stop(): the try in progress ends; no other follows. */
static void connect_abort(session_t *c, bool timed_out) {
  c->timed_out |= timed_out;
  c->aborted |= !timed_out;
  uv_timer_stop(&c->ctimer);
  cpoll_close(c);
}

static void on_connect_timeout(uv_timer_t *t) {
  connect_abort(t->data, true);
}

/* True when the connect is already over (and the relay started). On
 * loopback the handshake is often over by the time connect returns:
 * one getpeername(2), which answers only for an established socket,
 * spares the loop a round (and epoll three calls) per connection. A
 * socket not connected yet, or refused already, is left to the poll,
 * which reports either. */
static bool connect_ready(session_t *c, int rc) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (rc < 0 && getpeername(c->ofd, (struct sockaddr *)&ss, &len) < 0)
    return false;
  connect_done(c);
  return true;
}

/* Starts connecting to c->ai; the end comes to cpoll_closed. */
static void connect_try(session_t *c) {
  const struct addrinfo *ai = c->ai;
  int rc;
  c->cerr = 0;
  c->ofd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->ofd < 0) {
    c->cerr = errno;
    connect_next(c);
    return;
  }
  do
    rc = connect(c->ofd, ai->ai_addr, ai->ai_addrlen);
  while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS && errno != EAGAIN) {
    c->cerr = errno;
    connect_next(c);
    return;
  }
  if (connect_ready(c, rc))
    return;
  if ((rc = uv_poll_init(c->s->e->loop, &c->cpoll, c->ofd)) < 0) {
    c->cerr = -rc;
    connect_next(c);
    return;
  }
  c->cpoll.data = c;
  c->cpoll_ready = true;
  uv_poll_start(&c->cpoll, UV_WRITABLE, on_connected);
}

static void session_forward(session_t *c) {
  serve_t *s = c->s;
  uv_timer_init(s->e->loop, &c->ctimer);
  c->ctimer.data = c;
  c->connecting = true;
  if (s->o.connect_timeout_ms > 0)
    uv_timer_start(&c->ctimer, on_connect_timeout,
                   (uint64_t)s->o.connect_timeout_ms, 0);
  c->ai = s->targets ? s->targets : &s->unix_target;
  connect_try(c);
}

/* ---- the listener --------------------------------------------------- */

static session_t *session_new(serve_t *s, int cfd,
                              const struct sockaddr_storage *peer,
                              socklen_t len) {
  session_t *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->s = s;
  c->cfd = cfd;
  c->ofd = -1;
  c->child.in_fd = c->child.out_fd = -1;
  sk_sockaddr_format((const struct sockaddr *)peer, len, c->peer,
                     sizeof c->peer);
  char host[INET6_ADDRSTRLEN];
  int port = sk_sockaddr_host((const struct sockaddr *)peer, host, sizeof host);
  if (port >= 0)
    snprintf(c->name, sizeof c->name, "%s %d", host, port);
  else
    snprintf(c->name, sizeof c->name, "%s", c->peer);
  c->next = s->sessions;
  if (s->sessions)
    s->sessions->prev = c;
  s->sessions = c;
  s->n_sessions++;
  return c;
}

/* The client is ready (its handshake done): its program, or target. */
static void session_proceed(session_t *c) {
  if (c->s->o.file)
    session_exec(c);
  else
    session_forward(c);
}

static void session_begin(serve_t *s, int cfd,
                          const struct sockaddr_storage *peer, socklen_t len) {
  session_t *c = session_new(s, cfd, peer, len);
  if (!c) {
    close(cfd);
    return;
  }
  if (s->o.tls)
    hs_start(c, HS_CLIENT, s->o.tls, cfd, s->o.tls_host, c->peer);
  else
    session_proceed(c);
}

static void listener_stop(serve_t *s) {
  if (!s->listening)
    return;
  s->listening = false;
  uv_close((uv_handle_t *)&s->lpoll, NULL);
}

/* A client the listener may not take: --allow/--deny, -m. */
static bool client_refused(serve_t *s, const struct sockaddr_storage *peer,
                           socklen_t len) {
  char name[SK_ADDRSTR_LEN];
  const struct sockaddr *sa = (const struct sockaddr *)peer;
  bool acl = s->o.acl && !sk_acl_permits(s->o.acl, sa);
  bool full = s->o.max_clients > 0 && s->n_sessions >= s->o.max_clients;
  if (!acl && !full)
    return false;
  if (s->o.verbose) {
    sk_sockaddr_format(sa, len, name, sizeof name);
    sk__engine_log(s->e, SK_LOG_NOTICE,
                   acl ? "refused (--allow/--deny) %s"
                       : "%s: over -m %d clients",
                   name, s->o.max_clients);
  }
  return true;
}

static void on_client(uv_poll_t *h, int status, int events);

static void on_accept_resume(uv_timer_t *t) {
  serve_t *s = t->data;
  if (s->listening)
    uv_poll_start(&s->lpoll, UV_READABLE, on_client);
}

/* accept failed (EMFILE: out of descriptors): the client waits in the
 * backlog; the listener is left alone for 100 ms instead of spinning
 * on a readable socket it cannot take from. Said once per pause. */
static void accept_pause(serve_t *s, const char *err) {
  sk__engine_log(s->e, SK_LOG_ERROR, "%s; accepting again in 100 ms", err);
  uv_poll_stop(&s->lpoll);
  uv_timer_start(&s->timer, on_accept_resume, 100, 0);
}

static void on_client(uv_poll_t *h, int status, int events) {
  serve_t *s = h->data;
  char err[SK_ERR_LEN];
  (void)events;
  for (int i = 0; i < ACCEPTS_PER_WAKE && s->listening && status == 0; i++) {
    struct sockaddr_storage peer;
    socklen_t len;
    int cfd = sk__accept(err, s->lfd, &peer, &len, SOCK_NONBLOCK);
    if (cfd < 0) {
      if (cfd != -EAGAIN && cfd != -EWOULDBLOCK)
        accept_pause(s, err);
      return;
    }
    if (client_refused(s, &peer, len)) {
      close(cfd);
      continue;
    }
    if (s->o.verbose) {
      char host[SK_ADDRSTR_LEN];
      int port = sk_sockaddr_host((struct sockaddr *)&peer, host, sizeof host);
      if (port >= 0)
        sk__engine_log(s->e, SK_LOG_NC, "Connection received on %s %d", host,
                       port);
    }
    if (!s->o.keep && s->o.tls) {
      uv_poll_stop(&s->lpoll); /* one handshake at a time: see hs_end */
      session_begin(s, cfd, &peer, len);
      return;
    }
    if (!s->o.keep)
      listener_stop(s); /* nc serves one client, then stops listening */
    session_begin(s, cfd, &peer, len);
  }
}

/* ---- the run -------------------------------------------------------- */

static void serve_check_end(serve_t *s) {
  if (s->listening || s->sessions || !s->attached)
    return;
  s->attached = false;
  sk__engine_detach(s->e, &s->part);
  sk__engine_part_close(&s->part, NULL); /* closed with the rest */
  if (s->timer_ready)
    uv_close((uv_handle_t *)&s->timer, NULL);
  s->timer_ready = false;
}

static void serve_timer_init(serve_t *s) {
  uv_timer_init(s->e->loop, &s->timer);
  s->timer.data = s;
  s->timer_ready = true;
}

/* The stop's deadline, or a second stop: children that have not exited
 * after SIGTERM are no longer waited for (they outlive sockit). */
static void children_forget(serve_t *s) {
  for (session_t *c = s->sessions; c; c = c->next)
    if (c->child_live && !uv_is_closing((uv_handle_t *)&c->child.proc))
      uv_close((uv_handle_t *)&c->child.proc, child_closed);
}

static void on_stop_deadline(void *mode) {
  children_forget(mode);
}

/* sk_engine_stop(): no more clients; children get SIGTERM; connects in
 * progress end; the relays stop themselves (each is a part). */
static void serve_on_stop(void *mode, sk_stop_t reason) {
  serve_t *s = mode;
  (void)reason;
  if (s->stopping) {
    children_forget(s);
    return;
  }
  s->stopping = true;
  listener_stop(s);
  sk__engine_deadline(s->e, &s->part, on_stop_deadline);
  for (session_t *c = s->sessions, *next; c; c = next) {
    next = c->next;
    for (int i = 0; i < HS_SIDES; i++)
      if (hs_live(c, i))
        hs_end(c->hs[i], false, NULL);
    if (c->child_live)
      uv_process_kill(&c->child.proc, SIGTERM);
    if (c->connecting)
      connect_abort(c, false);
  }
  serve_check_end(s);
}

/* --to: resolved once, before the first client (a name is looked up
 * once, not per client, and never on the loop). */
static int target_prepare(serve_t *s, char *err) {
  const sk_addr_t *to = s->o.to;
  sk_addr_format(to, s->to_name, sizeof s->to_name);
  if (to->kind != SK_ADDR_UNIX)
    return sk_addr_resolve(err, to, AF_UNSPEC, SOCK_STREAM, false, &s->targets);
  struct sockaddr_un *sun = &s->unix_sa;
  size_t n = strlen(to->path);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path + to->abstract, to->path, n);
  s->unix_target = (struct addrinfo){
      .ai_family = AF_UNIX,
      .ai_addr = (struct sockaddr *)sun,
      .ai_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                to->abstract + n + !to->abstract)};
  return 0;
}

static serve_t *serve_new(sk_engine_t *e, const sk_serve_opts_t *o) {
  serve_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->e = e;
  s->o = *o;
  s->lfd = -1;
  sk__engine_attach(e, &s->part, s, serve_on_stop);
  s->attached = true;
  return s;
}

/* Runs the loop until every session and the listener are gone. */
static int serve_finish(serve_t *s, char *err, bool *failed) {
  sk__engine_run(s->e);
  int rc = s->rc;
  if (rc < 0)
    snprintf(err, SK_ERR_LEN, "%s", s->err);
  *failed = s->failed;
  if (s->targets)
    freeaddrinfo(s->targets);
  if (s->attached)
    sk__engine_detach(s->e, &s->part);
  free(s);
  return rc;
}

int sk_serve_run(sk_engine_t *e, char *err, int lfd, const sk_serve_opts_t *o,
                 bool *failed) {
  serve_t *s = serve_new(e, o);
  int rc;
  *failed = false;
  if (!s)
    return sk__fail(err, -ENOMEM, "serve: %s", strerror(ENOMEM));
  s->lfd = lfd;
  rc = o->file ? 0 : target_prepare(s, err); /* err: the resolver's line */
  if (rc == 0 && ((rc = sk_fd_set_nonblock(lfd, true)) < 0 ||
                  (rc = uv_poll_init(e->loop, &s->lpoll, lfd)) < 0))
    sk__fail(err, rc, "listen: %s", uv_strerror(rc));
  if (rc < 0) {
    s->attached = false;
    sk__engine_detach(e, &s->part);
    free(s);
    return rc;
  }
  s->lpoll.data = s;
  s->listening = true;
  serve_timer_init(s);
  uv_poll_start(&s->lpoll, UV_READABLE, on_client);
  s->rc = 0;
  return serve_finish(s, err, failed);
}

int sk_serve_fd(sk_engine_t *e, char *err, int fd, const sk_serve_opts_t *o,
                bool *failed) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  serve_t *s = serve_new(e, o);
  *failed = false;
  if (!s)
    return sk__fail(err, -ENOMEM, "serve: %s", strerror(ENOMEM));
  serve_timer_init(s);
  int cfd = dup(fd); /* the session closes its own; fd stays the caller's */
  if (cfd < 0 || getpeername(fd, (struct sockaddr *)&peer, &len) < 0) {
    memset(&peer, 0, sizeof peer);
    len = sizeof(sa_family_t);
  }
  if (cfd >= 0)
    fcntl(cfd, F_SETFD, FD_CLOEXEC);
  /* The handshake runs on the loop, so on a non-blocking socket (said
   * here rather than left to uv_poll_init's side effect). */
  if (cfd >= 0 && o->tls)
    sk_fd_set_nonblock(cfd, true);
  if (cfd < 0)
    s->rc = sk__fail(s->err, -errno, "dup: %s", strerror(errno));
  else
    session_begin(s, cfd, &peer, len);
  serve_check_end(s);
  return serve_finish(s, err, failed);
}
