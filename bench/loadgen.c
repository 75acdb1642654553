/*
 * loadgen: the load generator and measuring helpers of sockit's
 * benchmarks (bench/run.sh). Plain epoll, no libuv, so that it measures
 * the tool under test and not itself. Every mode prints one line of
 * key=value pairs on stdout; errors go to stderr with exit status 1.
 *
 *   loadgen fanout HOST PORT -n CLIENTS [-s SIZE] [-t SECS] [-W SECS]
 *           [--window DELIVERIES] [--batch LINES] [--gate N] [--pid SERVER]
 *           [--idle] [--rate MSGS]
 *       CLIENTS connections to a broker or chat server, all of them
 *       sending SIZE-byte lines in turn while fewer than DELIVERIES are
 *       owed; counts the lines delivered to all of them. --pid: the
 *       server's process, for its VmRSS, CPU and accepted descriptors.
 *       --idle: connect, measure the server's VmRSS, leave.
 *       --rate MSGS: open loop, MSGS messages a second in all (one per
 *       client in turn) while fewer than DELIVERIES are owed; sent_rate
 *       below MSGS means the server could not take the offered rate.
 *   loadgen rr HOST PORT [-s SIZE] [-t SECS] [-c COUNT]
 *       one message, wait for its echo, again: round trips and latency.
 *   loadgen echo HOST PORT
 *       an echo server (epoll), until SIGTERM.
 *   loadgen udp HOST PORT [-s SIZE] [-c COUNT] [-r RATE]
 *       COUNT datagrams of SIZE bytes, at RATE per second or at once.
 *   loadgen sink [-s SIZE] [--idle-ms MS] [-t SECS]
 *       reads stdin, counts bytes, times the first to the last byte.
 *   loadgen connrate HOST PORT [-t SECS] [-c CONCURRENT] [-s SIZE]
 *       connect, half-close, wait for the server to close, CONCURRENT
 *       connections at a time, for SECS. -s: first send SIZE bytes and
 *       wait for SIZE bytes back (an echo server behind a forwarder: SIZE
 *       each way), then half-close; less back before EOF is a failure.
 *   loadgen joinstorm HOST PORT -n CLIENTS [-T SECS]
 *       CLIENTS connect to a chat server at once; when every one has its
 *       welcome, the last sends a line: the seconds until all were
 *       welcomed and until that line reached all the others.
 *   loadgen fanout ... --also PORT (up to 3 times): clients dealt in
 *       turn over PORT, the --also ports (servers of one federation).
 *   loadgen lat HOST PORT_A PORT_B [PORT_C] [-c COUNT] [-r RATE]
 *       a chat client on A says COUNT probes at RATE/s; clients on B and
 *       C time them: p50/p99/max latency in ms.
 *   loadgen run OUTFILE -- COMMAND...
 *       runs COMMAND, writes when it ended (CLOCK_REALTIME), its wall
 *       time and CPU seconds to OUTFILE.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 16)
#define MAX_EVENTS 1024

static char rbuf[1 << 20];

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* The soft descriptor limit up to the hard one: 10,000 clients need it. */
static void nofile_raise(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    die("fcntl: %s", strerror(errno));
}

/* HOST PORT, numeric only: the benchmarks use 127.0.0.1 and ::1. */
static void addr_parse(const char *host, const char *port,
                       struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0)
    die("address %s %s: %s", host, port, gai_strerror(rc));
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
}

/* A non-blocking TCP connect under way; -1 with errno on failure. */
static int connect_start(const struct sockaddr_storage *ss, socklen_t len) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (const struct sockaddr *)ss, len) < 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int sock_error(int fd) {
  int e = 0;
  socklen_t l = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
    return errno;
  return e;
}

/* Close with a reset: teardown of thousands of clients leaves no
 * TIME_WAIT behind to eat the next run's ports. */
static void close_reset(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* ---- the server process, seen through /proc ---- */

static bool proc_alive(pid_t pid) {
  char path[64], st[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(st, 1, sizeof st - 1, f);
  fclose(f);
  st[n] = '\0';
  char *p = strrchr(st, ')');
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static long proc_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static long proc_rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* User + system CPU seconds of a live process. */
static double proc_cpu(pid_t pid) {
  char path[64], st[1024];
  unsigned long ut = 0, stime = 0;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(st, 1, sizeof st - 1, f);
  fclose(f);
  st[n] = '\0';
  char *p = strrchr(st, ')');
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
   * majflt cmajflt utime stime */
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &stime) != 2)
    return -1;
  return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* ---- fanout: many clients, all sending, counting deliveries ---- */

typedef struct client {
  int fd;
  uint32_t left; /* bytes of the current message not yet sent */
} client_t;

typedef struct fanout {
  struct sockaddr_storage ss, also[3]; /* --also: clients dealt in turn */
  socklen_t sslen, also_len[3];
  int n_also;
  int n, size, ep;
  double secs, warmup, connect_timeout;
  long window;
  double rate;           /* --rate: messages per second offered, or 0 */
  double rate_t0;        /* when the paced sending began */
  int gate;              /* handshakes the server may be behind by */
  int batch;             /* messages a client writes at once, at most */
  long fd0;              /* the server's descriptors before we came */
  pid_t pid;
  bool idle;
  client_t *c;
  int live;              /* clients still connected */
  int dropped;           /* clients the server closed */
  int drop_errno;        /* how the first one ended */
  char *msg;             /* batch messages: SIZE-1 letters, a newline */
  uint64_t sent, delivered, rbytes;
  double last_rx;        /* when bytes last arrived */
} fanout_t;

/* Reads what one client has; counts newlines. */
static void fanout_read(fanout_t *f, int i) {
  client_t *c = &f->c[i];
  for (int k = 0; k < 4; k++) {
    ssize_t r = read(c->fd, rbuf, BUF_SIZE);
    if (r > 0) {
      f->rbytes += (uint64_t)r;
      f->last_rx = now();
      const char *p = rbuf, *end = rbuf + r;
      while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        f->delivered++;
        p++;
      }
      if (r < BUF_SIZE)
        return;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (!f->dropped)
      f->drop_errno = r == 0 ? 0 : errno;
    f->dropped++;
    f->live--;
    epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    return;
  }
}

/* One pass over ready sockets; timeout in ms. */
static void fanout_poll(fanout_t *f, int timeout) {
  struct epoll_event ev[MAX_EVENTS];
  int n = epoll_wait(f->ep, ev, MAX_EVENTS, timeout);
  for (int k = 0; k < n; k++)
    fanout_read(f, (int)ev[k].data.u32);
}

static bool server_gone(const fanout_t *f) {
  return f->pid > 0 && !proc_alive(f->pid);
}

/* Connects every client, at most 256 handshakes at a time, and (with
 * --pid) at most gate ahead of the server's accept(): the kernel
 * completes a handshake before the server accepts it, and a burst past
 * a short listen backlog (ncat's is 10) leaves clients that believe they
 * are connected while the server dropped them. Returns the number
 * connected; the first failure's errno in *err. */
static int fanout_connect(fanout_t *f, int *err) {
  struct epoll_event ev[MAX_EVENTS];
  int next = 0, pending = 0, done = 0, failed = 0;
  long accepted = 0;
  double deadline = now() + f->connect_timeout;
  *err = 0;
  while (done + failed < f->n && now() < deadline) {
    bool gated = f->pid > 0 && f->gate > 0;
    if (gated && next - failed - accepted >= f->gate)
      accepted = proc_fds(f->pid) - f->fd0;
    while (pending < 256 && next < f->n &&
           (!gated || next - failed - accepted < f->gate)) {
      int k = next % (f->n_also + 1);
      int fd = k ? connect_start(&f->also[k - 1], f->also_len[k - 1])
                 : connect_start(&f->ss, f->sslen);
      if (fd < 0) {
        if (!*err)
          *err = errno;
        failed++;
        next++;
        continue;
      }
      f->c[next].fd = fd;
      struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
      epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &e);
      pending++;
      next++;
    }
    int n = epoll_wait(f->ep, ev, MAX_EVENTS, gated ? 1 : 100);
    for (int k = 0; k < n; k++) {
      int i = (int)ev[k].data.u32;
      client_t *c = &f->c[i];
      if (ev[k].events & EPOLLIN) {
        fanout_read(f, i); /* a chat server greets while others connect */
        continue;
      }
      if (!(ev[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        continue;
      int e = sock_error(c->fd);
      pending--;
      if (e) {
        if (!*err)
          *err = e;
        failed++;
        epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        continue;
      }
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      struct epoll_event e2 = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
      epoll_ctl(f->ep, EPOLL_CTL_MOD, c->fd, &e2);
      done++;
      f->live++;
    }
    if (server_gone(f))
      break;
  }
  if (done + failed < f->n && !*err)
    *err = ETIMEDOUT;
  return done;
}

/* Sends from clients in turn while fewer than window deliveries are
 * owed: up to batch messages in one write, at most 256 messages a call. */
static void fanout_send(fanout_t *f, int *rr) {
  uint64_t per = (uint64_t)(f->n > 1 ? f->n - 1 : 1);
  for (int budget = 256, tries = 0; budget > 0 && tries < f->n; tries++) {
    client_t *c = &f->c[*rr];
    *rr = (*rr + 1) % f->n;
    if (c->fd < 0)
      continue;
    if (!c->left) {
      uint64_t owed = f->sent * per > f->delivered
                          ? f->sent * per - f->delivered : 0;
      uint64_t room = owed < (uint64_t)f->window
                          ? ((uint64_t)f->window - owed) / per : 0;
      if (room == 0 && owed > 0)
        return;
      int k = room > (uint64_t)f->batch ? f->batch : room ? (int)room : 1;
      if (f->rate > 0) { /* open loop: what the clock allows, no more */
        double due = (now() - f->rate_t0) * f->rate - (double)f->sent;
        if (due < 1)
          return;
        k = 1;
      }
      c->left = (uint32_t)(k * f->size);
      f->sent += (uint64_t)k;
      budget -= k;
    }
    ssize_t w = send(c->fd, f->msg + (size_t)f->batch * f->size - c->left,
                     c->left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0)
      c->left -= (uint32_t)w;
  }
}

static int fanout_main(fanout_t *f) {
  int err;
  long fd0 = f->fd0 = f->pid > 0 ? proc_fds(f->pid) : 0;
  long rss0 = f->pid > 0 ? proc_rss_kb(f->pid) : -1;
  double t0 = now();
  if (f->pid > 0 && fd0 < 0)
    die("server pid %d: no such process", (int)f->pid);
  int connected = fanout_connect(f, &err);
  double t_conn = now() - t0;
  const char *status = "ok";
  char why[160] = "";
  if (connected < f->n) {
    status = "connect-failed";
    snprintf(why, sizeof why, "%d/%d connected: %s", connected, f->n,
             strerror(err));
  }
  /* Wait for the server to accept everybody (it may not have yet:
   * the kernel completes handshakes on its own), reading meanwhile. */
  double deadline = now() + f->connect_timeout;
  while (f->pid > 0 && !server_gone(f) && now() < deadline &&
         proc_fds(f->pid) - fd0 < f->live)
    fanout_poll(f, 20);
  /* Then let greetings and join notices settle. */
  f->last_rx = now();
  deadline = now() + f->connect_timeout;
  while (now() - f->last_rx < 0.3 && now() < deadline && !server_gone(f))
    fanout_poll(f, 20);
  if (server_gone(f)) {
    status = "server-died";
    snprintf(why, sizeof why, "server exited; %d of %d clients had connected",
             connected, f->n);
  } else if (f->live < f->n && !why[0]) {
    status = "clients-dropped";
    snprintf(why, sizeof why, "%d of %d dropped while connecting: %s",
             f->n - f->live, f->n,
             f->drop_errno ? strerror(f->drop_errno) : "closed by server");
  }
  long rss1 = f->pid > 0 ? proc_rss_kb(f->pid) : -1;
  printf("status=%s clients=%d connected=%d live=%d connect_s=%.3f", status,
         f->n, connected, f->live, t_conn);
  if (rss0 > 0 && rss1 > 0)
    printf(" rss0_kb=%ld rss1_kb=%ld rss_per_client_b=%.0f", rss0, rss1,
           (double)(rss1 - rss0) * 1024.0 / (f->live > 0 ? f->live : 1));
  if (f->idle || strcmp(status, "ok") != 0) {
    printf("%s%s%s\n", why[0] ? " why=\"" : "", why, why[0] ? "\"" : "");
    return strcmp(status, "ok") == 0 ? 0 : 3;
  }

  /* Everybody sends; count what everybody receives. */
  f->delivered = f->sent = f->rbytes = 0;
  f->dropped = 0;
  int rr = 0;
  double start = now(), w0 = start + f->warmup, w1 = w0 + f->secs;
  f->rate_t0 = start;
  uint64_t d0 = 0, s0 = 0, b0 = 0;
  double cpu0 = -1, cpu1 = -1, me0 = 0, progress = start;
  uint64_t last_delivered = 0;
  bool in_window = false;
  while (now() < w1) {
    fanout_send(f, &rr);
    fanout_poll(f, 1);
    double t = now();
    if (!in_window && t >= w0) {
      in_window = true;
      d0 = f->delivered;
      s0 = f->sent;
      b0 = f->rbytes;
      cpu0 = f->pid > 0 ? proc_cpu(f->pid) : -1;
      me0 = self_cpu();
      w0 = t;
    }
    if (f->delivered != last_delivered) {
      last_delivered = f->delivered;
      progress = t;
    } else if (t - progress > 3.0) {
      status = "stalled";
      break;
    }
    if (f->live == 0 || server_gone(f)) {
      status = f->live == 0 ? "all-dropped" : "server-died";
      break;
    }
  }
  double w_end = now();
  uint64_t d1 = f->delivered, s1 = f->sent, b1 = f->rbytes;
  if (f->pid > 0)
    cpu1 = proc_cpu(f->pid);
  /* Drain what is still owed, for the loss count. */
  uint64_t per = (uint64_t)(f->n - 1);
  double drain_end = now() + 3.0;
  while (f->delivered < f->sent * per && now() < drain_end &&
         now() - f->last_rx < 1.0)
    fanout_poll(f, 10);
  if (!in_window) {
    w0 = w_end;
  }
  double secs = w_end - w0;
  uint64_t owed = f->sent * per;
  printf(" secs=%.3f msgs_sent=%llu deliveries=%llu rate=%.0f sent_rate=%.0f"
         " lost=%llu dropped=%d rss2_kb=%ld",
         secs, (unsigned long long)(s1 - s0), (unsigned long long)(d1 - d0),
         secs > 0 ? (double)(d1 - d0) / secs : 0.0,
         secs > 0 ? (double)(s1 - s0) / secs : 0.0,
         (unsigned long long)(owed > f->delivered ? owed - f->delivered : 0),
         f->dropped, f->pid > 0 ? proc_rss_kb(f->pid) : -1L);
  if (d1 > d0)
    printf(" bytes_per_delivery=%.1f", (double)(b1 - b0) / (double)(d1 - d0));
  if (cpu0 >= 0 && cpu1 >= 0 && secs > 0)
    printf(" server_cpu=%.3f", (cpu1 - cpu0) / secs);
  if (secs > 0)
    printf(" loadgen_cpu=%.3f", (self_cpu() - me0) / secs);
  printf(" end=%s\n", status);
  return strcmp(status, "ok") == 0 ? 0 : 3;
}

static int cmd_fanout(int argc, char **argv) {
  static const struct option lo[] = {{"window", required_argument, 0, 'x'},
                                     {"pid", required_argument, 0, 'p'},
                                     {"idle", no_argument, 0, 'i'},
                                     {"gate", required_argument, 0, 'g'},
                                     {"batch", required_argument, 0, 'b'},
                                     {"also", required_argument, 0, 'a'},
                                     {"rate", required_argument, 0, 'r'},
                                     {0, 0, 0, 0}};
  const char *also[3];
  int n_also = 0;
  fanout_t f = {.n = 10, .size = 64, .secs = 3, .warmup = 1,
                .connect_timeout = 60, .gate = 8, .batch = 1};
  int o;
  while ((o = getopt_long(argc, argv, "n:s:t:W:T:", lo, NULL)) != -1) {
    switch (o) {
    case 'n': f.n = atoi(optarg); break;
    case 's': f.size = atoi(optarg); break;
    case 't': f.secs = atof(optarg); break;
    case 'W': f.warmup = atof(optarg); break;
    case 'T': f.connect_timeout = atof(optarg); break;
    case 'x': f.window = atol(optarg); break;
    case 'p': f.pid = (pid_t)atoi(optarg); break;
    case 'i': f.idle = true; break;
    case 'g': f.gate = atoi(optarg); break;
    case 'b': f.batch = atoi(optarg); break;
    case 'r': f.rate = atof(optarg); break;
    case 'a':
      if (n_also == 3)
        die("fanout: --also at most 3 times");
      also[n_also++] = optarg;
      break;
    default: die("fanout: bad option");
    }
  }
  if (argc - optind != 2 || f.n < 2 || f.size < 2 || f.size > 65536 ||
      f.batch < 1 || f.batch > 64)
    die("usage: loadgen fanout HOST PORT -n CLIENTS(>=2) [-s SIZE] ...");
  addr_parse(argv[optind], argv[optind + 1], &f.ss, &f.sslen);
  for (f.n_also = 0; f.n_also < n_also; f.n_also++)
    addr_parse(argv[optind], also[f.n_also], &f.also[f.n_also],
               &f.also_len[f.n_also]);
  /* Enough owed deliveries to keep the server busy: 64 Ki, and at
   * least 64 whole messages when there are many clients (with fewer, a
   * server that writes each client's pending lines at once is held to
   * the round trip of a handful of messages). */
  if (f.window <= 0)
    f.window = 65536 > 64L * (f.n - 1) ? 65536 : 64L * (f.n - 1);
  nofile_raise();
  signal(SIGPIPE, SIG_IGN);
  f.c = calloc((size_t)f.n, sizeof *f.c);
  f.msg = malloc((size_t)f.size * (size_t)f.batch);
  if (!f.c || !f.msg)
    die("out of memory");
  for (int i = 0; i < f.size * f.batch; i++)
    f.msg[i] = (i + 1) % f.size ? (char)('a' + i % f.size % 26) : '\n';
  for (int i = 0; i < f.n; i++)
    f.c[i].fd = -1;
  if ((f.ep = epoll_create1(0)) < 0)
    die("epoll_create1: %s", strerror(errno));
  int rc = fanout_main(&f);
  fflush(stdout);
  for (int i = 0; i < f.n; i++)
    if (f.c[i].fd >= 0)
      close_reset(f.c[i].fd);
  return rc;
}

/* ---- rr: request/response latency ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmd_rr(int argc, char **argv) {
  int size = 64, o;
  double secs = 3;
  long count = 0;
  while ((o = getopt(argc, argv, "s:t:c:")) != -1) {
    switch (o) {
    case 's': size = atoi(optarg); break;
    case 't': secs = atof(optarg); break;
    case 'c': count = atol(optarg); break;
    default: die("rr: bad option");
    }
  }
  if (argc - optind != 2 || size < 8 || size > BUF_SIZE)
    die("usage: loadgen rr HOST PORT [-s SIZE>=8] [-t SECS] [-c COUNT]");
  struct sockaddr_storage ss;
  socklen_t len;
  addr_parse(argv[optind], argv[optind + 1], &ss, &len);
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
    die("connect %s %s: %s", argv[optind], argv[optind + 1], strerror(errno));
  int one = 1;
  struct timeval tv = {5, 0}; /* no answer in 5 s: the path is broken */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char *msg = malloc((size_t)size), *back = malloc((size_t)size);
  size_t cap = 1 << 16, n = 0;
  double *lat = malloc(cap * sizeof *lat);
  if (!msg || !back || !lat)
    die("out of memory");
  memset(msg, 'r', (size_t)size);
  msg[size - 1] = '\n';
  double start = now(), end = start + secs;
  for (uint64_t seq = 0;; seq++) {
    double t = now();
    if ((count && (long)n >= count) || (!count && t >= end))
      break;
    memcpy(msg, &seq, sizeof seq);
    if (send(fd, msg, (size_t)size, MSG_NOSIGNAL) != size)
      die("send after %zu round trips: %s", n, strerror(errno));
    for (int got = 0; got < size;) {
      ssize_t r = read(fd, back + got, (size_t)(size - got));
      if (r <= 0)
        die("no echo after %zu round trips: %s", n,
            r == 0 ? "connection closed" : strerror(errno));
      got += (int)r;
    }
    if (memcmp(msg, back, (size_t)size) != 0)
      die("echo %zu differs from what was sent", n);
    if (n == cap) {
      cap *= 2;
      if (!(lat = realloc(lat, cap * sizeof *lat)))
        die("out of memory");
    }
    lat[n++] = now() - t;
  }
  double total = now() - start;
  close(fd);
  if (n == 0)
    die("no round trip completed");
  qsort(lat, n, sizeof *lat, cmp_double);
  printf("n=%zu secs=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
         n, total, (double)n / total, lat[n / 2] * 1e6,
         lat[(size_t)((double)n * 0.99)] * 1e6, lat[n - 1] * 1e6);
  return 0;
}

/* ---- echo: the far end of the request/response path ---- */

static volatile sig_atomic_t stopping;
static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static int listen_on(const char *host, const char *port, int type) {
  struct sockaddr_storage ss;
  socklen_t len;
  addr_parse(host, port, &ss, &len);
  int fd = socket(ss.ss_family, type, 0), one = 1;
  if (fd < 0)
    die("socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
      (type == SOCK_STREAM && listen(fd, 4096) < 0))
    die("listen %s %s: %s", host, port, strerror(errno));
  return fd;
}

/* Writes all of buf to a non-blocking socket, waiting when it is full. */
static int send_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
    if (w < 0 && errno == EAGAIN) {
      fd_set ws;
      FD_ZERO(&ws);
      FD_SET(fd, &ws);
      struct timeval tv = {1, 0};
      select(fd + 1, NULL, &ws, NULL, &tv);
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

static int cmd_echo(int argc, char **argv) {
  if (argc != 3)
    die("usage: loadgen echo HOST PORT");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  int lfd = listen_on(argv[1], argv[2], SOCK_STREAM), one = 1;
  /* accepted sockets inherit TCP_NODELAY: one call, not one per client */
  setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.fd = lfd}, ev[64];
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
  while (!stopping) {
    int n = epoll_wait(ep, ev, 64, 200);
    for (int k = 0; k < n; k++) {
      int fd = ev[k].data.fd;
      if (fd == lfd) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0)
          continue;
        struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        continue;
      }
      ssize_t r = read(fd, rbuf, BUF_SIZE);
      if (r > 0 && send_all(fd, rbuf, (size_t)r) == 0)
        continue;
      if (r < 0 && errno == EAGAIN)
        continue;
      close(fd); /* leaves the epoll set with its last descriptor */
    }
  }
  return 0;
}

/* ---- udp: a datagram sender ---- */

static int cmd_udp(int argc, char **argv) {
  int size = 64, o;
  long count = 100000;
  double rate = 0;
  while ((o = getopt(argc, argv, "s:c:r:")) != -1) {
    switch (o) {
    case 's': size = atoi(optarg); break;
    case 'c': count = atol(optarg); break;
    case 'r': rate = atof(optarg); break;
    default: die("udp: bad option");
    }
  }
  if (argc - optind != 2 || size < 1 || size > 65507 || count < 1)
    die("usage: loadgen udp HOST PORT [-s SIZE] [-c COUNT] [-r RATE]");
  struct sockaddr_storage ss;
  socklen_t len;
  addr_parse(argv[optind], argv[optind + 1], &ss, &len);
  int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
    die("udp connect: %s", strerror(errno));
  enum { BATCH = 32 };
  char *payload = malloc((size_t)size);
  if (!payload)
    die("out of memory");
  memset(payload, 'u', (size_t)size);
  struct iovec iov = {payload, (size_t)size};
  struct mmsghdr mm[BATCH];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < BATCH; i++) {
    mm[i].msg_hdr.msg_iov = &iov;
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = 0, refused = 0;
  double start = now();
  while (sent < count) {
    if (rate > 0) {
      double due = start + (double)sent / rate;
      double wait = due - now();
      if (wait > 0.0002)
        sleep_s(wait);
      else
        while (now() < due)
          ;
    }
    long want = count - sent;
    if (rate > 0 && rate < 100000)
      want = 1;
    int n = sendmmsg(fd, mm, (unsigned)(want < BATCH ? want : BATCH), 0);
    if (n > 0) {
      sent += n;
    } else if (errno == ECONNREFUSED) {
      refused++; /* the ICMP of an earlier datagram: nobody listens */
      if (refused > 1000)
        die("udp: port unreachable: %s", strerror(errno));
    } else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
      die("sendmmsg: %s", strerror(errno));
    }
  }
  double secs = now() - start;
  printf("sent=%ld secs=%.3f rate=%.0f refused=%ld\n", sent, secs,
         (double)sent / secs, refused);
  return 0;
}

/* ---- sink: counts a stream on stdin ---- */

static int cmd_sink(int argc, char **argv) {
  int size = 1, o, idle_ms = 500;
  double secs = 30;
  static const struct option lo[] = {{"idle-ms", required_argument, 0, 'i'},
                                     {0, 0, 0, 0}};
  while ((o = getopt_long(argc, argv, "s:t:", lo, NULL)) != -1) {
    switch (o) {
    case 's': size = atoi(optarg); break;
    case 't': secs = atof(optarg); break;
    case 'i': idle_ms = atoi(optarg); break;
    default: die("sink: bad option");
    }
  }
  if (size < 1)
    die("sink: size must be positive");
  nonblock(STDIN_FILENO);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.fd = 0}, ev;
  bool pollable = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e) == 0;
  uint64_t bytes = 0;
  double start = now(), first = 0, last = 0;
  const char *end = "idle";
  for (;;) {
    double t = now();
    if (t - start > secs) {
      end = "time";
      break;
    }
    if (first > 0 && t - last > idle_ms / 1000.0)
      break;
    if (pollable && epoll_wait(ep, &ev, 1, 50) == 0)
      continue;
    ssize_t r = read(STDIN_FILENO, rbuf, sizeof rbuf);
    if (r > 0) {
      last = now();
      if (first == 0)
        first = last;
      bytes += (uint64_t)r;
    } else if (r == 0) {
      end = "eof";
      break;
    } else if (errno != EAGAIN && errno != EINTR) {
      die("sink read: %s", strerror(errno));
    }
  }
  double span = last - first;
  printf("bytes=%llu count=%llu secs=%.3f rate=%.0f end=%s\n",
         (unsigned long long)bytes, (unsigned long long)(bytes / (unsigned)size),
         span, span > 0 ? (double)(bytes / (unsigned)size) / span : 0.0, end);
  return 0;
}

/* ---- connrate: connects and closes per second ---- */

/* One connection's life as the server sees it: the handshake, our FIN
 * (shutdown after connecting), the server's close once it has read that
 * EOF. Waiting for the server's close keeps the count honest: a client
 * that closed right after the handshake would only measure how fast the
 * kernel fills the accept queue, then stall a second per dropped SYN. */
enum { CR_CONNECTING = 1, CR_ECHO, CR_CLOSING };

static int cmd_connrate(int argc, char **argv) {
  int conc = 4, size = 0, o;
  double secs = 3;
  while ((o = getopt(argc, argv, "t:c:s:")) != -1) {
    switch (o) {
    case 't': secs = atof(optarg); break;
    case 'c': conc = atoi(optarg); break;
    case 's': size = atoi(optarg); break;
    default: die("connrate: bad option");
    }
  }
  if (argc - optind != 2 || conc < 1 || conc > 1000 || size < 0 ||
      size > 4096)
    die("usage: loadgen connrate HOST PORT [-t SECS] [-c CONCURRENT] "
        "[-s SIZE<=4096]");
  char payload[4096];
  memset(payload, 'c', sizeof payload);
  struct sockaddr_storage ss;
  socklen_t len;
  addr_parse(argv[optind], argv[optind + 1], &ss, &len);
  signal(SIGPIPE, SIG_IGN);
  int ep = epoll_create1(0), pending = 0, first_err = 0;
  long ok = 0, failed = 0, slow = 0;
  double start = now(), end = start + secs;
  double *began = calloc(65536, sizeof *began);
  unsigned char *state = calloc(65536, 1);
  unsigned *got = calloc(65536, sizeof *got); /* bytes back, per fd */
  double *lat = malloc(sizeof(double) * (1 << 20));
  if (!began || !state || !got || !lat)
    die("out of memory");
  struct epoll_event ev[64];
  while ((now() < end || pending > 0) && now() < end + 5.0) {
    while (pending < conc && now() < end && failed < 100000) {
      int fd = connect_start(&ss, len);
      if (fd < 0 || fd >= 65536) {
        if (!first_err)
          first_err = fd < 0 ? errno : EMFILE;
        failed++;
        if (fd >= 0)
          close(fd);
        continue;
      }
      began[fd] = now();
      got[fd] = 0;
      state[fd] = CR_CONNECTING;
      struct epoll_event e = {.events = EPOLLOUT, .data.fd = fd};
      /* a loopback connect is usually done when connect() returns: send
       * at once, and wait for writability only when it is not */
      if (size > 0 && write(fd, payload, (size_t)size) == size) {
        state[fd] = CR_ECHO;
        e.events = EPOLLIN;
      }
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
      pending++;
    }
    int n = epoll_wait(ep, ev, 64, 20);
    for (int k = 0; k < n; k++) {
      int fd = ev[k].data.fd, e = 0;
      if (state[fd] == CR_CONNECTING) {
        if (!(e = sock_error(fd)) && size > 0 &&
            write(fd, payload, (size_t)size) != size)
          e = errno ? errno : EIO; /* 4 KiB fits a fresh socket's buffer */
        if (!e) {
          /* with -s, the half-close waits for the echo: a forwarder
           * that closes both ways on EOF (rinetd) still counts */
          if (size == 0)
            shutdown(fd, SHUT_WR);
          state[fd] = size > 0 ? CR_ECHO : CR_CLOSING;
          struct epoll_event e2 = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e2);
          continue;
        }
      } else {
        ssize_t r = read(fd, rbuf, BUF_SIZE);
        if (r > 0)
          got[fd] += (unsigned)r;
        if (r > 0 && state[fd] == CR_ECHO && got[fd] >= (unsigned)size) {
          shutdown(fd, SHUT_WR);
          state[fd] = CR_CLOSING;
        }
        if (r > 0 || (r < 0 && errno == EAGAIN))
          continue; /* whatever the server says before closing */
        e = r < 0 ? errno : 0;
        if (!e && size > 0 && (state[fd] != CR_CLOSING || got[fd] != (unsigned)size))
          e = EPROTO; /* the echo did not come back whole */
      }
      double t = now() - began[fd];
      if (t > 0.5)
        slow++; /* a SYN was dropped and sent again: a full backlog */
      if (e) {
        if (!first_err)
          first_err = e;
        failed++;
      } else {
        if (ok < (1 << 20))
          lat[ok] = t;
        ok++;
      }
      close(fd);
      state[fd] = 0;
      pending--;
    }
  }
  double total = now() - start;
  long nl = ok < (1 << 20) ? ok : (1 << 20);
  qsort(lat, (size_t)nl, sizeof *lat, cmp_double);
  printf("connects=%ld secs=%.3f rate=%.0f p50_us=%.0f p99_us=%.0f failed=%ld"
         " slow=%ld unfinished=%d%s%s%s\n",
         ok, total, (double)ok / total, nl ? lat[nl / 2] * 1e6 : 0.0,
         nl ? lat[(long)((double)nl * 0.99)] * 1e6 : 0.0, failed, slow,
         pending, first_err ? " error=\"" : "",
         first_err ? strerror(first_err) : "", first_err ? "\"" : "");
  return ok > 0 ? 0 : 3;
}

/* ---- run: wall and CPU time of one command ---- */

static pid_t child;
static void forward(int sig) {
  if (child > 0)
    kill(child, sig);
}

static int cmd_run(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0)
    die("usage: loadgen run OUTFILE -- COMMAND...");
  struct sigaction sa = {.sa_handler = forward};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  double start = now();
  child = fork();
  if (child < 0)
    die("fork: %s", strerror(errno));
  if (child == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    execvp(argv[3], argv + 3);
    fprintf(stderr, "loadgen run: %s: %s\n", argv[3], strerror(errno));
    _exit(127);
  }
  int st;
  struct rusage ru;
  while (wait4(child, &st, 0, &ru) < 0)
    if (errno != EINTR)
      die("wait4: %s", strerror(errno));
  double wall = now() - start;
  struct timespec end; /* the same clock as bash's $EPOCHREALTIME */
  clock_gettime(CLOCK_REALTIME, &end);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  FILE *f = fopen(argv[1], "w");
  if (!f)
    die("%s: %s", argv[1], strerror(errno));
  fprintf(f, "end=%.6f wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld exit=%d\n",
          (double)end.tv_sec + (double)end.tv_nsec * 1e-9, wall,
          (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6,
          ru.ru_maxrss, code);
  fclose(f);
  return code;
}

/* ---- joinstorm: a chat room filled at once, then one line to all ---- */

#define STORM_MARK "storm-first-line"

typedef struct storm_client {
  int fd;
  bool welcomed, reached;
  char tail[sizeof STORM_MARK]; /* the end of the last read, for a mark
                                   split across two reads */
} storm_client_t;

typedef struct storm {
  storm_client_t *c;
  int n, ep, connected, welcomed, reached, failed;
} storm_t;

/* Reads what client i has; notes its first line (the welcome) and the
 * marked line. Returns -1 when the server closed it. */
static int storm_read(storm_t *s, int i) {
  storm_client_t *c = &s->c[i];
  size_t tl = strlen(c->tail);
  ssize_t r;
  while ((r = recv(c->fd, rbuf + tl, sizeof rbuf - tl - 1, 0)) > 0) {
    memcpy(rbuf, c->tail, tl);
    rbuf[tl + (size_t)r] = '\0';
    if (!c->welcomed && memchr(rbuf + tl, '\n', (size_t)r)) {
      c->welcomed = true;
      s->welcomed++;
    }
    if (!c->reached && strstr(rbuf, STORM_MARK)) {
      c->reached = true;
      s->reached++;
    }
    size_t keep = tl + (size_t)r < sizeof c->tail - 1 ? tl + (size_t)r
                                                      : sizeof c->tail - 1;
    memcpy(c->tail, rbuf + tl + (size_t)r - keep, keep);
    c->tail[keep] = '\0';
    tl = keep;
  }
  return r == 0 ? -1 : 0;
}

static void storm_poll(storm_t *s, int ms) {
  struct epoll_event ev[MAX_EVENTS];
  int n = epoll_wait(s->ep, ev, MAX_EVENTS, ms);
  for (int k = 0; k < n; k++) {
    int i = (int)ev[k].data.u32;
    storm_client_t *c = &s->c[i];
    if (c->fd < 0)
      continue;
    if (!(ev[k].events & EPOLLIN) && (ev[k].events & EPOLLOUT)) {
      if (sock_error(c->fd) != 0) {
        s->failed++;
        close(c->fd);
        c->fd = -1;
        continue;
      }
      struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
      epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
      s->connected++;
      continue;
    }
    if (storm_read(s, i) < 0) {
      s->failed++;
      close(c->fd);
      c->fd = -1;
    }
  }
}

/* Every client connects at once (no gate: what a storm is); when all
 * are welcomed, the last one sends a line. Times both. */
static int storm_main(storm_t *s, const struct sockaddr_storage *ss,
                      socklen_t len, double limit) {
  double t0 = now(), deadline = t0 + limit, t_joined = 0, t_reached = 0;
  for (int i = 0; i < s->n; i++) {
    if ((s->c[i].fd = connect_start(ss, len)) < 0)
      die("connect: %s", strerror(errno));
    struct epoll_event e = {.events = EPOLLOUT | EPOLLIN,
                            .data.u32 = (uint32_t)i};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->c[i].fd, &e);
    if (i % 64 == 63)
      storm_poll(s, 0);
  }
  while (s->welcomed < s->n && s->failed == 0 && now() < deadline)
    storm_poll(s, 10);
  if (s->welcomed == s->n) {
    t_joined = now() - t0;
    const char line[] = STORM_MARK "\n";
    if (send(s->c[s->n - 1].fd, line, sizeof line - 1, MSG_NOSIGNAL) < 0)
      die("send: %s", strerror(errno));
    s->c[s->n - 1].reached = true; /* the sender is not sent its line */
    s->reached++;
    while (s->reached < s->n && s->failed == 0 && now() < deadline)
      storm_poll(s, 10);
    t_reached = now() - t0;
  }
  bool ok = s->reached == s->n;
  printf("status=%s clients=%d connected=%d welcomed=%d reached=%d "
         "failed=%d joined_s=%.3f first_line_s=%.3f\n",
         ok ? "ok" : "timeout", s->n, s->connected, s->welcomed, s->reached,
         s->failed, t_joined, ok ? t_reached : 0.0);
  return ok ? 0 : 3;
}

static int cmd_joinstorm(int argc, char **argv) {
  storm_t s = {.n = 1000};
  double limit = 60;
  int o;
  while ((o = getopt(argc, argv, "n:T:")) != -1) {
    switch (o) {
    case 'n': s.n = atoi(optarg); break;
    case 'T': limit = atof(optarg); break;
    default: die("joinstorm: bad option");
    }
  }
  if (argc - optind != 2 || s.n < 2)
    die("usage: loadgen joinstorm HOST PORT -n CLIENTS(>=2) [-T SECS]");
  struct sockaddr_storage ss;
  socklen_t len;
  addr_parse(argv[optind], argv[optind + 1], &ss, &len);
  nofile_raise();
  signal(SIGPIPE, SIG_IGN);
  if ((s.c = calloc((size_t)s.n, sizeof *s.c)) == NULL)
    die("out of memory");
  if ((s.ep = epoll_create1(0)) < 0)
    die("epoll_create1: %s", strerror(errno));
  int rc = storm_main(&s, &ss, len, limit);
  for (int i = 0; i < s.n; i++)
    if (s.c[i].fd >= 0)
      close_reset(s.c[i].fd);
  return rc;
}

/* ---- lat: a line's latency from one chat server to others ---- */

#define LAT_SETTLED 0.25 /* s: a sync line this late means not settled */

typedef struct lat {
  int fd[4], n;          /* fd[0] sends, the others receive */
  char buf[4][1 << 16];
  size_t used[4];
  double *lat;
  long n_lat, cap_lat;
  bool synced[4]; /* receiver i had a sync line: what was queued is out */
} lat_t;

/* Takes whole lines from receiver i; a probe "<x> p SEQ SENT" counts. */
static void lat_read(lat_t *l, int i) {
  ssize_t r = read(l->fd[i], l->buf[i] + l->used[i],
                   sizeof l->buf[i] - l->used[i] - 1);
  if (r <= 0)
    return;
  l->used[i] += (size_t)r;
  char *p = l->buf[i], *end = p + l->used[i], *nl;
  while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
    *nl = '\0';
    char *q = strstr(p, "> p ");
    double sent;
    long seq;
    if (q && sscanf(q + 4, "%ld %lf", &seq, &sent) == 2 &&
        l->n_lat < l->cap_lat)
      l->lat[l->n_lat++] = now() - sent;
    else if ((q = strstr(p, "> s sync ")) && sscanf(q + 9, "%lf", &sent) == 1 &&
             now() - sent < LAT_SETTLED)
      l->synced[i] = true;
    p = nl + 1;
  }
  memmove(l->buf[i], p, (size_t)(end - p));
  l->used[i] = (size_t)(end - p);
  if (l->used[i] == sizeof l->buf[i] - 1)
    l->used[i] = 0; /* a line longer than the buffer: not a probe */
}

/* Says "s sync TIME" on A every half second until one reached every
 * receiver within LAT_SETTLED: the servers have then settled after the
 * thousands of clients who joined just before (over three servers each
 * join is a Redis message to the others), a transient that is not the
 * latency at an offered rate. 60 s at most; returns the seconds taken. */
static double lat_sync(lat_t *l) {
  double t0 = now(), said = 0;
  for (;;) {
    double t = now();
    if (t - t0 > 60)
      die("lat: the servers never passed a line on in 60 s");
    if (t - said >= 0.5) {
      char line[64];
      int n = snprintf(line, sizeof line, "s sync %.9f\n", t);
      if (send(l->fd[0], line, (size_t)n, MSG_NOSIGNAL) < 0)
        die("lat: send: %s", strerror(errno));
      said = t;
    }
    int all = 1;
    for (int i = 1; i < l->n; i++) {
      lat_read(l, i);
      all &= l->synced[i];
    }
    if (all)
      return now() - t0;
    usleep(1000);
  }
}

/* loadgen lat HOST PORT_A PORT_B [PORT_C] [-c COUNT] [-r RATE]: a client
 * on A says COUNT probes at RATE per second, once a sync line reached
 * the others (lat_sync); clients on B (and C) time each one's arrival.
 * Prints p50, p99 and max in ms. */
static int cmd_lat(int argc, char **argv) {
  long count = 500;
  double rate = 100;
  int o;
  while ((o = getopt(argc, argv, "c:r:")) != -1) {
    switch (o) {
    case 'c': count = atol(optarg); break;
    case 'r': rate = atof(optarg); break;
    default: die("lat: bad option");
    }
  }
  static lat_t l;
  l.n = argc - optind - 1;
  if (l.n < 2 || l.n > 4 || count < 1 || rate <= 0)
    die("usage: loadgen lat HOST PORT_A PORT_B [PORT_C] [-c N] [-r RATE]");
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < l.n; i++) {
    struct sockaddr_storage ss;
    socklen_t len;
    addr_parse(argv[optind], argv[optind + 1 + i], &ss, &len);
    if ((l.fd[i] = socket(ss.ss_family, SOCK_STREAM, 0)) < 0 ||
        connect(l.fd[i], (struct sockaddr *)&ss, len) < 0)
      die("lat: connect port %s: %s", argv[optind + 1 + i], strerror(errno));
    fcntl(l.fd[i], F_SETFL, O_NONBLOCK);
  }
  l.cap_lat = count * (l.n - 1);
  if (!(l.lat = calloc((size_t)l.cap_lat, sizeof *l.lat)))
    die("out of memory");
  double settle = lat_sync(&l);
  double start = now(), last_rx = 0;
  long sent = 0;
  while (l.n_lat < l.cap_lat) {
    double t = now();
    if (sent < count && t >= start + (double)sent / rate) {
      char line[96];
      int n = snprintf(line, sizeof line, "p %ld %.9f\n", sent, t);
      if (send(l.fd[0], line, (size_t)n, MSG_NOSIGNAL) == n)
        sent++;
    }
    if (sent == count && last_rx == 0)
      last_rx = t;
    if (last_rx > 0 && t - last_rx > 5.0)
      break;
    long before = l.n_lat;
    for (int i = 0; i < l.n; i++)
      lat_read(&l, i);
    if (l.n_lat == before)
      usleep(200);
  }
  qsort(l.lat, (size_t)l.n_lat, sizeof *l.lat, cmp_double);
  double p50 = l.n_lat ? l.lat[l.n_lat / 2] : 0;
  double p99 = l.n_lat ? l.lat[l.n_lat * 99 / 100] : 0;
  printf("status=%s probes=%ld received=%ld p50_ms=%.3f p99_ms=%.3f "
         "max_ms=%.3f settle_s=%.3f\n",
         l.n_lat == l.cap_lat ? "ok" : "lost", count, l.n_lat, p50 * 1e3,
         p99 * 1e3, l.n_lat ? l.lat[l.n_lat - 1] * 1e3 : 0, settle);
  for (int i = 0; i < l.n; i++)
    close(l.fd[i]);
  return l.n_lat == l.cap_lat ? 0 : 3;
}

int main(int argc, char **argv) {
  if (argc < 2)
    die("usage: loadgen fanout|rr|echo|udp|sink|connrate|run|joinstorm ...");
  const char *mode = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(mode, "fanout"))
    return cmd_fanout(argc - 1, argv + 1);
  if (!strcmp(mode, "rr"))
    return cmd_rr(argc - 1, argv + 1);
  if (!strcmp(mode, "echo"))
    return cmd_echo(argc - 1, argv + 1);
  if (!strcmp(mode, "udp"))
    return cmd_udp(argc - 1, argv + 1);
  if (!strcmp(mode, "sink"))
    return cmd_sink(argc - 1, argv + 1);
  if (!strcmp(mode, "connrate"))
    return cmd_connrate(argc - 1, argv + 1);
  if (!strcmp(mode, "run"))
    return cmd_run(argc - 1, argv + 1);
  if (!strcmp(mode, "joinstorm"))
    return cmd_joinstorm(argc - 1, argv + 1);
  if (!strcmp(mode, "lat"))
    return cmd_lat(argc - 1, argv + 1);
  die("unknown mode \"%s\"", mode);
  return 2;
}
