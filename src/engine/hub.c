/*
 * The hub: one listener, many clients, one libuv loop. This file owns
 * the connections' lives, the fan-out queues, backpressure and the
 * stop; what a client's bytes mean is up to the mode (broker.c,
 * chat.c).
 *
 * Rules that keep it safe with 10,000 clients:
 *  - a connection is only removed from hub->conns by sk__conn_close,
 *    which is never called while a loop walks hub->conns forward; a
 *    fan-out that overflows a queue only marks it DOOMED;
 *  - writes are not issued per message: queues are marked dirty and
 *    flushed once per loop turn, several messages per writev;
 *  - a member is an endpoint with a queue (endpoint.h): the hub reads
 *    and writes through the endpoint's calls, never the socket itself.
 *  - a stop is only requested from callbacks and carried out by the
 *    flush, outside every walk.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "hub_int.h"
#include "outlog.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/sock.h"
#include "sockit/tls.h"

#define ACCEPT_BURST 64       /* accepts per wakeup, so clients get a turn */
#define ACCEPT_BACKOFF_MS 100 /* rest after running out of descriptors */
#define SWEEP_MS 1000         /* idle and drain checks at least this often */
#define DEFAULT_MAX_LINE 4096
#define DEFAULT_MAX_QUEUE (1024 * 1024)

static void hub_listen_update(sk__hub_t *h);
static void hub_input_update(sk__hub_t *h);
static void hub_reads_update(sk__hub_t *h);
static void conn_read_start(sk__conn_t *c);
static void conn_read_stop(sk__conn_t *c);
static void conn_flush(sk__conn_t *c);
static void stall_timer_cb(uv_timer_t *t);
static void hub_stop_check(sk__hub_t *h);
static void hub_finish(sk__hub_t *h);

/* A notice for the engine's log callback (main prints "sockit: ..."). */
void sk__hub_notice(const sk__hub_t *h, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sk__engine_log(h->e, SK_LOG_NOTICE, "%s", line);
}

/* Ends the run with a runtime error once the current callback is done. */
static void hub_fail(sk__hub_t *h, const char *fmt, ...) SK__PRINTF(2, 3);

static void kick_cb(uv_idle_t *idle) {
  (void)idle; /* only there so that the loop polls without blocking */
}

/* There is work for the flush: make sure this loop turn reaches it. */
static void hub_kick(sk__hub_t *h) {
  /* Finished, the kick is closed: starting it again would put it back
   * on the loop, which outlives the hub (a federated server's timers
   * and Redis replies still run while it lets Redis go). */
  if (h->finished)
    return;
  uv_idle_start(&h->kick, kick_cb);
}

void sk__hub_kick(sk__hub_t *h) {
  hub_kick(h);
}

static void hub_request_stop(sk__hub_t *h, sk_stop_t reason) {
  if (h->stop_requested)
    return;
  h->stop_requested = true;
  h->reason = reason;
  hub_kick(h);
}

static void hub_fail(sk__hub_t *h, const char *fmt, ...) {
  va_list ap;
  if (h->stop_requested)
    return;
  if (h->err) {
    va_start(ap, fmt);
    vsnprintf(h->err, SK_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  hub_request_stop(h, SK_STOP_ERROR);
}

/* ---- connection state ---- */

/* The one place a connection changes state. */
static void conn_set_state(sk__conn_t *c, sk__conn_state_t to) {
  static const unsigned allowed[SK__CONN_STATE_END] = {
      [SK__CONN_OPEN] = 1u << SK__CONN_DOOMED | 1u << SK__CONN_DRAINING |
                        1u << SK__CONN_CLOSING,
      [SK__CONN_DOOMED] = 1u << SK__CONN_CLOSING,
      [SK__CONN_DRAINING] = 1u << SK__CONN_CLOSING,
  };
  assert(to < SK__CONN_STATE_END && (allowed[c->state] & (1u << to)));
  (void)allowed; /* without assertions (NDEBUG) */
  c->state = (uint8_t)to;
}

/* Takes c off the list of queues to flush, wherever it is. */
static void conn_unmark_dirty(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  if (!c->dirty)
    return;
  if (c->dirty_prev)
    c->dirty_prev->dirty_next = c->dirty_next;
  else
    h->dirty_head = c->dirty_next;
  if (c->dirty_next)
    c->dirty_next->dirty_prev = c->dirty_prev;
  else
    h->dirty_tail = c->dirty_prev;
  c->dirty_next = c->dirty_prev = NULL;
  c->dirty = false;
}

static void conn_mark_dirty(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  if (c->dirty)
    return;
  c->dirty = true;
  /* Marked while a pass runs: the next pass writes it (the list's order
   * is the passes' order, so a pass ends where its members end). */
  c->pass = h->in_pass ? h->pass + 1 : h->pass;
  c->dirty_next = NULL;
  c->dirty_prev = h->dirty_tail;
  if (h->dirty_tail)
    h->dirty_tail->dirty_next = c;
  else
    h->dirty_head = c;
  h->dirty_tail = c;
  hub_kick(h);
}

/* Safe anywhere, even mid-walk: the flush closes it. */
static void conn_doom(sk__conn_t *c, int why) {
  if (c->state != SK__CONN_OPEN)
    return;
  c->why = why;
  conn_set_state(c, SK__CONN_DOOMED);
  conn_mark_dirty(c);
}

/* The address of c as 16 bytes (IPv4 as IPv4-mapped); false for a
 * Unix socket, whose clients all share one "address". */
static bool peer_key(const sk__conn_t *c, uint8_t key[16]) {
  const sk__peer_t *p = &c->peer;
  if (p->sa.sa_family == AF_INET6) {
    memcpy(key, &p->in6.sin6_addr, 16);
  } else if (p->sa.sa_family == AF_INET) {
    memset(key, 0, 10);
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &p->in.sin_addr, 4);
  } else {
    return false;
  }
  return true;
}

/* The table slot holding key, or NULL. */
static struct sk__offender *offender_find(sk__hub_t *h, const uint8_t key[16]) {
  for (int i = 0; i < SK__HUB_OFFENDERS; i++)
    if (h->offenders[i].at && memcmp(h->offenders[i].addr, key, 16) == 0)
      return &h->offenders[i];
  return NULL;
}

/* Remembers that c's address used its stall budget just now. */
static void offender_add(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  uint8_t key[16];
  if (!peer_key(c, key))
    return;
  struct sk__offender *o = offender_find(h, key);
  if (!o) { /* a free slot (at 0) or else the oldest */
    o = &h->offenders[0];
    for (int i = 1; i < SK__HUB_OFFENDERS; i++)
      if (h->offenders[i].at < o->at)
        o = &h->offenders[i];
  }
  memcpy(o->addr, key, 16);
  o->at = uv_now(h->loop) | 1; /* never 0, which marks a free slot */
}

/* True when c's address stalled the room within SK__HUB_OFFENCE_MS. */
static bool offender_recent(sk__conn_t *c) {
  uint8_t key[16];
  if (!peer_key(c, key))
    return false;
  const struct sk__offender *o = offender_find(c->hub, key);
  return o && uv_now(c->hub->loop) - o->at < SK__HUB_OFFENCE_MS;
}

/* Over the high-water mark: hold every sender until c catches up. */
static void conn_congest(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  if (offender_recent(c)) { /* its address has had its 2 s already */
    conn_doom(c, SK__WHY_RESTALL);
    return;
  }
  c->congested = true;
  c->congested_at = uv_now(h->loop);
  if (h->n_congested++ == 0) {
    uv_timer_start(&h->stall_timer, stall_timer_cb, SK__HUB_STALL_MS, 0);
    hub_reads_update(h);
  }
}

static void conn_uncongest(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  if (!c->congested)
    return;
  c->congested = false;
  if (--h->n_congested == 0) {
    uv_timer_stop(&h->stall_timer);
    hub_reads_update(h);
  }
}

void sk__conn_send(sk__conn_t *c, sk__msg_t *m) {
  size_t limit = c->hub->opts.max_queue;
  if (c->state != SK__CONN_OPEN)
    return;
  int rc = sk__bufq_push(&c->q, m, limit);
  if (rc < 0) {
    conn_doom(c, rc == -ENOBUFS ? SK__WHY_OVERFLOW : UV_ENOMEM);
    return;
  }
  if (!c->congested && c->q.bytes > limit / 2)
    conn_congest(c);
  conn_mark_dirty(c);
}

void sk__hub_broadcast(sk__hub_t *h, sk__msg_t *m, const sk__conn_t *except) {
  for (uint32_t i = 0; i < h->n_conns; i++)
    if (h->conns[i] != except)
      sk__conn_send(h->conns[i], m);
}

void sk__conn_send_copy(sk__conn_t *c, const char *data, size_t len) {
  sk__msg_t *m = sk__msg_new(data, len);
  if (!m) {
    conn_doom(c, UV_ENOMEM);
    return;
  }
  sk__conn_send(c, m);
  sk__msg_unref(m);
}

void sk__conn_peer_format(const sk__conn_t *c, char *buf, size_t n) {
  const sk__peer_t *p = &c->peer;
  if (p->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p->in6.sin6_addr)) {
    /* A dual-stack listener: show the IPv4 address people know. */
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = p->in6.sin6_port};
    memcpy(&in.sin_addr, &p->in6.sin6_addr.s6_addr[12], 4);
    sk_sockaddr_format((const struct sockaddr *)&in, sizeof in, buf, n);
  } else if (p->sa.sa_family == AF_UNIX) {
    snprintf(buf, n, "unix:(client)");
  } else {
    sk_sockaddr_format(&p->sa, sizeof *p, buf, n);
  }
}

const char *sk__why_text(const sk__hub_t *h, int why, char *buf, size_t n) {
  switch (why) {
  case SK__WHY_EOF:
    return "closed";
  case SK__WHY_QUIT:
    return "quit";
  case SK__WHY_IDLE:
    snprintf(buf, n, "idle for %d ms", h->opts.idle_timeout_ms);
    return buf;
  case SK__WHY_OVERFLOW:
    snprintf(buf, n, "output queue over %zu bytes", h->opts.max_queue);
    return buf;
  case SK__WHY_STALLED:
    snprintf(buf, n, "stalled: output queue over %zu bytes for %d ms",
             h->opts.max_queue / 2, SK__HUB_STALL_MS);
    return buf;
  case SK__WHY_RESTALL:
    snprintf(buf, n,
             "stalled again: its address stalled the room within "
             "%d s",
             SK__HUB_OFFENCE_MS / 1000);
    return buf;
  case SK__WHY_STUCK:
    return "output not taken after leaving";
  case SK__WHY_STOP:
    return "server stopping";
  }
  return why < 0 ? uv_strerror(why) : "closed";
}

/* ---- leaving and closing ---- */

static void conns_remove(sk__hub_t *h, sk__conn_t *c) {
  sk__conn_t *last = h->conns[--h->n_conns];
  h->conns[c->index] = last;
  last->index = c->index;
}

/* Ends membership once: counts, the mode's goodbye, the input gate. */
static void conn_leave(sk__conn_t *c, int why) {
  sk__hub_t *h = c->hub;
  if (c->left)
    return;
  c->left = true;
  c->why = why;
  h->n_open--;
  conn_uncongest(c);  /* no longer sent to: no reason to hold the room */
  sk__conn_unhold(c); /* what it sent and was kept is not looked at */
  if (h->mode->on_leave)
    h->mode->on_leave(c);
  hub_input_update(h);
}

static void conn_close_cb(uv_handle_t *handle) {
  sk__conn_t *c = ((sk__endpoint_t *)handle->data)->owner;
  sk__hub_t *h = c->hub;
  if (c->ep.tls) {
    sk_tls_free(c->ep.tls->tls);
    sk__endpoint_tls_detach(&c->ep);
  }
  close(c->ep.fd);
  /* Still listed when a gathering flush (SK__HUB_GATHER_MAX_MS) was put
   * off past the turn it was closed in. */
  conn_unmark_dirty(c);
  sk__bufq_clear(&c->q);
  if (h->mode->on_free)
    h->mode->on_free(c);
  free(c);
}

static void conn_notice_close(const sk__conn_t *c) {
  const sk__hub_t *h = c->hub;
  char peer[SK_ADDRSTR_LEN], buf[96];
  if (c->why == SK__WHY_STOP)
    return;
  sk__conn_peer_format(c, peer, sizeof peer);
  const char *why = sk__why_text(h, c->why, buf, sizeof buf);
  /* Dropping a client is not routine: always say so. */
  if (c->why == SK__WHY_OVERFLOW || c->why == SK__WHY_STALLED ||
      c->why == SK__WHY_RESTALL)
    sk__hub_notice(h, "%s dropped: %s", peer, why);
  else if (h->opts.verbose && c->why == SK__WHY_EOF)
    sk__hub_notice(h, "%s closed", peer);
  else if (h->opts.verbose)
    sk__hub_notice(h, "%s closed: %s", peer, why);
}

void sk__conn_close(sk__conn_t *c, int why) {
  if (c->state == SK__CONN_CLOSING)
    return;
  if (c->left) /* the goodbye is said; the notice tells the last reason */
    c->why = why;
  conn_leave(c, why);
  conns_remove(c->hub, c);
  conn_set_state(c, SK__CONN_CLOSING);
  conn_notice_close(c);
  sk__endpoint_close(&c->ep, conn_close_cb);
  if (c->hub->stopping)
    hub_stop_check(c->hub);
}

/* Everything queued is out: send FIN, then close. */
static void conn_shutdown(sk__conn_t *c) {
  if (c->shut)
    return;
  c->shut = true;
  if (c->ep.tls) /* best effort: a full socket loses it, -v tells */
    (void)sk__endpoint_tls_close_notify(&c->ep);
  shutdown(c->ep.fd, SHUT_WR);
  sk__conn_close(c, c->why);
}

/* Watches what c waits for: input while it is read, writability while
 * its queue is stuck behind a full socket. */
static void conn_poll_cb(uv_poll_t *p, int status, int events);

static void conn_watch(sk__conn_t *c) {
  int ev = c->reading ? UV_READABLE : 0;
  if (c->q.count > 0 && !c->ep.can_write)
    ev |= UV_WRITABLE;
  if (c->ep.tls) /* a record may wait for the other direction */
    ev = sk__endpoint_tls_events(&c->ep, c->reading, c->q.count > 0) |
         (c->reading ? UV_READABLE : 0); /* no wait: poll says a record */
  sk__endpoint_watch(&c->ep, ev, conn_poll_cb);
}

/* Writes what is queued (several messages per writev), or finishes a
 * draining connection. */
static void conn_flush(sk__conn_t *c) {
  if (c->state != SK__CONN_OPEN && c->state != SK__CONN_DRAINING)
    return;
  int rc = sk__endpoint_write_queue(&c->ep, &c->q);
  if (rc < 0) {
    sk__conn_close(c, rc);
    return;
  }
  if (c->congested && c->q.bytes <= c->hub->opts.max_queue / 4)
    conn_uncongest(c);
  if (c->q.count == 0 && c->state == SK__CONN_DRAINING)
    conn_shutdown(c);
  else
    conn_watch(c);
}

void sk__conn_finish(sk__conn_t *c, int why) {
  if (c->state != SK__CONN_OPEN)
    return;
  conn_leave(c, why);
  if (c->state != SK__CONN_OPEN) /* its goodbye overflowed the queue */
    return;
  conn_read_stop(c);
  conn_set_state(c, SK__CONN_DRAINING);
  c->last_active = uv_now(c->hub->loop); /* the drain deadline starts */
  conn_flush(c);
}

/* ---- reading ---- */

/* One read into the loop's buffer, handed to the mode. */
static void conn_read_once(sk__conn_t *c);

/* TLS: bytes already decrypted are not announced by poll: take them
 * while the client is still read. */
static void conn_read(sk__conn_t *c) {
  do
    conn_read_once(c);
  while (c->ep.tls && c->reading && c->state == SK__CONN_OPEN &&
         sk_tls_pending(c->ep.tls->tls) > 0);
}

static void conn_read_once(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  ssize_t n = sk__endpoint_read(&c->ep, h->rbuf, h->read_max);
  if (n > 0) {
    c->last_active = uv_now(h->loop);
    sk__outlog_tap(h->opts.log, h->e, SK_OUTLOG_RECEIVED, h->rbuf,
                   (size_t)n);
    h->mode->on_data(c, h->rbuf, (size_t)n);
  } else if (n == 0) {
    if (h->mode->on_eof)
      h->mode->on_eof(c);
    sk__conn_finish(c, SK__WHY_EOF);
  } else if (errno != EAGAIN) {
    sk__conn_close(c, -errno);
  }
}

static void conn_tls_poll(sk__conn_t *c, int status, int events);

static void conn_poll_cb(uv_poll_t *p, int status, int events) {
  sk__conn_t *c = ((sk__endpoint_t *)p->data)->owner;
  if (c->ep.tls) {
    conn_tls_poll(c, status, events);
    return;
  }
  if (status < 0) {
    /* An error on the socket: what it sent before still counts. */
    if (c->reading && c->state == SK__CONN_OPEN)
      conn_read(c);
    if (c->state == SK__CONN_OPEN || c->state == SK__CONN_DRAINING) {
      int e = sk__endpoint_poll_failed(&c->ep);
      sk__conn_close(c, e < 0 ? e : status);
    }
    return;
  }
  if (events & UV_WRITABLE) {
    c->ep.can_write = true;
    conn_flush(c);
  }
  if ((events & (UV_READABLE | UV_DISCONNECT)) && c->reading &&
      c->state == SK__CONN_OPEN)
    conn_read(c);
}

static void conn_read_start(sk__conn_t *c) {
  c->reading = true;
  conn_watch(c);
}

static void conn_read_stop(sk__conn_t *c) {
  c->reading = false;
  conn_watch(c);
}

bool sk__hub_busy(const sk__hub_t *h) {
  return h->stopping || h->out_paused || h->n_congested > 0;
}

/* Clients are read unless stdout is behind, a client is congested or
 * input is held: either way more input would only pile up in memory. */
static bool hub_should_read(const sk__hub_t *h) {
  return !sk__hub_busy(h) && h->n_held == 0;
}

void sk__conn_hold(sk__conn_t *c) {
  if (c->held)
    return;
  c->held = true;
  c->hub->n_held++;
  conn_read_stop(c);
  hub_reads_update(c->hub);
}

void sk__conn_unhold(sk__conn_t *c) {
  if (!c->held)
    return;
  c->held = false;
  if (--c->hub->n_held == 0)
    hub_reads_update(c->hub);
}

/* Lets the modes take the input they kept, now that queues have room;
 * backwards, since a mode may close a connection (see sweep_cb). */
static void hub_take_held(sk__hub_t *h) {
  for (uint32_t i = h->n_conns; i-- > 0 && !sk__hub_busy(h);) {
    sk__conn_t *c = h->conns[i];
    if (c->held && c->state == SK__CONN_OPEN && h->mode->on_held)
      h->mode->on_held(c);
    else if (c->held)
      sk__conn_unhold(c);
  }
}

/* Safe mid-walk: it starts and stops reads, never closes. */
static void hub_reads_update(sk__hub_t *h) {
  bool want = hub_should_read(h);
  if (want != h->reading) {
    h->reading = want;
    for (uint32_t i = 0; i < h->n_conns; i++) {
      sk__conn_t *c = h->conns[i];
      if (c->state != SK__CONN_OPEN)
        continue;
      if (want)
        conn_read_start(c);
      else
        conn_read_stop(c);
    }
  }
  hub_listen_update(h);
  hub_input_update(h);
}

static void hub_set_out_paused(sk__hub_t *h, bool on) {
  if (h->out_paused == on)
    return;
  h->out_paused = on;
  hub_reads_update(h);
}

/* ---- output (out_fd): an endpoint with a queue, as a member is ---- */

static int out_push(sk__hub_t *h, sk__msg_t *m, size_t limit) {
  if (!h->out_open || h->out_error)
    return 0; /* reported once already */
  return sk__bufq_push(&h->outq, m, limit);
}

static void out_after(sk__hub_t *h, int status);
static void out_poll_cb(uv_poll_t *p, int status, int events);

/* Writes what stdout's queue holds; a full pipe or terminal is watched
 * for room, a file or device is written at once. */
static void out_flush(sk__hub_t *h) {
  if (!h->out_open || h->out_error || h->outq.count == 0)
    return;
  int rc = sk__endpoint_write_queue(&h->out, &h->outq);
  if (rc < 0) {
    h->out_error = rc;
    sk__bufq_clear(&h->outq);
  }
  sk__endpoint_watch(&h->out,
                     h->outq.count > 0 && !h->out.can_write ? UV_WRITABLE : 0,
                     out_poll_cb);
  out_after(h, rc);
}

static void out_poll_cb(uv_poll_t *p, int status, int events) {
  sk__hub_t *h = ((sk__endpoint_t *)p->data)->owner;
  (void)events;
  h->out.can_write = true;
  if (status < 0) /* libuv stopped the poll; the write names the error */
    sk__endpoint_poll_failed(&h->out);
  out_flush(h);
}

void sk__hub_output(sk__hub_t *h, sk__msg_t *m) {
  if (!h->out_open || h->out_detached)
    return;
  if (h->mode->out_lossy) {
    /* --chat: the log is the operator's, not the room's. While it is
     * behind, lines are counted instead of stalling the room. */
    if (h->out_dropped > 0 || out_push(h, m, h->opts.max_queue) < 0)
      h->out_dropped++;
  } else if (h->mode->out_drops) {
    /* --broker: stdout is one more subscriber and may not hold the
     * clients back, so it is dropped like a client that falls behind. */
    if (out_push(h, m, h->opts.max_queue) < 0) {
      h->out_detached = true;
      sk__hub_notice(h, "output over %zu bytes behind: no longer written",
                     h->opts.max_queue);
    }
  } else if (out_push(h, m, SIZE_MAX) < 0) {
    hub_fail(h, "output: %s", strerror(ENOMEM));
  } else if (h->outq.bytes > h->opts.max_queue) {
    hub_set_out_paused(h, true);
  }
  hub_kick(h);
}

/* The log has caught up after losing lines: it says how many, once. */
static void out_resume(sk__hub_t *h) {
  char line[96];
  int n = snprintf(line, sizeof line, "sockit: %" PRIu64 " log lines dropped\n",
                   h->out_dropped);
  sk__msg_t *m = sk__msg_new(line, (size_t)n);
  h->out_dropped = 0;
  if (m && out_push(h, m, SIZE_MAX) == 0)
    hub_kick(h);
  sk__msg_unref(m);
}

/* stdout failed: whether that ends the run depends on the mode. */
static void out_failed(sk__hub_t *h, int status) {
  if (h->mode->out_drops || h->mode->out_lossy) {
    /* The clients are served whatever becomes of the operator's copy. */
    if (!h->out_detached)
      sk__hub_notice(h, "output: %s: no longer written; still serving",
                     uv_strerror(status));
    h->out_detached = true;
  } else if (status == UV_EPIPE) {
    hub_request_stop(h, SK_STOP_DONE); /* -k | head: a filter whose reader is gone */
  } else {
    hub_fail(h, "write to output: %s", uv_strerror(status));
  }
}

/* After each flush of stdout: status 0 or a negative errno. */
static void out_after(sk__hub_t *h, int status) {
  size_t pending = h->outq.bytes;
  if (status < 0)
    out_failed(h, status);
  if (h->stopping)
    hub_stop_check(h);
  else if (h->out_paused && pending <= h->opts.max_queue / 4)
    hub_set_out_paused(h, false);
  else if (h->out_dropped > 0 && pending <= h->opts.max_queue / 4 &&
           !h->out_error)
    out_resume(h);
}

/* ---- the flush: once per loop turn ---- */

static void hub_stop(sk__hub_t *h);

static uint64_t hub_us(void) {
  return uv_hrtime() / 1000;
}

static void gather_cb(uv_timer_t *t) {
  hub_kick(t->data); /* this turn's flush writes what was gathered */
}

/* Gathering (SK__HUB_GATHER_MAX_MS): true when the next pass waits,
 * with the timer set to end the wait. The loop sleeps meanwhile: the
 * kick is off, and queues already dirty do not kick again. */
static bool flush_held(sk__hub_t *h) {
  uint64_t now = hub_us();
  if (!h->gather || h->in_pass || !h->dirty_head || h->stop_requested ||
      h->stopping || now >= h->flush_after)
    return false;
  if (!uv_is_active((uv_handle_t *)&h->gather_timer))
    uv_timer_start(&h->gather_timer, gather_cb,
                   (h->flush_after - now + 999) / 1000, 0);
  return true;
}

/* How long the next pass waits after this one: as long as this one
 * took (SK__HUB_GATHER_MAX_MS at most) when it carried
 * SK__HUB_GATHER_LINES lines or more, a share of that for fewer, and not
 * at all for one line (light input: waiting only delays the next). */
static uint64_t gather_us(const sk__hub_t *h) {
  uint64_t took = hub_us() - h->pass_t0, max = SK__HUB_GATHER_MAX_MS * 1000;
  uint64_t lines = h->pass_lines < SK__HUB_GATHER_LINES ? h->pass_lines
                                                        : SK__HUB_GATHER_LINES;
  took = took < max ? took : max;
  return lines <= 1 ? 0 : took * (lines - 1) / (SK__HUB_GATHER_LINES - 1);
}

/* A pass has written its last member: the next one is due. */
static void pass_end(sk__hub_t *h) {
  h->in_pass = false;
  h->pass++;
  if (h->gather) /* the next pass waits for more lines, if they come */
    h->flush_after = hub_us() + gather_us(h);
}

/* Writes the members of the pass in progress (or of a new one) for
 * SK__HUB_SLICE_US at most; the rest after the loop has polled. */
static void flush_members(sk__hub_t *h) {
  sk__conn_t *c;
  uint64_t now = hub_us(), until = now + SK__HUB_SLICE_US;
  if (!h->in_pass) {
    if (!h->dirty_head)
      return;
    h->in_pass = true;
    h->pass_t0 = now;
    h->pass_lines = h->dirty_head->q.count;
  }
  for (unsigned n = 1; (c = h->dirty_head) && c->pass == h->pass; n++) {
    if (n % 16 == 0 && hub_us() >= until) {
      hub_kick(h); /* poll without sleeping, then go on */
      return;
    }
    conn_unmark_dirty(c);
    if (c->state == SK__CONN_DOOMED)
      sk__conn_close(c, c->why);
    else
      conn_flush(c);
  }
  pass_end(h);
  if (h->dirty_head) /* marked during the pass: the next turn's pass */
    hub_kick(h);
}

static void flush_cb(uv_check_t *check) {
  sk__hub_t *h = check->data;
  uv_idle_stop(&h->kick); /* what is queued from here on kicks again */
  if (h->n_held > 0)
    hub_take_held(h);
  if (h->mode->on_turn && !h->stopping)
    h->mode->on_turn(h);
  if (!flush_held(h))
    flush_members(h);
  if (h->out_open)
    out_flush(h);
  if (h->stop_requested && !h->stopping)
    hub_stop(h);
}

/* ---- operator input ---- */

/* No more operator input: no watch, no idle, EOF told once. */
static void input_close(sk__hub_t *h) {
  if (!h->in_open)
    return;
  h->in_open = false;
  sk__endpoint_watch(&h->in, 0, NULL);
  uv_idle_stop(&h->in_idle);
}

static void input_read(sk__hub_t *h) {
  ssize_t n = sk__endpoint_read(&h->in, h->inbuf, h->in_cap);
  if (n > 0) {
    sk__outlog_tap(h->opts.log, h->e, SK_OUTLOG_SENT, h->inbuf, (size_t)n);
    h->mode->on_input(h, h->inbuf, (size_t)n);
    return;
  }
  if (n < 0 && errno == EAGAIN)
    return;
  if (n < 0 && h->opts.verbose)
    sk__hub_notice(h, "standard input: %s", strerror(errno));
  h->mode->on_input(h, NULL, 0);
  input_close(h);
}

static void input_poll_cb(uv_poll_t *p, int status, int events) {
  sk__hub_t *h = ((sk__endpoint_t *)p->data)->owner;
  (void)events;
  if (status < 0) /* libuv stopped the poll; the read names the error */
    sk__endpoint_poll_failed(&h->in);
  if (h->in_reading)
    input_read(h);
  if (status < 0)
    hub_input_update(h);
}

/* A file or device cannot be polled and never blocks: one read a turn. */
static void input_idle_cb(uv_idle_t *idle) {
  sk__hub_t *h = idle->data;
  if (h->in_reading)
    input_read(h);
}

/* Operator input is read only while someone can receive it, as ncat
 * does, so that nothing typed before the first client is lost; a chat
 * operator's console (/shutdown, /who) is read with no one there. */
static void hub_input_update(sk__hub_t *h) {
  if (!h->in_open)
    return;
  h->in_reading = hub_should_read(h) && !h->in_held &&
                  (h->n_open > 0 || h->mode->console);
  if (h->in.polled)
    sk__endpoint_watch(&h->in, h->in_reading ? UV_READABLE : 0,
                       input_poll_cb);
  else if (h->in_reading)
    uv_idle_start(&h->in_idle, input_idle_cb);
  else
    uv_idle_stop(&h->in_idle);
}

void sk__hub_input_hold(sk__hub_t *h, bool on) {
  h->in_held = on;
  hub_input_update(h);
}

/* ---- accepting ---- */

static int conns_reserve(sk__hub_t *h) {
  if (h->n_conns < h->cap_conns)
    return 0;
  uint32_t cap = h->cap_conns ? h->cap_conns * 2 : 64;
  sk__conn_t **a = realloc(h->conns, cap * sizeof *a);
  if (!a)
    return -ENOMEM;
  h->conns = a;
  h->cap_conns = cap;
  return 0;
}

/* Makes the accepted descriptor the connection's endpoint. Returns 0,
 * or a negative code after closing fd and freeing c. */
static int conn_handle_open(sk__hub_t *h, sk__conn_t *c, int fd) {
  int rc = sk__endpoint_adopt(&c->ep, h->loop, c, fd);
  if (rc < 0) {
    close(fd);
    free(c);
    return rc;
  }
  if (c->peer.sa.sa_family != AF_UNIX) {
    /* Messages are batched already; Nagle would only delay them. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return 0;
}

/* "Connection received on 127.0.0.1 54321", as OpenBSD nc says it. */
static void conn_notice_open(const sk__conn_t *c) {
  char addr[SK_ADDRSTR_LEN], *port;
  sk__conn_peer_format(c, addr, sizeof addr);
  port = c->peer.sa.sa_family == AF_UNIX ? NULL : strrchr(addr, ':');
  if (port)
    *port++ = '\0';
  bool brackets = port && addr[0] == '[' && port[-2] == ']';
  if (brackets)
    port[-2] = '\0';
  sk__engine_log(c->hub->e, SK_LOG_NC, "Connection received on %s%s%s",
                 addr + (brackets ? 1 : 0), port ? " " : "", port ? port : "");
}

/* ---- TLS clients: members once their handshake is done ---- */

static void hs_unlink(sk__hub_t *h, sk__conn_t *c) {
  if (c->hs_prev)
    c->hs_prev->hs_next = c->hs_next;
  else if (h->hs_head == c)
    h->hs_head = c->hs_next;
  if (c->hs_next)
    c->hs_next->hs_prev = c->hs_prev;
  c->hs_prev = c->hs_next = NULL;
}

static void hs_free(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  if (c->ep.tls) {
    sk_tls_free(c->ep.tls->tls);
    sk__endpoint_tls_detach(&c->ep);
  }
  close(c->ep.fd);
  free(c);
  if (h->stopping)
    hub_stop_check(h);
}

static void hs_close_cb(uv_handle_t *handle) {
  hs_free(((sk__endpoint_t *)handle->data)->owner);
}

/* A client that never became a member: no goodbye, no mode call. */
static void hs_close(sk__conn_t *c) {
  hs_unlink(c->hub, c);
  if (!sk__endpoint_close(&c->ep, hs_close_cb))
    hs_free(c);
}

static void conn_join(sk__hub_t *h, sk__conn_t *c);

/* One handshake step on the loop; a refusal ends only this client. */
static void conn_tls_handshake(sk__conn_t *c) {
  sk__hub_t *h = c->hub;
  int rc = sk__endpoint_tls_handshake(&c->ep);
  if (rc == 0) {
    sk__endpoint_watch(&c->ep, c->ep.tls->hs_wait, conn_poll_cb);
    return;
  }
  if (rc < 0) {
    if (h->opts.verbose) /* the line names the peer */
      sk__hub_notice(h, "%s", c->ep.tls->err);
    hs_close(c);
    return;
  }
  hs_unlink(h, c);
  conn_join(h, c);
}

static void conn_tls_start(sk__hub_t *h, sk__conn_t *c) {
  char peer[SK_ADDRSTR_LEN], err[SK_ERR_LEN];
  sk_tls_t *t = NULL;
  c->hs_next = h->hs_head;
  if (h->hs_head)
    h->hs_head->hs_prev = c;
  h->hs_head = c;
  c->last_active = uv_now(h->loop); /* the handshake deadline starts */
  sk__conn_peer_format(c, peer, sizeof peer);
  if (sk_tls_new(err, &t, h->opts.tls, c->ep.fd, NULL, peer) < 0) {
    sk__hub_notice(h, "%s: %s", peer, err);
    hs_close(c);
    return;
  }
  if (sk__endpoint_tls_attach(&c->ep, t) < 0) {
    sk_tls_free(t);
    sk__hub_notice(h, "%s: %s", peer, strerror(ENOMEM));
    hs_close(c);
    return;
  }
  conn_tls_handshake(c);
}

/* How long a handshake may take (the idle timeout: -i, or -w as in nc). */
static uint64_t hs_limit(const sk__hub_t *h) {
  return (uint64_t)sk_engine_handshake_ms(h->opts.idle_timeout_ms);
}

/* Closes the clients whose handshake is over its time: a client that
 * connects and stays silent (or trickles) holds no descriptor for long. */
static void hs_sweep(sk__hub_t *h, uint64_t now) {
  uint64_t limit = hs_limit(h);
  sk__conn_t *next;
  for (sk__conn_t *c = h->hs_head; c; c = next) {
    next = c->hs_next; /* hs_close may free c */
    if (now - c->last_active < limit)
      continue;
    if (h->opts.verbose) {
      char peer[SK_ADDRSTR_LEN];
      sk__conn_peer_format(c, peer, sizeof peer);
      sk__hub_notice(h, "%s closed: no TLS handshake within %llu ms", peer,
                     (unsigned long long)limit);
    }
    hs_close(c);
  }
}

/* Poll on a TLS client: the waits it answers end, then the handshake,
 * the queue or the read goes on. */
static void conn_tls_poll(sk__conn_t *c, int status, int events) {
  sk__endpoint_tls_ready(&c->ep, status < 0 ? UV_READABLE | UV_WRITABLE
                                            : events);
  if (!c->ep.tls->handshaken) {
    if (status < 0)
      sk__endpoint_poll_failed(&c->ep);
    conn_tls_handshake(c);
    return;
  }
  if (c->q.count > 0 && c->ep.can_write)
    conn_flush(c);
  if (c->reading && c->state == SK__CONN_OPEN && c->ep.can_read)
    conn_read(c);
  if (c->state != SK__CONN_OPEN && c->state != SK__CONN_DRAINING)
    return;
  if (status < 0) {
    int e = sk__endpoint_poll_failed(&c->ep);
    sk__conn_close(c, e < 0 ? e : status);
    return;
  }
  conn_watch(c);
}

static void conn_open(sk__hub_t *h, int fd, const sk__peer_t *peer, bool tls) {
  sk__conn_t *c = calloc(1, h->mode->conn_size);
  int rc = c ? 0 : UV_ENOMEM; /* room in h->conns: conn_join's */
  if (rc < 0) {
    close(fd);
    free(c);
  } else {
    c->hub = h;
    c->peer = *peer;
    rc = conn_handle_open(h, c, fd);
  }
  if (rc < 0) {
    sk__hub_notice(h, "new connection: %s", uv_strerror(rc));
    return;
  }
  if (tls)
    conn_tls_start(h, c);
  else
    conn_join(h, c);
}

static void conn_join(sk__hub_t *h, sk__conn_t *c) {
  if (conns_reserve(h) < 0) {
    sk__hub_notice(h, "new connection: %s", uv_strerror(UV_ENOMEM));
    hs_close(c);
    return;
  }
  c->index = h->n_conns;
  h->conns[h->n_conns++] = c;
  h->n_open++;
  c->state = SK__CONN_OPEN;
  c->last_active = uv_now(h->loop);
  if (h->opts.verbose)
    conn_notice_open(c);
  if (h->mode->on_join)
    h->mode->on_join(c);
  if (c->state == SK__CONN_OPEN && h->reading)
    conn_read_start(c);
  hub_input_update(h);
}

/* Over max_conns: a one-line reason in chat, then close. */
static void hub_refuse(sk__hub_t *h, int fd, const sk__peer_t *peer) {
  const char *msg = h->mode->full_msg;
  char buf[512], addr[SK_ADDRSTR_LEN];
  if (msg)
    (void)send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
  /* Unread input would turn the close into a reset, which can destroy
   * the message before the client reads it: take what has arrived. */
  for (int i = 0; i < 4 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
    ;
  close(fd);
  if (h->opts.verbose) {
    sk__conn_t tmp = {.peer = *peer};
    sk__conn_peer_format(&tmp, addr, sizeof addr);
    sk__hub_notice(h, "%s refused: %d clients connected", addr,
                   h->opts.max_conns);
  }
}

static void accept_timer_cb(uv_timer_t *t) {
  sk__hub_t *h = t->data;
  h->accept_backoff = false;
  hub_listen_update(h);
}

/* Out of descriptors (or kernel memory): pending connections would make
 * the listener ready again at once, and the loop would spin. Shed them
 * through the descriptor kept in reserve, so that their clients hear a
 * close (in chat, "server full") instead of waiting, then rest a moment. */
static void accept_backoff(sk__hub_t *h, int e) {
  const char *msg = h->mode->full_msg;
  int fd;
  if (h->reserve_fd >= 0) {
    close(h->reserve_fd);
    for (int i = 0; i < ACCEPT_BURST; i++) {
      if ((fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        break;
      if (msg)
        (void)send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
      close(fd);
    }
    h->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  uint64_t now = uv_now(h->loop);
  if (h->last_emfile_notice == 0 || now - h->last_emfile_notice >= 1000) {
    h->last_emfile_notice = now;
    sk__hub_notice(h, "accept: %s (%u clients): refusing for %d ms",
                   strerror(e), h->n_open, ACCEPT_BACKOFF_MS);
  }
  h->accept_backoff = true;
  hub_listen_update(h);
  uv_timer_start(&h->accept_timer, accept_timer_cb, ACCEPT_BACKOFF_MS, 0);
}

/* Returns 1 to go on accepting, 0 when none is pending, -1 to stop. */
static int accept_error(sk__hub_t *h, int e) {
  switch (e) {
  case EAGAIN:
    return 0;
  case EMFILE:
  case ENFILE:
  case ENOBUFS:
  case ENOMEM:
    accept_backoff(h, e);
    return -1;
  case EBADF:
  case EINVAL:
  case ENOTSOCK:
  case EOPNOTSUPP:
  case EFAULT:
    hub_fail(h, "accept: %s", strerror(e));
    return -1;
  }
  return 1; /* ECONNABORTED, EPROTO, EPERM, network errors: that one only */
}

/* libuv closes only descriptors above 2; one accepted into a slot the
 * program closed (stdin, say) is moved up so that it is not leaked. */
static int fd_above_stdio(int fd) {
  if (fd > STDERR_FILENO)
    return fd;
  int up = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  close(fd);
  return up;
}

static int hub_accept_one(sk__hub_t *h) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = accept4(h->listen_fd, (struct sockaddr *)&ss, &len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return accept_error(h, errno);
  if ((fd = fd_above_stdio(fd)) < 0)
    return 1;
  sk__hub_adopt(h, fd, (const struct sockaddr *)&ss, len, h->opts.tls != NULL);
  return 1;
}

void sk__hub_adopt(sk__hub_t *h, int fd, const struct sockaddr *sa,
                   socklen_t len, bool tls) {
  sk__peer_t peer;
  memset(&peer, 0, sizeof peer);
  memcpy(&peer, sa, len < sizeof peer ? len : sizeof peer);
  if (h->stopping) {
    close(fd);
  } else if (!sk_acl_permits(h->opts.acl, sa)) {
    char addr[SK_ADDRSTR_LEN];
    close(fd);
    if (h->opts.verbose) {
      sk_sockaddr_format(sa, len, addr, sizeof addr);
      sk__hub_notice(h, "%s denied by the access list", addr);
    }
  } else if (h->opts.max_conns > 0 &&
             h->n_open >= (uint32_t)h->opts.max_conns) {
    hub_refuse(h, fd, &peer);
  } else {
    conn_open(h, fd, &peer, tls);
  }
}

static void listener_cb(uv_poll_t *p, int status, int events) {
  sk__hub_t *h = p->data;
  (void)events;
  if (status < 0) {
    hub_fail(h, "listening socket: %s", uv_strerror(status));
    return;
  }
  for (int i = 0; i < ACCEPT_BURST && h->listening; i++)
    if (hub_accept_one(h) <= 0)
      break;
}

static void hub_listen_update(sk__hub_t *h) {
  bool want = !h->stopping && !h->accept_backoff && !h->out_paused;
  if (want == h->listening)
    return;
  int rc = want ? uv_poll_start(&h->listener, UV_READABLE, listener_cb)
                : uv_poll_stop(&h->listener);
  if (rc < 0)
    hub_fail(h, "listening socket: %s", uv_strerror(rc));
  else
    h->listening = want;
}

/* ---- idle and drain deadlines: one sweep instead of a timer each ---- */

static void sweep_cb(uv_timer_t *t) {
  sk__hub_t *h = t->data;
  uint64_t now = uv_now(h->loop), idle = (uint64_t)h->opts.idle_timeout_ms;
  /* Backwards: a close moves the last connection into the slot freed,
   * and that one has been looked at already. */
  for (uint32_t i = h->n_conns; i-- > 0;) {
    sk__conn_t *c = h->conns[i];
    uint64_t quiet = now - c->last_active;
    if (c->state == SK__CONN_OPEN && idle > 0 && quiet >= idle)
      sk__conn_finish(c, SK__WHY_IDLE);
    else if (c->state == SK__CONN_DRAINING && quiet >= SK__HUB_DRAIN_MS)
      sk__conn_close(c, SK__WHY_STUCK);
  }
  hs_sweep(h, now);
}

/* Drops the clients congested for SK__HUB_STALL_MS; the others wait. */
static void stall_timer_cb(uv_timer_t *t) {
  sk__hub_t *h = t->data;
  uint64_t now = uv_now(h->loop), next = SK__HUB_STALL_MS;
  for (uint32_t i = h->n_conns; i-- > 0;) { /* backwards: see sweep_cb */
    sk__conn_t *c = h->conns[i];
    uint64_t age = c->congested ? now - c->congested_at : 0;
    if (c->congested && age >= SK__HUB_STALL_MS) {
      offender_add(c);
      sk__conn_close(c, SK__WHY_STALLED);
    } else if (c->congested && SK__HUB_STALL_MS - age < next)
      next = SK__HUB_STALL_MS - age;
  }
  if (h->n_congested > 0)
    uv_timer_start(t, stall_timer_cb, next, 0);
}

static uint64_t sweep_interval(const sk__hub_t *h) {
  uint64_t ms = SWEEP_MS, idle = (uint64_t)h->opts.idle_timeout_ms;
  if (idle > 0 && idle / 4 < ms)
    ms = idle / 4 > 10 ? idle / 4 : 10;
  return ms;
}

/* ---- stopping ---- */

/* Closes whatever is left, queues and all, and ends the run. */
static void hub_abort(sk__hub_t *h) {
  while (h->n_conns > 0)
    sk__conn_close(h->conns[h->n_conns - 1], SK__WHY_STOP);
  hub_finish(h);
}

static void hub_deadline_cb(void *mode) {
  hub_abort(mode); /* clients or stdout did not take the rest in time */
}

/* sk_engine_stop(): the caller asks (main, on a signal). */
static void hub_on_stop(void *mode, sk_stop_t reason) {
  sk__hub_t *h = mode;
  if (h->stopping) /* asked again: do not wait any longer */
    hub_abort(h);
  else
    hub_request_stop(h, reason);
}

/* Stopping ends once every client has taken its queue and stdout its. */
static void hub_stop_check(sk__hub_t *h) {
  bool out_done = !h->out_open || h->out_error || h->out_detached ||
                  h->outq.bytes == 0;
  if (h->stopping && h->n_conns == 0 && !h->hs_head && out_done &&
      !sk__web_busy(h))
    hub_finish(h);
}

void sk__hub_stop_check(sk__hub_t *h) {
  hub_stop_check(h);
}

/* Stops reading and accepting, then lets each client and stdout take
 * what was queued for them, within the engine's one flush deadline
 * (SK_ENGINE_FLUSH_MS). */
static void hub_stop(sk__hub_t *h) {
  h->stopping = true;
  hub_reads_update(h); /* stops client reads, the listener, the input */
  uv_timer_stop(&h->accept_timer);
  uv_timer_stop(&h->sweep_timer);
  uv_timer_stop(&h->stall_timer);
  input_close(h);
  while (h->hs_head) /* not members yet: nothing queued for them */
    hs_close(h->hs_head);
  for (uint32_t i = h->n_conns; i-- > 0;) { /* backwards: see sweep_cb */
    sk__conn_t *c = h->conns[i];
    if (c->state == SK__CONN_OPEN)
      sk__conn_finish(c, SK__WHY_STOP);
    else if (c->state == SK__CONN_DOOMED)
      sk__conn_close(c, c->why);
  }
  sk__engine_deadline(h->e, &h->part, hub_deadline_cb);
  if (h->out_open)
    out_flush(h);
  hub_stop_check(h);
}

static void close_if_open(uv_handle_t *handle) {
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

/* Closes the hub's own handles; the loop then runs out and returns. */
static void hub_finish(sk__hub_t *h) {
  if (h->finished)
    return;
  h->finished = true;
  while (h->dirty_head)
    conn_unmark_dirty(h->dirty_head);
  input_close(h);
  if (h->out_open)
    sk__endpoint_watch(&h->out, 0, NULL);
  h->out_open = false;
  sk__web_close(h); /* its connections have left with the clients */
  close_if_open((uv_handle_t *)&h->listener);
  close_if_open((uv_handle_t *)&h->accept_timer);
  close_if_open((uv_handle_t *)&h->sweep_timer);
  sk__engine_part_close(&h->part, NULL); /* closed with the rest */
  close_if_open((uv_handle_t *)&h->stall_timer);
  close_if_open((uv_handle_t *)&h->kick);
  close_if_open((uv_handle_t *)&h->flush);
  close_if_open((uv_handle_t *)&h->gather_timer);
}

/* ---- setting up and tearing down ---- */

/* The largest message a client may be sent while reads go on: reads
 * pause once a queue passes half, so half a queue is always free. */
static size_t room_for_one(size_t max_queue) {
  return max_queue / 2 - SK__BUFQ_ENTRY_COST;
}

int sk_hub_opts_check(char *err, const sk_hub_opts_t *opts) {
  size_t line = opts->max_line ? opts->max_line : DEFAULT_MAX_LINE;
  size_t queue = opts->max_queue ? opts->max_queue : DEFAULT_MAX_QUEUE;
  if (queue < 4096 || line > SK__HUB_RBUF * 16)
    return sk__fail(err, -EINVAL,
                    "--max-queue %zu or --max-line %zu: "
                    "expected a queue of 4096 bytes or more and lines of "
                    "%d bytes at most",
                    queue, line, SK__HUB_RBUF * 16);
  if (opts->mode != SK_HUB_CHAT ||
      SK__CHAT_LINE_MAX(line) <= room_for_one(queue))
    return 0;
  /* A line of bytes that each need escaping triples; a queue must take
   * it while half full, or every healthy member would be dropped. */
  return sk__fail(err, -EINVAL,
                  "--max-queue %zu is too small for --max-line %zu: a line "
                  "can grow to %zu bytes once made safe for terminals, and "
                  "half a queue must hold one; use --max-queue %zu or more, "
                  "or a shorter --max-line",
                  queue, line, (size_t)SK__CHAT_LINE_MAX(line),
                  2 * ((size_t)SK__CHAT_LINE_MAX(line) + SK__BUFQ_ENTRY_COST));
}

/* Reads of a mode whose read is one message (the broker) fit half a
 * queue, so that one big write never overflows a healthy reader. */
static size_t read_size(const sk__hub_t *h) {
  size_t room = room_for_one(h->opts.max_queue);
  return h->mode->read_split && room < SK__HUB_RBUF ? room : SK__HUB_RBUF;
}

static int hub_opts_set(char *err, sk__hub_t *h, const sk_hub_opts_t *opts) {
  if (sk_hub_opts_check(err, opts) < 0)
    return -EINVAL;
  h->opts = *opts;
  if (!h->opts.max_line)
    h->opts.max_line = DEFAULT_MAX_LINE;
  if (!h->opts.max_queue)
    h->opts.max_queue = DEFAULT_MAX_QUEUE;
  switch (opts->mode) {
  case SK_HUB_KEEP:
    h->mode = &sk__hub_keep;
    break;
  case SK_HUB_BROKER:
    h->mode = &sk__hub_broker;
    break;
  case SK_HUB_CHAT:
    h->mode = &sk__hub_chat;
    break;
  default:
    return sk__fail(err, -EINVAL, "hub: unknown mode %d", (int)opts->mode);
  }
  if (h->opts.max_conns < 0 || h->opts.idle_timeout_ms < 0)
    return sk__fail(err, -EINVAL, "hub: a negative limit");
  h->read_max = read_size(h);
  return 0;
}

static int hub_handles_init(char *err, sk__hub_t *h) {
  uv_loop_t *l = h->loop;
  int rc = uv_poll_init_socket(l, &h->listener, h->listen_fd);
  if (rc < 0)
    return sk__fail(err, rc, "listening socket: %s", uv_strerror(rc));
  uv_timer_init(l, &h->accept_timer);
  uv_timer_init(l, &h->sweep_timer);
  uv_timer_init(l, &h->stall_timer);
  uv_idle_init(l, &h->kick);
  uv_check_init(l, &h->flush);
  uv_timer_init(l, &h->gather_timer);
  h->gather_timer.data = h;
  h->gather = h->opts.federate != NULL;
  h->listener.data = h->accept_timer.data = h->sweep_timer.data = h;
  h->flush.data = h;
  h->stall_timer.data = h;
  uv_check_start(&h->flush, flush_cb);
  uint64_t sweep = sweep_interval(h);
  uv_timer_start(&h->sweep_timer, sweep_cb, sweep, sweep);
  return 0;
}

static int hub_stdio_open(char *err, sk__hub_t *h) {
  int rc;
  sk__endpoint_init(&h->in, h, h->opts.in_fd, "standard input");
  sk__endpoint_init(&h->out, h, h->opts.out_fd, "standard output");
  uv_idle_init(h->loop, &h->in_idle);
  h->in_idle.data = h;
  if (h->opts.in_fd >= 0) {
    /* The operator's input goes to every client, doubled by -C. */
    size_t cap = room_for_one(h->opts.max_queue) / (h->opts.crlf ? 2 : 1);
    h->in_cap = cap < sizeof h->inbuf ? cap : sizeof h->inbuf;
    if ((rc = sk__endpoint_open(&h->in, h->loop)) < 0)
      return sk__fail(err, rc, "standard input: %s", uv_strerror(rc));
    h->in_open = true;
  }
  if (h->opts.out_fd >= 0) {
    if ((rc = sk__endpoint_open(&h->out, h->loop)) < 0)
      return sk__fail(err, rc, "standard output: %s", uv_strerror(rc));
    h->out_open = true;
  }
  return 0;
}

/* Frees everything; safe after a setup that stopped half-way. */
static void hub_free(sk__hub_t *h) {
  if (h->web && !h->finished) { /* setting up failed: lws closes its own
                                   handles before the walk below */
    sk__web_close(h);
    for (int i = 0; i < 16 && uv_run(h->loop, UV_RUN_NOWAIT); i++)
      ;
  }
  if (h->loop_ready)
    sk__engine_teardown(h->e);
  sk__web_free(h);
  /* The reverse of opening: stdin and stdout may share one open file
   * description (a terminal), whose saved "stdout" flags hold stdin's
   * O_NONBLOCK. */
  sk__endpoint_restore(&h->out);
  sk__endpoint_restore(&h->in);
  sk__bufq_clear(&h->outq);
  if (h->mode && h->mode->fini)
    h->mode->fini(h);
  free(h->conns);
  if (h->reserve_fd >= 0)
    close(h->reserve_fd);
  free(h);
}

static int hub_setup(char *err, sk__hub_t *h, int listen_fd,
                     const sk_hub_opts_t *opts) {
  int rc;
  h->listen_fd = listen_fd;
  h->err = err;
  h->in.fd = h->out.fd = -1;
  h->in.saved_flags = h->out.saved_flags = -1;
  if ((rc = hub_opts_set(err, h, opts)) != 0)
    return rc;
  h->loop_ready = true;
  h->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (h->mode->init && h->mode->init(h) < 0)
    return sk__fail(err, -ENOMEM, "hub: %s", strerror(ENOMEM));
  if ((rc = hub_handles_init(err, h)) != 0 || (rc = sk__web_open(err, h)) ||
      (rc = hub_stdio_open(err, h)) != 0)
    return rc;
  hub_reads_update(h);
  return h->listening ? 0 : -EIO; /* hub_fail wrote err */
}

int sk_hub_run(sk_engine_t *e, char *err, int listen_fd,
               const sk_hub_opts_t *opts) {
  sk__hub_t *h = calloc(1, sizeof *h);
  if (!h)
    return sk__fail(err, -ENOMEM, "hub: %s", strerror(ENOMEM));
  h->reserve_fd = -1;
  h->e = e;
  h->loop = e->loop;
  sk__engine_attach(e, &h->part, h, hub_on_stop);
  int rc = hub_setup(err, h, listen_fd, opts);
  if (rc == 0) {
    sk__engine_run(e);
    sk__engine_reason(e, h->reason ? h->reason : SK_STOP_DONE);
    rc = h->reason == SK_STOP_ERROR ? -EIO : 0;
  } else {
    sk__engine_reason(e, SK_STOP_ERROR);
  }
  sk__engine_detach(e, &h->part);
  hub_free(h);
  return rc;
}
