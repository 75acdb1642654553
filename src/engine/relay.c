/*
 * The full-duplex relay: two pumps, input -> socket ("up") and socket ->
 * output ("down"), driven by one libuv loop. Each pump moves bytes with
 * the cheapest call its two descriptors allow: sendfile(2) from a file
 * to a socket, splice(2) through a pipe of our own when one end is a
 * socket and the other a pipe, file or /dev/null, read/write otherwise
 * (and whenever the kernel refuses the others).
 *
 * Sockets, pipes and terminals are watched with uv_poll; regular files
 * and devices such as /dev/null cannot be polled and are always ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "internal.h"
#include "sockit/acl.h"
#include "sockit/addr.h"
#include "endpoint.h"
#include "engine.h"
#include "outlog.h"
#include "relay.h"
#include "sockit/sock.h"
#include "sockit/tls.h"

#define BUF_DEFAULT (256 * 1024)
#define PIPE_WANT (1024 * 1024)
#define ROUNDS 16 /* calls per pump per turn, so neither side starves */
#define SENDFILE_CHUNK (1 << 20)
#define DGRAM_MAX 65536
#define UDP_PAYLOAD_MAX 65507 /* IPv4; also the Unix datagram chunk */
#define PEERS_MAX 1024
/* Datagrams per recvmmsg/sendmmsg and per writev: 32 64-byte datagrams
 * per call cut the per-datagram system-call cost enough that one core
 * keeps up with one sender (bench/ping.sh, scenario 8). Each slot holds
 * the largest datagram, so the slots take 2 MiB of address space, but
 * only the pages datagrams touch become memory (malloc maps a block
 * this size on demand: 64-byte datagrams touch one page per slot). */
#define DGRAM_BATCH 32
/* SO_RCVBUF asked for a datagram socket we read. The kernel charges
 * about 830 bytes per 64-byte datagram on loopback: its default 208 KiB
 * holds 256 of them, half a millisecond at one sender's full rate
 * (450,000 to 500,000 a second here), less than a scheduling slice on a
 * busy machine; 8 MiB (16 MiB with the kernel's allowance) hold 20,000,
 * 40 ms. */
#define RCVBUF_WANT (8 << 20)

typedef struct relay relay_t;

/* The relay's ends are the engine's endpoints (endpoint.h). */
typedef sk__endpoint_t end_t;

typedef enum move { MOVE_COPY, MOVE_SENDFILE, MOVE_SPLICE } move_t;

/* A datagram pump's buffer: DGRAM_BATCH slots of DGRAM_MAX bytes (the
 * pump's buf), datagram i's bytes at iov[i]. Slots [next, n) wait for
 * the destination; iov[next] is advanced past what a short write took.
 * Filled only when empty, so a batch is read, then written, whole. */
typedef struct dgram_batch {
  struct mmsghdr msgs[DGRAM_BATCH];
  struct iovec iov[DGRAM_BATCH];
  struct sockaddr_storage from[DGRAM_BATCH];
  size_t n, next;
} dgram_batch_t;

typedef struct pump {
  end_t *src, *dst;
  move_t move;
  bool active;      /* false for --send-only / --recv-only */
  bool crlf;
  bool eof;         /* src reached EOF */
  bool done;        /* finished: EOF with nothing left, or failed */
  bool finished;    /* done through pump_finish: EOF read, all written */
  char *buf;        /* MOVE_COPY: bytes [head, tail) wait for dst */
  size_t cap, head, tail;
  int pipe[2];      /* MOVE_SPLICE: in_pipe bytes wait in our pipe */
  size_t pipe_cap, in_pipe;
  bool pipe_full;   /* splice into our pipe said EAGAIN: write it first */
  int crlf_last;    /* -C: the last byte read, carried across reads */
  size_t peer_next; /* datagram fan-out: next peer to send to */
  dgram_batch_t *batch; /* MOVE_COPY with a datagram end, else NULL */
  const sk_relay_filter_t *filter; /* MOVE_COPY through it, or NULL */
  char *fin;        /* the filter's input: one read */
  const sk_relay_io_t *rio, *wio; /* side a's own read, write, or NULL */
  uint64_t bytes;
  relay_t *relay;
} pump_t;

struct relay {
  sk_engine_t *e;     /* the loop core this relay runs on */
  sk__part_t part;    /* how sk_engine_stop() reaches it */
  uv_loop_t *loop;    /* e->loop: the caller's */
  sk_relay_done_cb done; /* NULL after a failed start: never called */
  void *done_arg;
  sk_relay_opts_t o;  /* the caller's options, kept */
  sk_stop_t reason;   /* why it ends (the first reason wins) */
  bool over;          /* finished: handles closing, then freed */
  unsigned closing;   /* handles whose close callback is pending */
  char errbuf[SK_ERR_LEN];
  uv_idle_t idle;
  uv_timer_t tick;    /* idle timeout, progress, flush deadline: runs
                         only while one of them is pending */
  uv_timer_t quit;    /* -q: the end, some time after input EOF */
  bool handles_ready; /* idle, tick and quit are initialised */
  /* The ends of the two sides, b's first: a side's reading and writing
   * halves share one end when they are one descriptor (a socket). */
  end_t ends[4];
  size_t n_ends;
  end_t *a_rd, *a_wr, *b_rd, *b_wr;
  pump_t up, down; /* up: a_rd -> b_wr; down: b_rd -> a_wr */
  const sk_relay_opts_t *opts;
  bool failed, stopping;
  bool errored;       /* a runtime error is recorded in err */
  bool asked_stop;    /* sk_engine_stop() came once already */
  char *err;
  uint64_t last_activity, last_bytes, started, last_report;
  uint64_t report_bytes;
  bool progress_tty;  /* --progress rewrites one line on a terminal */
  uint64_t in_size;   /* bytes a regular-file input holds, or 0 */
  size_t dgram_max;   /* the largest datagram one read of input makes */
  uint64_t unheard_bytes; /* -k -u -l: input read before any peer spoke */
  /* -u -l only (130 KiB, so allocated then): the peers heard from */
  struct sockaddr_storage *peers;
  socklen_t *peer_lens;
  size_t n_peers, next_evict;
};

static void relay_turn(relay_t *r);
static void on_tick(uv_timer_t *t);

static void relay_close(relay_t *r);

static void relay_deadline_cb(void *mode) {
  relay_close(mode); /* what was buffered did not drain in time */
}

/* A stop is under way: the engine's one flush deadline bounds it. */
static void relay_deadline(relay_t *r) {
  sk__engine_deadline(r->e, &r->part, relay_deadline_cb);
}

/* ---- failures -------------------------------------------------------- */

static void relay_fail(relay_t *r, bool stop, const char *fmt, ...)
    SK__PRINTF(3, 4);

/* Records the first error (exit code 1). With stop, nothing more is
 * read anywhere and only what is buffered drains; without, the other
 * direction carries on, so that bytes the peer sent before it reset
 * still reach stdout. */
static void relay_fail(relay_t *r, bool stop, const char *fmt, ...) {
  if (!r->errored && r->err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, SK_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  r->errored = true;
  if (stop && !r->failed)
    relay_deadline(r);
  r->failed |= stop;
}

/* A normal end (network EOF delivered, -q, stdout closed): read no more,
 * flush what is buffered (bounded by the deadline), exit code as is. */
static void relay_wind_down(relay_t *r) {
  if (!r->stopping && !r->failed)
    relay_deadline(r);
  r->stopping = true;
}

static bool is_reset(int e) {
  return e == ECONNRESET || e == EPIPE;
}

static void pump_read_failed(pump_t *p, int e) {
  p->eof = true;
  if (p->src->tls && e == EPROTO)
    relay_fail(p->relay, true, "%s", p->src->tls->err);
  else if (p->src->dgram && e == ECONNREFUSED)
    relay_fail(p->relay, true, "%s: no one is listening (Connection refused)",
               p->src->name);
  else if (p->src->socket && is_reset(e))
    relay_fail(p->relay, true, "connection reset by %s", p->src->name);
  else
    relay_fail(p->relay, true, "read from %s: %s", p->src->name, strerror(e));
}

/* EMSGSIZE: name the limit the kernel applied to this destination. */
static void dgram_too_large(pump_t *p, const struct sockaddr *to,
                            size_t len) {
  int max = sk__udp_payload_max(p->dst->fd, to), sndbuf = 0;
  socklen_t sl = sizeof sndbuf;
  if (max > 0) {
    relay_fail(p->relay, true,
               "datagram of %zu bytes is over the limit of %d bytes", len,
               max);
    return;
  }
  getsockopt(p->dst->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
  relay_fail(p->relay, true,
             "datagram of %zu bytes is over the limit of this socket's send "
             "buffer (SO_SNDBUF %d bytes)",
             len, sndbuf);
}

static void pump_write_failed(pump_t *p, int e) {
  relay_t *r = p->relay;
  p->done = true;
  p->eof = true;
  /* The peer closed both ways after we saw its EOF: a normal end. */
  if (p == &r->up && r->down.eof && is_reset(e))
    return;
  /* `sockit ... | head`: the reader has all it wants. End quietly, as
   * filters do; SIGPIPE is ignored, so this is where it shows. */
  if (p == &r->down && !p->dst->socket && e == EPIPE) {
    relay_wind_down(r);
    return;
  }
  if (p->dst->tls && e == EPROTO)
    relay_fail(r, true, "%s", p->dst->tls->err);
  else if (e == EMSGSIZE)
    dgram_too_large(p, NULL, p->tail - p->head);
  else if (p->dst->dgram && e == ECONNREFUSED)
    relay_fail(r, true, "%s: no one is listening (Connection refused)",
               p->dst->name);
  else if (p->dst->socket && is_reset(e))
    relay_fail(r, false, "connection reset by %s", p->dst->name);
  else
    relay_fail(r, true, "write to %s: %s", p->dst->name, strerror(e));
}

/* ---- datagram peers ------------------------------------------------ */

/* Remembers who spoke: only the last one, or (-k) every one, bounded. */
static void peer_note(relay_t *r, const struct sockaddr_storage *from,
                      socklen_t len) {
  size_t i;
  if (len <= sizeof(sa_family_t))
    return; /* an unbound Unix datagram socket: no address to answer */
  if (!r->opts->dgram_all_peers) {
    r->n_peers = 1;
    i = 0;
  } else {
    for (i = 0; i < r->n_peers; i++)
      if (r->peer_lens[i] == len && memcmp(&r->peers[i], from, len) == 0)
        return;
    if (r->n_peers < PEERS_MAX) {
      i = r->n_peers++;
    } else {
      i = r->next_evict;
      r->next_evict = (r->next_evict + 1) % PEERS_MAX;
    }
  }
  memcpy(&r->peers[i], from, len);
  r->peer_lens[i] = len;
}

/* ---- pumps ----------------------------------------------------------- */

/* Bytes waiting for the destination; for a datagram pump, datagrams
 * (a 0-byte datagram is still one to send). */
static size_t pump_pending(const pump_t *p) {
  if (p->move == MOVE_SPLICE)
    return p->in_pipe;
  if (p->batch)
    return p->batch->n - p->batch->next;
  return p->tail - p->head;
}

/* The read/write buffer of one direction: at least two datagrams. */
static size_t copy_cap(const sk_relay_opts_t *o) {
  size_t cap = o->buf_size ? o->buf_size : BUF_DEFAULT;
  return cap < 2 * DGRAM_MAX ? 2 * DGRAM_MAX : cap;
}

/* Room one read needs: two bytes per LF with -C; a filter's most. */
static size_t copy_need(const pump_t *p) {
  return p->filter ? p->filter->out_max : p->crlf ? 2 : 1;
}

/* Moves pending bytes to the front when the tail is short of room. Since
 * cap >= 2 * DGRAM_MAX (and 2 * a filter's out_max), half the buffer is
 * always enough for one read. */
static void copy_make_room(pump_t *p) {
  if (p->head == p->tail) {
    p->head = p->tail = 0;
  } else if (p->head > 0 && p->cap - p->tail < p->cap / 2) {
    memmove(p->buf, p->buf + p->head, p->tail - p->head);
    p->tail -= p->head;
    p->head = 0;
  }
}

static bool pump_wants_read(const pump_t *p) {
  const relay_t *r = p->relay;
  if (!p->active || p->eof || r->failed || r->stopping ||
      p->move == MOVE_SENDFILE || (p->src->tls && !p->src->tls->handshaken))
    return false;
  if (p->move == MOVE_SPLICE)
    return p->in_pipe < p->pipe_cap && !p->pipe_full;
  if (p->batch && p->batch->next < p->batch->n)
    return false; /* a batch is filled only once it is all written */
  if (p->batch && p->dst->dgram) /* -u -l: hold input until one speaks */
    return !r->opts->dgram_listen || r->n_peers > 0 ||
           r->opts->dgram_all_peers;
  if (p->batch)
    return true;
  return p->cap - (p->tail - p->head) >= copy_need(p);
}

static bool pump_wants_write(const pump_t *p) {
  if (!p->active || p->done || (p->dst->tls && !p->dst->tls->handshaken))
    return false;
  if (p->move == MOVE_SENDFILE)
    return !p->eof && !p->relay->failed && !p->relay->stopping;
  return pump_pending(p) > 0;
}

/* -u -l with --allow/--deny: true (and, with -v, one line) when the
 * datagram's sender is refused. There is no connection to refuse, so
 * the check is per datagram. */
static bool dgram_refused(relay_t *r, const struct sockaddr_storage *from,
                          socklen_t len) {
  char name[SK_ADDRSTR_LEN];
  const sk_relay_opts_t *o = r->opts;
  if (!o->dgram_listen || !o->acl ||
      (from->ss_family != AF_INET && from->ss_family != AF_INET6) ||
      sk_acl_permits(o->acl, (const struct sockaddr *)from))
    return false;
  if (o->verbose) {
    sk_sockaddr_format((const struct sockaddr *)from, len, name, sizeof name);
    sk__engine_log(r->e, SK_LOG_NOTICE,
                   "dropped a datagram from %s (--allow/--deny)", name);
  }
  return true;
}

/* ---- datagram batches ------------------------------------------------ */

/* Datagram i's slot in the pump's buffer. */
static char *dgram_slot(const pump_t *p, size_t i) {
  return p->buf + i * DGRAM_MAX;
}

/* Peers belong to side b (the network): only the pump reading b learns
 * them (and applies --allow/--deny), only the one writing b answers. */
static bool dgram_from_peers(const pump_t *p) {
  return p->relay->opts->dgram_listen && p->src == p->relay->b_rd;
}

static bool dgram_to_peers(const pump_t *p) {
  return p->relay->opts->dgram_listen && p->dst == p->relay->b_wr;
}

/* The per-datagram rules, in arrival order, on what recvmmsg got: one
 * too large ends the relay once those before it are written; a refused
 * sender's datagram is dropped (not output, not a peer to answer); the
 * others are kept and their senders noted. Returns how many are kept. */
static size_t dgram_sift(pump_t *p, size_t got) {
  dgram_batch_t *b = p->batch;
  size_t kept = 0;
  for (size_t i = 0; i < got; i++) {
    const struct msghdr *h = &b->msgs[i].msg_hdr;
    size_t len = b->msgs[i].msg_len;
    if ((h->msg_flags & MSG_TRUNC) || len > DGRAM_MAX) {
      relay_fail(p->relay, true,
                 "received a datagram of %zu bytes, over the limit of %d "
                 "bytes",
                 len, DGRAM_MAX);
      break;
    }
    if (dgram_from_peers(p) &&
        dgram_refused(p->relay, &b->from[i], h->msg_namelen))
      continue;
    if (dgram_from_peers(p))
      peer_note(p->relay, &b->from[i], h->msg_namelen);
    b->iov[kept].iov_base = dgram_slot(p, i); /* kept <= i: read already */
    b->iov[kept++].iov_len = len;
  }
  return kept;
}

/* Up to DGRAM_BATCH datagrams in one recvmmsg, each whole in its slot
 * (MSG_TRUNC: one larger than a slot is reported with its size). */
static bool dgram_recv(pump_t *p) {
  dgram_batch_t *b = p->batch;
  int got;
  for (size_t i = 0; i < DGRAM_BATCH; i++) {
    b->iov[i] = (struct iovec){dgram_slot(p, i), DGRAM_MAX};
    b->msgs[i].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
                                         .msg_namelen = sizeof b->from[i],
                                         .msg_iov = &b->iov[i],
                                         .msg_iovlen = 1};
  }
  do
    got = recvmmsg(p->src->fd, b->msgs, DGRAM_BATCH, MSG_TRUNC, NULL);
  while (got < 0 && errno == EINTR);
  if (got < 0 && errno == EAGAIN) {
    p->src->can_read = false;
    return false;
  }
  if (got < 0) {
    pump_read_failed(p, errno);
    return true;
  }
  if (got < DGRAM_BATCH) /* the socket's queue is empty: ask poll */
    p->src->can_read = false;
  b->next = 0;
  b->n = dgram_sift(p, (size_t)got);
  return true;
}

/* Input for a datagram socket: one read is one datagram, at most the
 * family's limit (half of it with -C, which may double every byte).
 * Reads go on while input has more at once (a file; a pipe holding
 * more than one datagram's worth), so a burst leaves in one sendmmsg;
 * a short read means input is drained for now. */
static bool dgram_fill(pump_t *p) {
  dgram_batch_t *b = p->batch;
  size_t want = p->relay->dgram_max / (p->crlf ? 2 : 1);
  bool moved = false;
  while (b->n < DGRAM_BATCH && !p->eof && (!moved || p->src->can_read)) {
    char *slot = dgram_slot(p, b->n);
    char *into = p->crlf ? slot + DGRAM_MAX - want : slot; /* see copy_read */
    ssize_t n = sk__endpoint_read(p->src, into, want);
    if (n < 0 && errno == EAGAIN)
      return moved;
    if (n < 0) {
      pump_read_failed(p, errno);
      return true;
    }
    if (n == 0) {
      p->eof = true;
      return true;
    }
    b->iov[b->n].iov_base = slot;
    b->iov[b->n++].iov_len =
        p->crlf ? sk__crlf_convert(into, (size_t)n, slot, &p->crlf_last)
                : (size_t)n;
    moved = true;
  }
  return moved;
}

/* Takes n written bytes off the front of the batch. */
static void dgram_consume(dgram_batch_t *b, size_t n) {
  while (b->next < b->n && n >= b->iov[b->next].iov_len)
    n -= b->iov[b->next++].iov_len;
  if (b->next == b->n) {
    b->next = b->n = 0;
    return;
  }
  b->iov[b->next].iov_base = (char *)b->iov[b->next].iov_base + n;
  b->iov[b->next].iov_len -= n;
}

/* The batch to a stream (stdout) in one writev: the datagrams' bytes
 * back to back, as nc writes them; a socket gets sendmsg (no SIGPIPE). */
static bool dgram_writev(pump_t *p) {
  dgram_batch_t *b = p->batch;
  struct msghdr h = {.msg_iov = b->iov + b->next,
                     .msg_iovlen = b->n - b->next};
  ssize_t n;
  do
    n = p->dst->socket ? sendmsg(p->dst->fd, &h, MSG_NOSIGNAL)
                       : writev(p->dst->fd, h.msg_iov, (int)h.msg_iovlen);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) {
    p->dst->can_write = false;
    return false;
  }
  if (n < 0) {
    pump_write_failed(p, errno);
    return true;
  }
  p->bytes += (uint64_t)n;
  dgram_consume(b, (size_t)n);
  if (b->n > 0 && p->dst->polled) /* a short write: the pipe is full */
    p->dst->can_write = false;
  return true;
}

/* -k -u -l: input goes to the peers heard from so far, each read to all
 * of them at once. Input read before anyone spoke has no one to go to;
 * holding it for whoever speaks first would greet that peer only, and
 * holding it for all comers is unbounded. Drop it, and say so once. */
static bool dgram_unheard(pump_t *p) {
  relay_t *r = p->relay;
  dgram_batch_t *b = p->batch;
  if (r->unheard_bytes == 0)
    sk__engine_log(r->e, SK_LOG_NOTICE,
                   "no peer has spoken yet: input not sent "
                   "(-k sends to the peers heard from)");
  for (size_t i = b->next; i < b->n; i++)
    r->unheard_bytes += b->iov[i].iov_len;
  b->next = b->n = 0;
  return true;
}

static bool dgram_send_failed(pump_t *p, int e) {
  relay_t *r = p->relay;
  if (e == EAGAIN) {
    p->dst->can_write = false;
    return false;
  }
  if (e != EMSGSIZE) {
    pump_write_failed(p, e);
    return true;
  }
  p->done = p->eof = true;
  dgram_too_large(p,
                  dgram_to_peers(p)
                      ? (const struct sockaddr *)&r->peers[p->peer_next]
                      : NULL,
                  p->batch->iov[p->batch->next].iov_len);
  return true;
}

/* Counts sent messages off the batch: datagram by datagram, and within
 * one datagram peer by peer (n_peers each). */
static void dgram_sent(pump_t *p, int sent, size_t n_peers) {
  dgram_batch_t *b = p->batch;
  for (int i = 0; i < sent; i++) {
    if (++p->peer_next < n_peers)
      continue;
    p->peer_next = 0;
    p->bytes += b->iov[b->next++].iov_len;
  }
  if (b->next == b->n)
    b->next = b->n = 0;
}

/* The batch in one sendmmsg: each datagram as it was read, to the
 * connected peer, or (-u -l) to each peer that needs it. */
static bool dgram_send(pump_t *p) {
  relay_t *r = p->relay;
  dgram_batch_t *b = p->batch;
  struct mmsghdr mm[DGRAM_BATCH];
  bool to_peers = dgram_to_peers(p);
  size_t n_peers = to_peers ? r->n_peers : 1, k, d = b->next;
  size_t peer = p->peer_next;
  int sent;
  if (n_peers == 0) /* -k before anyone spoke */
    return dgram_unheard(p);
  for (k = 0; d < b->n && k < DGRAM_BATCH; k++) {
    mm[k].msg_hdr = (struct msghdr){.msg_iov = &b->iov[d], .msg_iovlen = 1};
    if (to_peers) {
      mm[k].msg_hdr.msg_name = &r->peers[peer];
      mm[k].msg_hdr.msg_namelen = r->peer_lens[peer];
    }
    if (++peer == n_peers) {
      peer = 0;
      d++;
    }
  }
  do
    sent = sendmmsg(p->dst->fd, mm, (unsigned)k, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0)
    return dgram_send_failed(p, errno);
  dgram_sent(p, sent, n_peers);
  return true;
}

/* -o / --hex-dump: what one read brought, [from, tail) of the buffer. */
static void pump_tap(pump_t *p, size_t from) {
  relay_t *r = p->relay;
  if (r->opts->log && p->tail > from)
    sk__outlog_tap(r->opts->log, r->e,
                   p == &r->up ? SK_OUTLOG_SENT : SK_OUTLOG_RECEIVED,
                   p->buf + from, p->tail - from);
}

/* The same for the datagrams a batch read added, slots [from, n). */
static void pump_tap_batch(pump_t *p, size_t from) {
  relay_t *r = p->relay;
  for (size_t i = from; r->opts->log && i < p->batch->n; i++)
    sk__outlog_tap(r->opts->log, r->e,
                   p == &r->up ? SK_OUTLOG_SENT : SK_OUTLOG_RECEIVED,
                   p->batch->iov[i].iov_base, p->batch->iov[i].iov_len);
}

/* ---- plain read/write ------------------------------------------------- */

/* One read of the source: side a's own call (sk_relay_io_t) or the
 * endpoint's. */
static ssize_t end_read(pump_t *p, char *buf, size_t len) {
  if (!p->rio)
    return sk__endpoint_read(p->src, buf, len);
  ssize_t n = p->rio->read(p->rio->arg, buf, len);
  if (n < 0 && errno == EAGAIN)
    p->src->can_read = false;
  return n;
}

static ssize_t end_write(pump_t *p, const char *buf, size_t len) {
  if (!p->wio)
    return sk__endpoint_write(p->dst, buf, len);
  ssize_t n = p->wio->write(p->wio->arg, buf, len);
  if (n < 0 && errno == EAGAIN)
    p->dst->can_write = false;
  return n;
}

/* A filtered read: one read (in_max at most) through the filter into
 * the buffer, where pump_wants_read saw out_max free. At the source's
 * end (EOF or an error) the filter emits what it carries. */
static bool filter_read(pump_t *p) {
  const sk_relay_filter_t *f = p->filter;
  copy_make_room(p);
  ssize_t n = end_read(p, p->fin, f->in_max);
  int e = errno;
  if (n < 0 && e == EAGAIN)
    return false;
  ssize_t out = f->fn(f->arg, p->fin, n > 0 ? (size_t)n : 0,
                      p->buf + p->tail);
  size_t from = p->tail;
  if (out > 0)
    p->tail += (size_t)out;
  pump_tap(p, from);
  if (out < 0) {
    p->eof = true;
    relay_fail(p->relay, true, "filter: %s", strerror((int)-out));
  } else if (n == 0) {
    p->eof = true;
  } else if (n < 0) {
    pump_read_failed(p, e);
  }
  return true;
}

static bool copy_read(pump_t *p) {
  if (p->batch) {
    /* dgram_fill appends to the batch; dgram_recv makes a new one (and
     * leaves it as it was when it fails). */
    size_t n = p->batch->n, next = p->batch->next;
    bool moved = p->src->dgram ? dgram_recv(p) : dgram_fill(p);
    if (!p->src->dgram)
      pump_tap_batch(p, n);
    else if (moved && (p->batch->n != n || p->batch->next != next))
      pump_tap_batch(p, 0);
    return moved;
  }
  if (p->filter)
    return filter_read(p);
  copy_make_room(p);
  size_t space = p->cap - p->tail, want = p->crlf ? space / 2 : space;
  /* -C reads into the far end of the room and converts down to `at`:
   * in place, since the output never overtakes the input. */
  char *at = p->buf + p->tail, *into = p->crlf ? at + space - want : at;
  ssize_t n = end_read(p, into, want);
  if (n > 0) {
    size_t from = p->tail;
    p->tail += p->crlf ? sk__crlf_convert(into, (size_t)n, at, &p->crlf_last)
                       : (size_t)n;
    pump_tap(p, from);
  } else if (n == 0)
    p->eof = true;
  else if (errno == EAGAIN)
    return false;
  else
    pump_read_failed(p, errno);
  return true;
}

static bool copy_write(pump_t *p) {
  if (p->batch)
    return p->dst->dgram ? dgram_send(p) : dgram_writev(p);
  ssize_t n = end_write(p, p->buf + p->head, p->tail - p->head);
  if (n > 0) {
    p->head += (size_t)n;
    p->bytes += (uint64_t)n;
  } else if (n < 0 && errno == EAGAIN) {
    return false;
  } else if (n < 0) {
    pump_write_failed(p, errno);
  }
  return n != 0;
}

/* ---- zero-copy moves ------------------------------------------------- */

/* The kernel refused splice or sendfile for these descriptors: carry on
 * with read/write, taking over what already sits in our pipe. */
static int pump_fall_back(pump_t *p) {
  size_t cap = copy_cap(p->relay->opts);
  if (cap < p->in_pipe)
    cap = p->in_pipe;
  if (!(p->buf = malloc(cap)))
    return -ENOMEM;
  p->cap = cap;
  while (p->in_pipe > 0) {
    ssize_t n = read(p->pipe[0], p->buf + p->tail, p->in_pipe);
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    p->tail += (size_t)n;
    p->in_pipe -= (size_t)n;
  }
  if (p->move == MOVE_SPLICE) {
    close(p->pipe[0]);
    close(p->pipe[1]);
    p->pipe[0] = p->pipe[1] = -1;
  }
  p->move = MOVE_COPY;
  p->pipe_full = false;
  return 0;
}

static bool refused(int e) {
  return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

/* EAGAIN from a splice into our pipe means "source empty" or "pipe
 * full": a pipe whose slots hold partial pages (socket segments, device
 * chunks) refuses more although in_pipe < pipe_cap. Either way needs a
 * wake-up: with bytes in the pipe, wait until splice_write drains some
 * (never poll a source that is readable: that spins); with an empty
 * pipe, poll the source, or, for a device that cannot be polled, go on
 * with read/write. Returns whether anything moved. */
static bool splice_would_block(pump_t *p) {
  if (p->in_pipe > 0) {
    p->pipe_full = true;
    return false;
  }
  if (p->src->polled) {
    p->src->can_read = false;
    return false;
  }
  if (pump_fall_back(p) == 0)
    return copy_read(p);
  pump_read_failed(p, ENOMEM);
  return true;
}

static bool splice_read(pump_t *p) {
  ssize_t n;
  size_t want = p->pipe_cap - p->in_pipe;
  do
    n = splice(p->src->fd, NULL, p->pipe[1], NULL, want,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    p->in_pipe += (size_t)n;
    /* Less than asked: the source is drained for now (or our pipe ran
     * out of slots, which the next splice finds). Poll, which is level-
     * triggered, says when more comes; another splice now would mostly
     * meet EAGAIN, one call per wake-up (two per forwarded connection). */
    if (p->src->polled && (size_t)n < want)
      p->src->can_read = false;
  } else if (n == 0) {
    p->eof = true;
  } else if (errno == EAGAIN) {
    return splice_would_block(p);
  } else if (refused(errno) && pump_fall_back(p) == 0) {
    return copy_read(p);
  } else {
    pump_read_failed(p, errno);
  }
  return true;
}

static bool splice_write(pump_t *p) {
  ssize_t n;
  do
    n = splice(p->pipe[0], NULL, p->dst->fd, NULL, p->in_pipe,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    p->in_pipe -= (size_t)n;
    p->bytes += (uint64_t)n;
    p->pipe_full = false;
  } else if (n < 0 && errno == EAGAIN) {
    p->dst->can_write = false;
    return false;
  } else if (n < 0 && refused(errno) && pump_fall_back(p) == 0) {
    return copy_write(p);
  } else if (n < 0) {
    pump_write_failed(p, errno);
  }
  return true;
}

static bool sendfile_write(pump_t *p) {
  ssize_t n;
  do
    n = sendfile(p->dst->fd, p->src->fd, NULL, SENDFILE_CHUNK);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    p->bytes += (uint64_t)n;
  } else if (n == 0) {
    p->eof = true;
  } else if (errno == EAGAIN) {
    p->dst->can_write = false;
    return false;
  } else if (refused(errno) && pump_fall_back(p) == 0) {
    return copy_read(p);
  } else {
    pump_write_failed(p, errno);
  }
  return true;
}

/* ---- one pump -------------------------------------------------------- */

static bool pump_read(pump_t *p) {
  return p->move == MOVE_SPLICE ? splice_read(p) : copy_read(p);
}

static bool pump_write(pump_t *p) {
  if (p->move == MOVE_SENDFILE)
    return sendfile_write(p);
  return p->move == MOVE_SPLICE ? splice_write(p) : copy_write(p);
}

static void on_quit(uv_timer_t *t);

/* Sends close_notify on a TLS end (now, or once it can write). */
static void relay_close_notify(relay_t *r, end_t *e) {
  int rc = sk__endpoint_tls_close_notify(e);
  if (rc < 0)
    relay_fail(r, false, "%s", e->tls->err);
  else if (rc > 0) /* the half-close proper: peers that wait for FIN */
    shutdown(e->fd, SHUT_WR);
}

/* The last direction of a half-closing relay whose caller closes the
 * sockets at once (closes_after): the other direction read this
 * socket to its EOF (nothing unread: close sends a FIN, not a reset),
 * and with both done the relay ends in this turn. */
static bool fin_by_close(const pump_t *p) {
  const relay_t *r = p->relay;
  const pump_t *other = p == &r->up ? &r->down : &r->up;
  return r->opts->half_close && r->opts->closes_after && !r->failed &&
         !r->errored && other->finished && other->src == p->dst &&
         p->dst->socket && !p->dst->dgram && !p->dst->tls;
}

/* p's destination hears the end of p's bytes and nothing more: TLS's
 * close_notify, a stream socket's FIN; the other direction goes on. */
static void pump_half_close(pump_t *p) {
  if (p->dst->tls)
    relay_close_notify(p->relay, p->dst);
  else if (p->dst->socket && !p->dst->dgram)
    shutdown(p->dst->fd, SHUT_WR);
}

/* A direction is over: its source hit EOF and everything is written.
 * Input: half-close if asked (-N), and with -q end a while later.
 * Network: as nc and ncat, the relay ends once the peer's bytes are
 * all out; what stdin still has to say has no one to hear it. */
static void pump_finish(pump_t *p) {
  relay_t *r = p->relay;
  const sk_relay_opts_t *o = r->opts;
  p->done = p->finished = true;
  if (fin_by_close(p))
    return; /* the relay ends now: the caller's close(2) sends the FIN */
  if (p == &r->down && o->half_close) {
    pump_half_close(p); /* forwarding: the FIN goes on */
    return;
  }
  if (p == &r->down) {
    relay_wind_down(r);
    return;
  }
  if (o->shutdown_on_eof || o->half_close)
    pump_half_close(p);
  if (!o->quit_after_eof)
    return;
  if (o->quit_after_eof_ms <= 0)
    relay_wind_down(r);
  else
    uv_timer_start(&r->quit, on_quit, (uint64_t)o->quit_after_eof_ms, 0);
}

/* Moves bytes until both sides would block, or for ROUNDS calls at most
 * so that the other pump gets its turn. */
static void pump_step(pump_t *p) {
  for (int i = 0; i < ROUNDS; i++) {
    bool moved = false;
    if (pump_wants_read(p) && p->src->can_read)
      moved |= pump_read(p);
    if (pump_wants_write(p) && p->dst->can_write)
      moved |= pump_write(p);
    if (p->active && !p->done && p->eof && pump_pending(p) == 0 &&
        !p->relay->failed)
      pump_finish(p);
    if (!moved)
      return;
  }
}

static move_t move_choose(const pump_t *p, const sk_relay_opts_t *o) {
  const end_t *s = p->src, *d = p->dst;
  if (s->tls || d->tls) /* records: no zero-copy move for them */
    return MOVE_COPY;
  if (p->filter || p->rio || p->wio) /* the bytes go through our calls */
    return MOVE_COPY;
  if (o->no_zero_copy || p->crlf || s->dgram || d->dgram || s->tty ||
      d->tty || sk_outlog_active(o->log))
    return MOVE_COPY;
  if (s->regular && d->socket)
    return MOVE_SENDFILE;
  if (s->socket || d->socket)
    return MOVE_SPLICE;
  return MOVE_COPY;
}

/* Splice pipes outlive their relay: a forwarder starts one relay per
 * connection, and making two 1 MiB pipes (pipe2, F_SETPIPE_SZ, close)
 * for each costs more than the 64 bytes it may carry. Empty pipes are
 * kept here for the next relay, a bounded few; the process has one loop
 * (main's), so there is no lock. */
#define PIPE_POOL_MAX 64
static struct {
  int fd[2];
  size_t cap;
} pipe_pool[PIPE_POOL_MAX];
static size_t pipe_pool_n;

static int pipe_get(pump_t *p) {
  if (pipe_pool_n > 0) {
    pipe_pool_n--;
    p->pipe[0] = pipe_pool[pipe_pool_n].fd[0];
    p->pipe[1] = pipe_pool[pipe_pool_n].fd[1];
    p->pipe_cap = pipe_pool[pipe_pool_n].cap;
    return 0;
  }
  if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    return -errno;
  int got = fcntl(p->pipe[1], F_SETPIPE_SZ, PIPE_WANT);
  p->pipe_cap = got > 0 ? (size_t)got : 65536;
  return 0;
}

/* An empty pipe goes back to the pool; one holding bytes is closed. */
static void pipe_put(pump_t *p) {
  if (p->pipe[0] < 0)
    return;
  if (p->in_pipe == 0 && pipe_pool_n < PIPE_POOL_MAX) {
    pipe_pool[pipe_pool_n].fd[0] = p->pipe[0];
    pipe_pool[pipe_pool_n].fd[1] = p->pipe[1];
    pipe_pool[pipe_pool_n].cap = p->pipe_cap;
    pipe_pool_n++;
  } else {
    close(p->pipe[0]);
    close(p->pipe[1]);
  }
  p->pipe[0] = p->pipe[1] = -1;
}

static int pump_init(pump_t *p, relay_t *r, end_t *src, end_t *dst,
                     bool crlf, const sk_relay_filter_t *filter) {
  const sk_relay_opts_t *o = r->opts;
  memset(p, 0, sizeof *p);
  p->relay = r;
  p->src = src;
  p->dst = dst;
  p->pipe[0] = p->pipe[1] = -1;
  p->active = src->fd >= 0 && dst->fd >= 0;
  p->crlf = crlf;
  p->filter = filter;
  /* Side a's own calls: up reads a, down writes it. */
  if (o->a_io && src == r->a_rd && o->a_io->read)
    p->rio = o->a_io;
  if (o->a_io && dst == r->a_wr && o->a_io->write)
    p->wio = o->a_io;
  if (!p->active)
    return 0;
  if (filter && (crlf || src->dgram || dst->dgram || !filter->in_max ||
                 !filter->out_max))
    return -EINVAL;
  p->move = move_choose(p, o);
  if (p->move == MOVE_SPLICE)
    return pipe_get(p);
  if (p->move == MOVE_SENDFILE)
    return 0;
  p->cap = copy_cap(o);
  if (src->dgram || dst->dgram) { /* datagram slots: see DGRAM_BATCH */
    p->cap = (size_t)DGRAM_BATCH * DGRAM_MAX;
    if (!(p->batch = calloc(1, sizeof *p->batch)))
      return -ENOMEM;
  }
  /* TLS: room for 16 records, encrypted and sent together; decrypted
   * bytes go from OpenSSL straight to it, and from it to OpenSSL. */
  if (src->tls || dst->tls)
    p->cap = SK__TLS_BUF;
  if (filter) { /* room for one call's most, twice: see copy_make_room */
    if (p->cap < 2 * filter->out_max)
      p->cap = 2 * filter->out_max;
    if (!(p->fin = malloc(filter->in_max)))
      return -ENOMEM;
  }
  return (p->buf = malloc(p->cap)) ? 0 : -ENOMEM;
}

static void pump_free(pump_t *p) {
  free(p->buf);
  free(p->fin);
  free(p->batch);
  pipe_put(p);
}

/* ---- the loop -------------------------------------------------------- */

static int end_interest(const end_t *e, const pump_t *reader,
                        const pump_t *writer) {
  int events = 0;
  if (e->tls)
    return sk__endpoint_tls_events(e, reader && pump_wants_read(reader),
                                   writer && pump_wants_write(writer));
  if (reader && pump_wants_read(reader) && !e->can_read)
    events |= UV_READABLE;
  if (writer && pump_wants_write(writer) && !e->can_write)
    events |= UV_WRITABLE;
  return events;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void end_watch(end_t *e, int events) {
  sk__endpoint_watch(e, events, on_poll);
}

/* Each end polled for what the pumps that read and write it want. */
static void relay_watch(relay_t *r) {
  for (size_t i = 0; i < r->n_ends; i++) {
    end_t *e = &r->ends[i];
    const pump_t *rd = r->up.src == e ? &r->up
                       : r->down.src == e ? &r->down : NULL;
    const pump_t *wr = r->up.dst == e ? &r->up
                       : r->down.dst == e ? &r->down : NULL;
    end_watch(e, end_interest(e, rd, wr));
  }
}

static bool pump_settled(const pump_t *p) {
  return !p->active || p->done;
}

static bool pump_flushed(const pump_t *p) {
  return pump_settled(p) || !pump_wants_write(p);
}

/* Both directions are over; after a failure or a signal, as soon as
 * nothing buffered is left to write (the deadline bounds the wait). */
static bool relay_is_over(const relay_t *r) {
  if (r->failed || r->stopping)
    return pump_flushed(&r->up) && pump_flushed(&r->down);
  return pump_settled(&r->up) && pump_settled(&r->down);
}

static void relay_finish(relay_t *r, int rc);
static void relay_report(relay_t *r, bool final);

/* The run is over: the final report, then the end (relay_finish). */
static void relay_close(relay_t *r) {
  if (r->over)
    return;
  if (r->errored)
    r->reason = SK_STOP_ERROR; /* an error outranks the other reasons */
  else if (r->reason == SK_STOP_NONE)
    r->reason = SK_STOP_DONE;
  for (size_t i = 0; i < r->n_ends; i++)
    if (r->ends[i].tls && r->ends[i].tls->truncated && r->o.verbose)
      sk__engine_log(r->e, SK_LOG_NOTICE, "%s", r->ends[i].tls->err);
  if (r->o.progress || r->o.verbose)
    relay_report(r, true);
  relay_finish(r, r->errored ? -EIO : 0);
}

static void on_idle(uv_idle_t *h) {
  relay_turn(h->data);
}

/* True when the pump could act now without waiting for poll: it hit
 * its round limit, or the other pump changed what it wants. */
static bool pump_can_act(const pump_t *p) {
  return (pump_wants_read(p) && p->src->can_read) ||
         (pump_wants_write(p) && p->dst->can_write);
}

/* The TLS ends' own steps before any bytes move: the handshake, and a
 * close_notify that waited for the socket. */
static void relay_tls_step(relay_t *r) {
  for (size_t i = 0; i < r->n_ends; i++) {
    end_t *e = &r->ends[i];
    if (!e->tls || r->failed)
      continue;
    if (!e->tls->handshaken && !e->tls->hs_wait) {
      int rc = sk__endpoint_tls_handshake(e);
      if (rc < 0)
        relay_fail(r, true, "%s", e->tls->err);
      else if (rc > 0 && r->opts->verbose)
        sk__engine_log(r->e, SK_LOG_NOTICE, "TLS with %s: %s, %s%s%s",
                       e->name, sk_tls_version(e->tls->tls),
                       sk_tls_cipher(e->tls->tls),
                       *sk_tls_alpn(e->tls->tls) ? ", ALPN " : "",
                       sk_tls_alpn(e->tls->tls));
    } else if (e->tls->shut_asked && !e->tls->shut_sent &&
               !e->tls->wr_wait) {
      relay_close_notify(r, e);
    }
  }
}

static void relay_turn(relay_t *r) {
  uint64_t before = r->up.bytes + r->down.bytes;
  relay_tls_step(r);
  if (r->up.active)
    pump_step(&r->up);
  if (r->down.active)
    pump_step(&r->down);
  bool more = pump_can_act(&r->up) || pump_can_act(&r->down);
  if (r->up.bytes + r->down.bytes != before)
    r->last_activity = uv_now(r->loop);
  if (relay_is_over(r)) {
    relay_close(r);
    return;
  }
  relay_watch(r);
  if (more)
    uv_idle_start(&r->idle, on_idle);
  else
    uv_idle_stop(&r->idle);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  end_t *e = h->data;
  if (e->tls) {
    sk__endpoint_tls_ready(e, status < 0 ? UV_READABLE | UV_WRITABLE : events);
    relay_turn(e->owner);
    return;
  }
  /* On a poll error, let the next call on the descriptor report it. */
  if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
    e->can_read = true;
  if (status < 0 || (events & UV_WRITABLE))
    e->can_write = true;
  relay_turn(e->owner);
}

/* ---- timers, signals, reports ---------------------------------------- */

/* A byte count as "512 B", "1.5 KiB", "3.2 GiB" (the reports only). */
static void bytes_format(uint64_t bytes, char *buf, size_t len) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)bytes);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* ", 42%, ETA 0:07" for a regular-file input of known size, else "". */
static void progress_eta(const relay_t *r, char *buf, size_t len) {
  uint64_t now = uv_now(r->loop), sent = r->up.bytes;
  buf[0] = '\0';
  if (!r->in_size || sent > r->in_size)
    return;
  double secs = (double)(now > r->started ? now - r->started : 1) / 1000.0;
  double rate = (double)sent / secs;
  unsigned long eta = rate > 0 ? (unsigned long)((double)(r->in_size - sent) /
                                                 rate + 0.5)
                               : 0;
  int pct = (int)(sent * 100 / r->in_size);
  if (rate > 0)
    snprintf(buf, len, ", %d%%, ETA %lu:%02lu", pct, eta / 60, eta % 60);
  else
    snprintf(buf, len, ", %d%%", pct);
}

/* One report: totals, and the rate since the last report (or overall).
 * On a terminal the line is rewritten in place (\r, erase to the end)
 * and only the final one ends with a newline; elsewhere (a log file, a
 * pipe) each report is its own line. */
static void relay_report(relay_t *r, bool final) {
  char sent[32], received[32], eta[48];
  uint64_t now = uv_now(r->loop), total = r->up.bytes + r->down.bytes;
  uint64_t since = final ? r->started : r->last_report;
  uint64_t moved = final ? total : total - r->report_bytes;
  double secs = (double)(now > since ? now - since : 1) / 1000.0;
  bool tty = r->progress_tty;
  bytes_format(r->up.bytes, sent, sizeof sent);
  bytes_format(r->down.bytes, received, sizeof received);
  progress_eta(r, eta, sizeof eta);
  sk__engine_log(r->e, SK_LOG_PROGRESS,
                 "%ssockit: %s%s sent, %s received, %.1f MiB/s%s%s%s%s",
                 tty ? "\r" : "", final ? "total: " : "", sent, received,
                 (double)moved / secs / (1024.0 * 1024.0),
                 final ? " average" : "", final ? "" : eta,
                 tty ? "\033[K" : "", final || !tty ? "\n" : "");
  r->last_report = now;
  r->report_bytes = total;
}

/* -w during a TLS handshake: not an idle connection but a peer that
 * does not answer, a failure (exit 1) rather than an idle end. */
static void relay_tls_timeout(relay_t *r, int idle_ms) {
  for (size_t i = 0; i < r->n_ends; i++)
    if (r->ends[i].tls && !r->ends[i].tls->handshaken)
      relay_fail(r, true, "TLS handshake with %s: no answer for %d ms",
                 r->ends[i].name, idle_ms);
}

static bool relay_handshaking(const relay_t *r) {
  for (size_t i = 0; i < r->n_ends; i++)
    if (r->ends[i].tls && !r->ends[i].tls->handshaken)
      return true;
  return false;
}

/* handshake_timeout_ms: a bound on the handshake alone; once it is done
 * the tick stops unless the idle bound or --progress needs it. */
static bool handshake_timed_out(relay_t *r, uint64_t now) {
  int hs_ms = r->opts->handshake_timeout_ms;
  if (hs_ms <= 0)
    return false;
  if (!relay_handshaking(r)) {
    if (r->opts->idle_timeout_ms <= 0 && !r->opts->progress)
      uv_timer_stop(&r->tick);
    return false;
  }
  if (now - r->started < (uint64_t)hs_ms)
    return false;
  relay_tls_timeout(r, hs_ms);
  relay_close(r);
  return true;
}

static void on_tick(uv_timer_t *t) {
  relay_t *r = t->data;
  uint64_t now = uv_now(r->loop);
  int idle_ms = r->opts->idle_timeout_ms;
  if (handshake_timed_out(r, now))
    return;
  if (idle_ms > 0 && now - r->last_activity >= (uint64_t)idle_ms) {
    relay_tls_timeout(r, idle_ms);
    if (r->opts->verbose)
      sk__engine_log(r->e, SK_LOG_NOTICE, "no traffic for %d ms; closing",
                     idle_ms);
    if (r->reason == SK_STOP_NONE)
      r->reason = SK_STOP_IDLE;
    relay_close(r);
  } else if (r->opts->progress && now - r->last_report >= 1000) {
    relay_report(r, false);
  }
}

static void on_quit(uv_timer_t *t) {
  relay_t *r = t->data;
  relay_wind_down(r);
  relay_turn(r);
}

/* sk_engine_stop(): read no more, flush what is buffered within the
 * deadline; asked again while flushing, close at once. */
static void relay_on_stop(void *mode, sk_stop_t reason) {
  relay_t *r = mode;
  if (r->reason == SK_STOP_NONE)
    r->reason = reason;
  if (r->stopping && r->asked_stop) {
    relay_close(r);
    return;
  }
  r->asked_stop = r->stopping = true;
  relay_deadline(r);
  relay_turn(r);
}

/* ---- set-up and tear-down ------------------------------------------- */

static void relay_free(relay_t *r) {
  for (size_t i = 0; i < r->n_ends; i++)
    sk__endpoint_tls_detach(&r->ends[i]);
  free(r->peers);
  free(r->peer_lens);
  free(r);
}

static void relay_closed(relay_t *r) {
  if (--r->closing == 0)
    relay_free(r);
}

static void endpoint_closed_cb(uv_handle_t *h) {
  relay_closed(((end_t *)h->data)->owner);
}

static void handle_closed_cb(uv_handle_t *h) {
  relay_closed(h->data);
}

/* Closes the relay's own handles (the caller's loop may hold others);
 * the last close callback frees the relay. */
static void relay_handles_close(relay_t *r) {
  r->closing = 1; /* held until every close has started */
  for (size_t i = 0; i < r->n_ends; i++)
    r->closing += sk__endpoint_close(&r->ends[i], endpoint_closed_cb);
  if (r->handles_ready) {
    uv_close((uv_handle_t *)&r->idle, handle_closed_cb);
    uv_close((uv_handle_t *)&r->tick, handle_closed_cb);
    uv_close((uv_handle_t *)&r->quit, handle_closed_cb);
    r->closing += 3;
  }
  r->closing += sk__engine_part_close(&r->part, handle_closed_cb);
  relay_closed(r);
}

/* The end, once: flags back, pipes closed, the caller told (done), the
 * handles closed (the memory goes with the last of them). */
static void relay_finish(relay_t *r, int rc) {
  sk_relay_stats_t stats = {r->up.bytes, r->down.bytes};
  r->over = true;
  sk__engine_detach(r->e, &r->part);
  /* Reverse order: stdin and stdout may share one open file description
   * (a terminal), so out's saved flags already hold in's O_NONBLOCK. */
  for (size_t i = r->n_ends; i-- > 0;) {
    /* close_notify both ways: ours goes now if it has not (best effort:
     * the socket is closing either way). */
    if (r->ends[i].tls && !r->ends[i].tls->shut_sent)
      sk__endpoint_tls_close_notify(&r->ends[i]);
    sk__endpoint_restore(&r->ends[i]);
  }
  pump_free(&r->up);
  pump_free(&r->down);
  r->up.buf = r->down.buf = r->up.fin = r->down.fin = NULL;
  r->up.batch = r->down.batch = NULL;
  /* Handles first: uv_close takes each descriptor out of epoll, so the
   * caller may close them in done (before, epoll_ctl met closed ones). */
  sk_relay_done_cb done = r->done;
  void *done_arg = r->done_arg;
  sk_stop_t reason = r->reason;
  char err[SK_ERR_LEN];
  memcpy(err, r->errbuf, sizeof err);
  relay_handles_close(r); /* r may be freed from here on */
  if (done)
    done(done_arg, rc, reason, err, &stats);
}

/* The largest datagram one read of input makes: the real limit of the
 * socket's family (65527 for IPv6 only, 65507 when IPv4 peers may be
 * among the destinations); Unix datagrams take 65507, well within the
 * default send buffer (a smaller one is reported when it refuses). */
static size_t dgram_limit(int fd, const sk_relay_opts_t *o) {
  int v6only = 0, max = sk__udp_payload_max(fd, NULL);
  socklen_t len = sizeof v6only;
  if (max == 65527 && o->dgram_listen &&
      (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) < 0 ||
       !v6only))
    max = UDP_PAYLOAD_MAX; /* a dual-stack listener also answers IPv4 */
  return max > 0 ? (size_t)max : UDP_PAYLOAD_MAX;
}

/* "8 MiB", or bytes_format's "208.0 KiB" when not whole mebibytes. */
static void rcvbuf_format(int bytes, char *buf, size_t len) {
  if (bytes > 0 && bytes % (1 << 20) == 0)
    snprintf(buf, len, "%d MiB", bytes >> 20);
  else
    bytes_format((uint64_t)(bytes > 0 ? bytes : 0), buf, len);
}

/* net.core.rmem_max: the most SO_RCVBUF gives without privilege (0
 * when /proc does not say). */
static int rmem_max(void) {
  FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
  int v = 0;
  if (f) {
    if (fscanf(f, "%d", &v) != 1)
      v = 0;
    fclose(f);
  }
  return v;
}

/* A UDP socket we read gets a receive buffer for bursts: RCVBUF_WANT,
 * past net.core.rmem_max with SO_RCVBUFFORCE when we may (root,
 * CAP_NET_ADMIN), else up to rmem_max; never smaller than it was. -v
 * says what the kernel granted (getsockopt reports twice the size, the
 * other half being the kernel's bookkeeping allowance). */
static void dgram_rcvbuf_grow(relay_t *r, int fd) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss, il = sizeof(int);
  int want = RCVBUF_WANT, had = 0, got = 0, max = 0;
  char size[32], lim[32];
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
      (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
      getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &had, &il) < 0)
    return; /* Unix datagrams queue by count (max_dgram_qlen), not bytes */
  /* The kernel keeps twice what is set: compare in its terms. */
  if (had < 2 * want &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) {
    int v = (max = rmem_max()) > 0 && max < want ? max : want;
    if (2 * v > had) /* a system default above rmem_max stays */
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  il = sizeof(int);
  if (!r->opts->verbose ||
      getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &il) < 0)
    return;
  rcvbuf_format(got / 2, size, sizeof size);
  if (got / 2 >= want || (!max && (max = rmem_max()) <= 0) ||
      got / 2 < max) {
    sk__engine_log(r->e, SK_LOG_NOTICE, "receive buffer %s", size);
    return;
  }
  rcvbuf_format(max, lim, sizeof lim);
  sk__engine_log(r->e, SK_LOG_NOTICE,
                 "receive buffer %s (the limit net.core.rmem_max is %s; "
                 "root may go past it)",
                 size, lim);
}

/* Datagrams to a pipe: the pipe grows to PIPE_WANT when the kernel
 * allows (fs.pipe-max-size), never shrinks, so a reader that falls
 * behind for a moment leaves room in the pipe rather than in the socket,
 * whose overflow is lost. */
static void dgram_pipe_grow(int fd) {
  struct stat st;
  int had;
  if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
      (had = fcntl(fd, F_GETPIPE_SZ)) > 0 && had < PIPE_WANT)
    fcntl(fd, F_SETPIPE_SZ, PIPE_WANT);
}

/* What the reports need: a terminal to rewrite, the size of a file. */
static void relay_measure(relay_t *r, const sk_relay_opts_t *o) {
  struct stat st;
  off_t at;
  /* Asked of the socket only when a datagram may be made: a forwarder's
   * stream relays spare the system call. */
  r->dgram_max = r->b_rd->dgram || r->b_wr->dgram ? dgram_limit(r->b_rd->fd, o)
                                                  : UDP_PAYLOAD_MAX;
  r->progress_tty = o->progress && isatty(STDERR_FILENO);
  if (r->a_rd->regular && fstat(r->a_rd->fd, &st) == 0 &&
      (at = lseek(r->a_rd->fd, 0, SEEK_CUR)) >= 0 && st.st_size > at)
    r->in_size = (uint64_t)(st.st_size - at);
}

/* Opens a polled end; with keep (a side with its own calls), gives the
 * descriptor its flags back at once: it is only polled. */
static int end_open(relay_t *r, end_t *e, bool keep) {
  int rc = sk__endpoint_open(e, r->loop);
  if (rc == 0 && keep)
    sk__endpoint_restore(e);
  return rc;
}

/* One end per descriptor (one uv_poll each), opened in order; stream:
 * the caller said it is a non-blocking stream socket (opts' a_stream). */
static int side_open(relay_t *r, const sk_relay_side_t *s, struct sk_tls *tls,
                     bool keep, bool stream, end_t **rd, end_t **wr) {
  int rc;
  *rd = &r->ends[r->n_ends++];
  if (stream && s->rfd >= 0 && s->wfd == s->rfd) {
    rc = sk__endpoint_adopt(*rd, r->loop, r, s->rfd);
    snprintf((*rd)->name, sizeof(*rd)->name, "%s", s->rname);
  } else {
    sk__endpoint_init(*rd, r, s->rfd, s->rname);
    rc = end_open(r, *rd, keep);
  }
  if (rc < 0)
    return rc;
  if (tls && (s->wfd != s->rfd || !(*rd)->socket || (*rd)->dgram))
    return -EINVAL; /* TLS runs on one stream socket */
  if (tls && (rc = sk__endpoint_tls_attach(*rd, tls)) < 0)
    return rc;
  if (s->wfd == s->rfd) {
    *wr = *rd;
    return 0;
  }
  *wr = &r->ends[r->n_ends++];
  sk__endpoint_init(*wr, r, s->wfd, s->wname ? s->wname : s->rname);
  return end_open(r, *wr, keep);
}

static int relay_open(relay_t *r, const sk_relay_side_t *a,
                      const sk_relay_side_t *b, const sk_relay_opts_t *o) {
  int rc = side_open(r, b, o->tls, false, o->b_stream, &r->b_rd, &r->b_wr);
  if (rc < 0)
    return rc;
  if (o->b_stream && r->b_rd->polled && !r->b_rd->tls)
    r->b_rd->can_read = false; /* just connected: see b_stream */
  if ((rc = side_open(r, a, o->a_tls, o->a_io != NULL, o->a_stream, &r->a_rd,
                      &r->a_wr)) < 0)
    return rc;
  if ((rc = pump_init(&r->up, r, r->a_rd, r->b_wr, o->crlf,
                      o->up_filter)) < 0 ||
      (rc = pump_init(&r->down, r, r->b_rd, r->a_wr, false,
                      o->down_filter)) < 0)
    return rc;
  if (o->dgram_listen &&
      (!(r->peers = calloc(PEERS_MAX, sizeof *r->peers)) ||
       !(r->peer_lens = calloc(PEERS_MAX, sizeof *r->peer_lens))))
    return -ENOMEM;
  uv_idle_init(r->loop, &r->idle);
  uv_timer_init(r->loop, &r->tick);
  uv_timer_init(r->loop, &r->quit);
  r->handles_ready = true;
  r->idle.data = r->tick.data = r->quit.data = r;
  /* The tick only when something needs it: 100 ms wake-ups cost an
   * idle relay its sleep. */
  if (o->idle_timeout_ms > 0 || o->progress ||
      (o->handshake_timeout_ms > 0 && o->tls))
    uv_timer_start(&r->tick, on_tick, 100, 100);
  r->started = r->last_activity = r->last_report = uv_now(r->loop);
  relay_measure(r, o);
  if (r->down.active && r->b_rd->dgram) {
    if (r->a_wr->fd >= 0)
      dgram_pipe_grow(r->a_wr->fd);
    dgram_rcvbuf_grow(r, r->b_rd->fd); /* -v says so: all set by then */
  }
  return 0;
}

/* Every descriptor field at -1 before anything can fail: calloc's 0 is
 * stdin, which a failed start would otherwise close. */
static void relay_blank(relay_t *r) {
  for (size_t i = 0; i < 4; i++)
    r->ends[i].fd = r->ends[i].saved_flags = -1;
  r->up.pipe[0] = r->up.pipe[1] = r->down.pipe[0] = r->down.pipe[1] = -1;
}

int sk_relay_start(sk_engine_t *e, char *err, const sk_relay_side_t *a,
                   const sk_relay_side_t *b, const sk_relay_opts_t *opts,
                   sk_relay_done_cb done, void *done_arg) {
  relay_t *r = calloc(1, sizeof *r);
  int rc;
  if (!r)
    return sk__fail(err, -ENOMEM, "relay: %s", strerror(ENOMEM));
  relay_blank(r);
  r->o = *opts;
  r->opts = &r->o;
  r->err = r->errbuf;
  r->e = e;
  r->loop = e->loop;
  r->done = done;
  r->done_arg = done_arg;
  sk__engine_attach(e, &r->part, r, relay_on_stop);
  if ((rc = relay_open(r, a, b, &r->o)) < 0) {
    sk__fail(err, rc, "relay: %s",
             rc > -4096 ? strerror(-rc) : uv_strerror(rc));
    r->done = NULL; /* an error returned: the callback is never called */
    relay_finish(r, rc);
    return rc;
  }
  uv_idle_start(&r->idle, on_idle); /* the first turn, on the loop */
  return 0;
}

/* The blocking run: start, then the loop until the relay is gone. */
typedef struct relay_wait {
  int rc;
  sk_stop_t reason;
  char *err;
  sk_relay_stats_t *stats;
} relay_wait_t;

static void relay_wait_done(void *arg, int rc, sk_stop_t reason,
                            const char *err, const sk_relay_stats_t *stats) {
  relay_wait_t *w = arg;
  w->rc = rc;
  w->reason = reason;
  if (rc < 0 && w->err)
    snprintf(w->err, SK_ERR_LEN, "%s", err);
  if (w->stats)
    *w->stats = *stats;
}

static int relay_join_on(sk_engine_t *e, char *err, const sk_relay_side_t *a,
                         const sk_relay_side_t *b,
                         const sk_relay_opts_t *opts,
                         sk_relay_stats_t *stats) {
  relay_wait_t w = {.err = err, .stats = stats};
  int rc = sk_relay_start(e, err, a, b, opts, relay_wait_done, &w);
  sk__engine_run(e); /* also after a failed start: closes */
  if (rc < 0) {
    sk__engine_reason(e, SK_STOP_ERROR);
    return rc;
  }
  if (w.reason == SK_STOP_ERROR)
    e->reason = SK_STOP_ERROR; /* an error outranks a signal */
  else
    sk__engine_reason(e, w.reason);
  return w.rc;
}

int sk_relay_join(sk_engine_t *e, char *err, const sk_relay_side_t *a,
                  const sk_relay_side_t *b, const sk_relay_opts_t *opts,
                  sk_relay_stats_t *stats) {
  uv_loop_t loop;
  sk_engine_t alone;
  int rc;
  if (e)
    return relay_join_on(e, err, a, b, opts, stats);
  /* No caller's loop (tests, ctypes): one of its own, no log. */
  if ((rc = uv_loop_init(&loop)) < 0)
    return sk__fail(err, rc, "relay: %s", uv_strerror(rc));
  sk_engine_init(&alone, &loop, NULL, NULL);
  rc = relay_join_on(&alone, err, a, b, opts, stats);
  uv_loop_close(&loop);
  return rc;
}

/* stdin/stdout (opts) joined to the socket fd, named by its peer. */
static int relay_run_on(sk_engine_t *e, char *err, int fd,
                        const sk_relay_opts_t *opts, sk_relay_stats_t *stats) {
  char name[SK_ADDRSTR_LEN] = "the network";
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (opts->peer_name)
    snprintf(name, sizeof name, "%s", opts->peer_name);
  else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
    sk_sockaddr_format((struct sockaddr *)&ss, len, name, sizeof name);
  sk_relay_side_t a = {opts->in_fd, opts->out_fd, "stdin", "stdout"};
  sk_relay_side_t b = {fd, fd, name, NULL};
  return sk_relay_join(e, err, &a, &b, opts, stats);
}

int sk_relay_run(sk_engine_t *e, char *err, int fd,
                 const sk_relay_opts_t *opts, sk_relay_stats_t *stats) {
  return relay_run_on(e, err, fd, opts, stats);
}
