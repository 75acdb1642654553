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
#include <unistd.h>
#include <signal.h>
#include <uv.h>

#include "internal.h"
#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/relay.h"
#include "sockit/sock.h"

#define BUF_DEFAULT (256 * 1024)
#define PIPE_WANT (1024 * 1024)
#define ROUNDS 16 /* calls per pump per turn, so neither side starves */
#define SENDFILE_CHUNK (1 << 20)
#define DGRAM_MAX 65536
#define UDP_PAYLOAD_MAX 65507 /* IPv4; also the Unix datagram chunk */
#define PEERS_MAX 1024
#define FLUSH_DEADLINE_MS 2000

typedef struct relay relay_t;

typedef struct end {
  int fd;
  int saved_flags;     /* fcntl flags to restore at exit, or -1 */
  bool polled;         /* watched with uv_poll; else always ready */
  bool socket, dgram, regular, tty;
  bool can_read, can_write; /* last known readiness */
  int events;          /* what uv_poll watches now */
  uv_poll_t poll;
  relay_t *relay;
  char name[SK_ADDRSTR_LEN];
} end_t;

typedef enum move { MOVE_COPY, MOVE_SENDFILE, MOVE_SPLICE } move_t;

typedef struct pump {
  end_t *src, *dst;
  move_t move;
  bool active;      /* false for --send-only / --recv-only */
  bool crlf;
  bool eof;         /* src reached EOF */
  bool done;        /* finished: EOF with nothing left, or failed */
  char *buf;        /* MOVE_COPY: bytes [head, tail) wait for dst */
  size_t cap, head, tail;
  int pipe[2];      /* MOVE_SPLICE: in_pipe bytes wait in our pipe */
  size_t pipe_cap, in_pipe;
  bool pipe_full;   /* splice into our pipe said EAGAIN: write it first */
  int crlf_last;    /* -C: the last byte read, carried across reads */
  size_t peer_next; /* datagram fan-out: next peer to send to */
  uint64_t bytes;
  relay_t *relay;
} pump_t;

struct relay {
  uv_loop_t loop;
  uv_idle_t idle;
  uv_timer_t tick;    /* idle timeout, progress, flush deadline */
  uv_timer_t quit;    /* -q: the end, some time after input EOF */
  uv_signal_t sigint, sigterm;
  end_t net, in, out;
  pump_t up, down;
  const sk_relay_opts_t *opts;
  bool failed, stopping;
  int exit_code;
  char *err;
  uint64_t last_activity, last_bytes, stop_at, started, last_report;
  uint64_t report_bytes;
  bool progress_tty;  /* --progress rewrites one line on a terminal */
  uint64_t in_size;   /* bytes a regular-file input holds, or 0 */
  size_t dgram_max;   /* the largest datagram one read of input makes */
  uint64_t unheard_bytes; /* -k -u -l: input read before any peer spoke */
  struct sockaddr_storage peers[PEERS_MAX];
  socklen_t peer_lens[PEERS_MAX];
  size_t n_peers, next_evict;
};

static void relay_turn(relay_t *r);

/* ---- ends ---------------------------------------------------------- */

static void end_init(end_t *e, relay_t *r, int fd, const char *name) {
  struct stat st;
  memset(e, 0, sizeof *e);
  e->fd = fd;
  e->relay = r;
  e->saved_flags = -1;
  e->can_read = e->can_write = true;
  snprintf(e->name, sizeof e->name, "%s", name);
  if (fd < 0 || fstat(fd, &st) < 0)
    return;
  e->socket = S_ISSOCK(st.st_mode);
  e->regular = S_ISREG(st.st_mode);
  e->tty = isatty(fd);
  /* epoll refuses regular files and most devices (/dev/null): those
   * never block, so we treat them as always ready instead. */
  e->polled = e->socket || S_ISFIFO(st.st_mode) || e->tty;
  if (e->socket) {
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    e->dgram = type == SOCK_DGRAM;
  }
}

/* Non-blocking I/O on polled ends; the old flags come back at exit. */
static int end_open(end_t *e) {
  if (!e->polled)
    return 0;
  e->saved_flags = fcntl(e->fd, F_GETFL);
  if (e->saved_flags < 0 || fcntl(e->fd, F_SETFL, e->saved_flags | O_NONBLOCK))
    return -errno;
  e->poll.data = e;
  return uv_poll_init(&e->relay->loop, &e->poll, e->fd);
}

static void end_restore(end_t *e) {
  if (e->saved_flags >= 0)
    fcntl(e->fd, F_SETFL, e->saved_flags);
}

static ssize_t end_read(end_t *e, char *buf, size_t len) {
  ssize_t n;
  do
    n = read(e->fd, buf, len);
  while (n < 0 && errno == EINTR);
  /* A short read drained the kernel buffer: ask poll, not read again. */
  if ((n < 0 && errno == EAGAIN) || (e->polled && n > 0 && (size_t)n < len))
    e->can_read = false;
  return n;
}

static ssize_t end_write(end_t *e, const char *buf, size_t len) {
  ssize_t n;
  do
    n = e->socket ? send(e->fd, buf, len, MSG_NOSIGNAL) : write(e->fd, buf, len);
  while (n < 0 && errno == EINTR);
  if ((n < 0 && errno == EAGAIN) || (e->polled && n >= 0 && (size_t)n < len))
    e->can_write = false;
  return n;
}

/* ---- failures -------------------------------------------------------- */

static void relay_fail(relay_t *r, bool stop, const char *fmt, ...)
    SK__PRINTF(3, 4);

/* Records the first error (exit code 1). With stop, nothing more is
 * read anywhere and only what is buffered drains; without, the other
 * direction carries on, so that bytes the peer sent before it reset
 * still reach stdout. */
static void relay_fail(relay_t *r, bool stop, const char *fmt, ...) {
  if (r->exit_code != SK_EXIT_ERROR && r->err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, SK_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  r->exit_code = SK_EXIT_ERROR;
  if (stop && !r->failed)
    r->stop_at = uv_now(&r->loop) + FLUSH_DEADLINE_MS;
  r->failed |= stop;
}

/* A normal end (network EOF delivered, -q, stdout closed): read no more,
 * flush what is buffered (bounded by the deadline), exit code as is. */
static void relay_wind_down(relay_t *r) {
  if (!r->stopping && !r->failed)
    r->stop_at = uv_now(&r->loop) + FLUSH_DEADLINE_MS;
  r->stopping = true;
}

static bool is_reset(int e) {
  return e == ECONNRESET || e == EPIPE;
}

static void pump_read_failed(pump_t *p, int e) {
  p->eof = true;
  if (p->src->dgram && e == ECONNREFUSED)
    relay_fail(p->relay, true, "%s: no one is listening (Connection refused)",
               p->src->name);
  else if (p->src->socket && is_reset(e))
    relay_fail(p->relay, true, "connection reset by %s", p->src->name);
  else
    relay_fail(p->relay, true, "read from %s: %s", p->src->name, strerror(e));
}

/* EMSGSIZE: name the limit the kernel applied to this destination. */
static void dgram_too_large(pump_t *p, const struct sockaddr *to) {
  size_t len = p->tail - p->head;
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
  if (e == EMSGSIZE)
    dgram_too_large(p, NULL);
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

static size_t pump_pending(const pump_t *p) {
  if (p->move == MOVE_SPLICE)
    return p->in_pipe;
  return p->tail - p->head;
}

/* The read/write buffer of one direction: at least two datagrams. */
static size_t copy_cap(const sk_relay_opts_t *o) {
  size_t cap = o->buf_size ? o->buf_size : BUF_DEFAULT;
  return cap < 2 * DGRAM_MAX ? 2 * DGRAM_MAX : cap;
}

/* Room one read needs: a whole datagram, or two bytes per LF with -C. */
static size_t copy_need(const pump_t *p) {
  return p->src->dgram ? DGRAM_MAX : p->crlf ? 2 : 1;
}

/* Moves pending bytes to the front when the tail is short of room. Since
 * cap >= 2 * DGRAM_MAX, half the buffer is always enough for one read. */
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
      p->move == MOVE_SENDFILE)
    return false;
  if (p->move == MOVE_SPLICE)
    return p->in_pipe < p->pipe_cap && !p->pipe_full;
  if (p->dst->dgram) /* one read is one datagram: send it first */
    return p->head == p->tail &&
           (!r->opts->dgram_listen || r->n_peers > 0 ||
            r->opts->dgram_all_peers);
  return p->cap - (p->tail - p->head) >= copy_need(p);
}

static bool pump_wants_write(const pump_t *p) {
  if (!p->active || p->done)
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
    fprintf(stderr, "sockit: dropped a datagram from %s (--allow/--deny)\n",
            name);
  }
  return true;
}

static bool dgram_read(pump_t *p) {
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  ssize_t n;
  copy_make_room(p);
  do
    n = recvfrom(p->src->fd, p->buf + p->tail, DGRAM_MAX, MSG_TRUNC,
                 (struct sockaddr *)&from, &len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) {
    p->src->can_read = false;
    return false;
  }
  if (n < 0) {
    pump_read_failed(p, errno);
  } else if (n > DGRAM_MAX) {
    relay_fail(p->relay, true,
               "received a datagram of %zd bytes, over the limit of %d bytes",
               n, DGRAM_MAX);
  } else if (dgram_refused(p->relay, &from, len)) {
    return true; /* dropped: not output, not a peer to answer */
  } else {
    if (p->relay->opts->dgram_listen)
      peer_note(p->relay, &from, len);
    p->tail += (size_t)n;
  }
  return true;
}

static bool copy_read(pump_t *p) {
  if (p->src->dgram)
    return dgram_read(p);
  copy_make_room(p);
  size_t space = p->cap - p->tail, want = p->crlf ? space / 2 : space;
  size_t dgram_max = p->relay->dgram_max / (p->crlf ? 2 : 1);
  if (p->dst->dgram && want > dgram_max) /* -C may double every byte */
    want = dgram_max;
  /* -C reads into the far end of the room and converts down to `at`:
   * in place, since the output never overtakes the input. */
  char *at = p->buf + p->tail, *into = p->crlf ? at + space - want : at;
  ssize_t n = end_read(p->src, into, want);
  if (n > 0)
    p->tail += p->crlf ? sk__crlf_convert(into, (size_t)n, at, &p->crlf_last)
                       : (size_t)n;
  else if (n == 0)
    p->eof = true;
  else if (errno == EAGAIN)
    return false;
  else
    pump_read_failed(p, errno);
  return true;
}

/* -k -u -l: input goes to the peers heard from so far, each read to all
 * of them at once. Input read before anyone spoke has no one to go to;
 * holding it for whoever speaks first would greet that peer only, and
 * holding it for all comers is unbounded. Drop it, and say so once. */
static bool dgram_unheard(pump_t *p, size_t len) {
  relay_t *r = p->relay;
  if (r->unheard_bytes == 0)
    fprintf(stderr, "sockit: no peer has spoken yet: input not sent "
                    "(-k sends to the peers heard from)\n");
  r->unheard_bytes += len;
  p->head = p->tail = 0;
  return true;
}

/* Sends the pending bytes as one datagram, to each peer that needs it. */
static bool dgram_write(pump_t *p) {
  relay_t *r = p->relay;
  const char *data = p->buf + p->head;
  size_t len = p->tail - p->head;
  size_t n_peers = r->opts->dgram_listen ? r->n_peers : 1;
  if (n_peers == 0) /* -k before anyone spoke */
    return dgram_unheard(p, len);
  while (p->peer_next < n_peers) {
    const struct sockaddr *to = NULL;
    socklen_t to_len = 0;
    if (r->opts->dgram_listen) {
      to = (const struct sockaddr *)&r->peers[p->peer_next];
      to_len = r->peer_lens[p->peer_next];
    }
    if (sendto(p->dst->fd, data, len, MSG_NOSIGNAL, to, to_len) < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        p->dst->can_write = false;
        return false;
      }
      if (errno == EMSGSIZE) {
        p->done = p->eof = true;
        dgram_too_large(p, to);
      } else {
        pump_write_failed(p, errno);
      }
      return true;
    }
    p->peer_next++;
  }
  p->peer_next = 0;
  p->head = p->tail = 0;
  p->bytes += len;
  return true;
}

static bool copy_write(pump_t *p) {
  if (p->dst->dgram)
    return dgram_write(p);
  ssize_t n = end_write(p->dst, p->buf + p->head, p->tail - p->head);
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
  do
    n = splice(p->src->fd, NULL, p->pipe[1], NULL, p->pipe_cap - p->in_pipe,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    p->in_pipe += (size_t)n;
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

/* A direction is over: its source hit EOF and everything is written.
 * Input: half-close if asked (-N), and with -q end a while later.
 * Network: as nc and ncat, the relay ends once the peer's bytes are
 * all out; what stdin still has to say has no one to hear it. */
static void pump_finish(pump_t *p) {
  relay_t *r = p->relay;
  const sk_relay_opts_t *o = r->opts;
  p->done = true;
  if (p == &r->down) {
    relay_wind_down(r);
    return;
  }
  if (o->shutdown_on_eof && p->dst->socket && !p->dst->dgram)
    shutdown(p->dst->fd, SHUT_WR);
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
  if (o->no_zero_copy || p->crlf || s->dgram || d->dgram || s->tty || d->tty)
    return MOVE_COPY;
  if (s->regular && d->socket)
    return MOVE_SENDFILE;
  if (s->socket || d->socket)
    return MOVE_SPLICE;
  return MOVE_COPY;
}

static int pump_init(pump_t *p, relay_t *r, end_t *src, end_t *dst,
                     bool crlf) {
  const sk_relay_opts_t *o = r->opts;
  memset(p, 0, sizeof *p);
  p->relay = r;
  p->src = src;
  p->dst = dst;
  p->pipe[0] = p->pipe[1] = -1;
  p->active = src->fd >= 0 && dst->fd >= 0;
  p->crlf = crlf;
  if (!p->active)
    return 0;
  p->move = move_choose(p, o);
  if (p->move == MOVE_SPLICE) {
    if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
      return -errno;
    int got = fcntl(p->pipe[1], F_SETPIPE_SZ, PIPE_WANT);
    p->pipe_cap = got > 0 ? (size_t)got : 65536;
    return 0;
  }
  if (p->move == MOVE_SENDFILE)
    return 0;
  p->cap = copy_cap(o);
  return (p->buf = malloc(p->cap)) ? 0 : -ENOMEM;
}

static void pump_free(pump_t *p) {
  free(p->buf);
  if (p->pipe[0] >= 0) {
    close(p->pipe[0]);
    close(p->pipe[1]);
  }
}

/* ---- the loop -------------------------------------------------------- */

static int end_interest(const end_t *e, const pump_t *reader,
                        const pump_t *writer) {
  int events = 0;
  if (reader && pump_wants_read(reader) && !e->can_read)
    events |= UV_READABLE;
  if (writer && pump_wants_write(writer) && !e->can_write)
    events |= UV_WRITABLE;
  return events;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void end_watch(end_t *e, int events) {
  if (!e->polled || e->events == events)
    return;
  e->events = events;
  if (events)
    uv_poll_start(&e->poll, events, on_poll);
  else
    uv_poll_stop(&e->poll);
}

static void relay_watch(relay_t *r) {
  end_watch(&r->in, end_interest(&r->in, &r->up, NULL));
  end_watch(&r->out, end_interest(&r->out, NULL, &r->down));
  end_watch(&r->net, end_interest(&r->net, &r->down, &r->up));
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

static void relay_close(relay_t *r) {
  uv_stop(&r->loop);
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

static void relay_turn(relay_t *r) {
  uint64_t before = r->up.bytes + r->down.bytes;
  if (r->up.active)
    pump_step(&r->up);
  if (r->down.active)
    pump_step(&r->down);
  bool more = pump_can_act(&r->up) || pump_can_act(&r->down);
  if (r->up.bytes + r->down.bytes != before)
    r->last_activity = uv_now(&r->loop);
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
  /* On a poll error, let the next call on the descriptor report it. */
  if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
    e->can_read = true;
  if (status < 0 || (events & UV_WRITABLE))
    e->can_write = true;
  relay_turn(e->relay);
}

/* ---- timers, signals, reports ---------------------------------------- */

void sk_bytes_format(uint64_t bytes, char *buf, size_t len) {
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
  uint64_t now = uv_now(&r->loop), sent = r->up.bytes;
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
  uint64_t now = uv_now(&r->loop), total = r->up.bytes + r->down.bytes;
  uint64_t since = final ? r->started : r->last_report;
  uint64_t moved = final ? total : total - r->report_bytes;
  double secs = (double)(now > since ? now - since : 1) / 1000.0;
  bool tty = r->progress_tty;
  sk_bytes_format(r->up.bytes, sent, sizeof sent);
  sk_bytes_format(r->down.bytes, received, sizeof received);
  progress_eta(r, eta, sizeof eta);
  fprintf(stderr, "%ssockit: %s%s sent, %s received, %.1f MiB/s%s%s%s",
          tty ? "\r" : "", final ? "total: " : "", sent, received,
          (double)moved / secs / (1024.0 * 1024.0), final ? " average" : "",
          final ? "" : eta, tty ? "\033[K" : "");
  if (final || !tty)
    fputc('\n', stderr);
  fflush(stderr);
  r->last_report = now;
  r->report_bytes = total;
}

static void on_tick(uv_timer_t *t) {
  relay_t *r = t->data;
  uint64_t now = uv_now(&r->loop);
  int idle_ms = r->opts->idle_timeout_ms;
  if ((r->failed || r->stopping) && now >= r->stop_at) {
    relay_close(r);
  } else if (idle_ms > 0 && now - r->last_activity >= (uint64_t)idle_ms) {
    if (r->opts->verbose)
      fprintf(stderr, "sockit: no traffic for %d ms; closing\n", idle_ms);
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

static void on_signal(uv_signal_t *s, int signum) {
  relay_t *r = s->data;
  if (r->exit_code == SK_EXIT_OK)
    r->exit_code = signum == SIGINT ? SK_EXIT_SIGINT : SK_EXIT_SIGTERM;
  r->stopping = true;
  r->stop_at = uv_now(&r->loop) + FLUSH_DEADLINE_MS;
  relay_turn(r);
}

/* ---- set-up and tear-down ------------------------------------------- */

static void handle_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
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

/* What the reports need: a terminal to rewrite, the size of a file. */
static void relay_measure(relay_t *r, const sk_relay_opts_t *o) {
  struct stat st;
  off_t at;
  r->dgram_max = dgram_limit(r->net.fd, o);
  r->progress_tty = o->progress && isatty(STDERR_FILENO);
  if (r->in.regular && fstat(r->in.fd, &st) == 0 &&
      (at = lseek(r->in.fd, 0, SEEK_CUR)) >= 0 && st.st_size > at)
    r->in_size = (uint64_t)(st.st_size - at);
}

static int relay_open(relay_t *r, int fd, const sk_relay_opts_t *o) {
  char name[SK_ADDRSTR_LEN] = "the network";
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int rc, out_fd = o->out_fd;
  if (o->peer_name)
    snprintf(name, sizeof name, "%s", o->peer_name);
  else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
    sk_sockaddr_format((struct sockaddr *)&ss, len, name, sizeof name);
  if (out_fd >= 0 && out_fd == o->in_fd && (out_fd = dup(o->out_fd)) < 0)
    return -errno; /* one uv_poll per descriptor */
  end_init(&r->net, r, fd, name);
  end_init(&r->in, r, o->in_fd, "stdin");
  end_init(&r->out, r, out_fd, "stdout");
  if ((rc = end_open(&r->net)) < 0 || (rc = end_open(&r->in)) < 0 ||
      (rc = end_open(&r->out)) < 0)
    return rc;
  if ((rc = pump_init(&r->up, r, &r->in, &r->net, o->crlf)) < 0 ||
      (rc = pump_init(&r->down, r, &r->net, &r->out, false)) < 0)
    return rc;
  uv_idle_init(&r->loop, &r->idle);
  uv_timer_init(&r->loop, &r->tick);
  uv_timer_init(&r->loop, &r->quit);
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->idle.data = r->tick.data = r->quit.data = r;
  r->sigint.data = r->sigterm.data = r;
  uv_timer_start(&r->tick, on_tick, 100, 100);
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  r->started = r->last_activity = r->last_report = uv_now(&r->loop);
  relay_measure(r, o);
  return 0;
}

static void relay_free(relay_t *r, const sk_relay_opts_t *o) {
  uv_walk(&r->loop, handle_close, NULL);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_loop_close(&r->loop);
  /* Reverse order: stdin and stdout may share one open file description
   * (a terminal), so out's saved flags already hold in's O_NONBLOCK. */
  end_restore(&r->out);
  end_restore(&r->in);
  end_restore(&r->net);
  if (r->out.fd >= 0 && r->out.fd != o->out_fd)
    close(r->out.fd);
  pump_free(&r->up);
  pump_free(&r->down);
  free(r);
}

/* Every descriptor field at -1 before anything can fail: calloc's 0 is
 * stdin, which a failed start would otherwise close. */
static void relay_blank(relay_t *r) {
  end_t *ends[] = {&r->net, &r->in, &r->out};
  for (size_t i = 0; i < 3; i++)
    ends[i]->fd = ends[i]->saved_flags = -1;
  r->up.pipe[0] = r->up.pipe[1] = r->down.pipe[0] = r->down.pipe[1] = -1;
}

int sk_relay_run(char *err, int fd, const sk_relay_opts_t *opts,
                 sk_relay_stats_t *stats) {
  relay_t *r = calloc(1, sizeof *r);
  int rc;
  sk_sigpipe_ignore();
  if (!r)
    return sk__fail(err, SK_EXIT_ERROR, "relay: %s", strerror(ENOMEM));
  relay_blank(r);
  r->opts = opts;
  r->err = err;
  if ((rc = uv_loop_init(&r->loop)) < 0) {
    free(r);
    return sk__fail(err, SK_EXIT_ERROR, "relay: %s", uv_strerror(rc));
  }
  if ((rc = relay_open(r, fd, opts)) < 0) {
    sk__fail(err, SK_EXIT_ERROR, "relay: %s",
             rc > -4096 ? strerror(-rc) : uv_strerror(rc));
    r->exit_code = SK_EXIT_ERROR;
  } else {
    relay_turn(r);
    /* Even when the first turn ended it: uv_run also clears the stop
     * request, without which relay_free could not close the handles. */
    uv_run(&r->loop, UV_RUN_DEFAULT);
    if (opts->progress || opts->verbose)
      relay_report(r, true);
  }
  if (stats) {
    stats->sent = r->up.bytes;
    stats->received = r->down.bytes;
  }
  rc = r->exit_code;
  relay_free(r, opts);
  return rc;
}
