/*
 * tls_probe: the TLS toolkit (sockit/tls.h) in a plain poll() loop, to
 * test it against real peers before the engine carries it.
 *
 *   tls_probe [options] host port      connect, then relay stdin/stdout
 *   tls_probe -l [options] host port   accept one client (port 0: any)
 *
 * Options: --trustfile F --pin sha256:HEX --insecure --cert F --key F
 * --alpn LIST --servername NAME --verify-client -v. The listener prints
 * "tls_probe: listening on HOST:PORT, certificate sha256:HEX" on stderr.
 * Exit 0 when the peer closed (close_notify, or EOF: reported with -v),
 * 1 on a runtime failure (every TLS refusal), 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockit/sockit.h"

#define PROG "tls_probe"
#define HANDSHAKE_MS 20000

static int verbose;

static int fail(const char *msg) {
  fprintf(stderr, PROG ": %s\n", msg);
  return 1;
}

static int usage(const char *msg) {
  fprintf(stderr,
          PROG
          ": %s\nusage: " PROG " [-l] [-v] [--trustfile F] "
          "[--pin sha256:HEX] [--insecure] [--cert F] [--key F] [--alpn L] "
          "[--servername N] [--verify-client] host port\n",
          msg);
  return 2;
}

static int parse_args(int argc, char **argv, sk_tls_opts_t *o, bool *listen) {
  static const struct option longs[] = {
      {"trustfile", required_argument, 0, 't'},
      {"pin", required_argument, 0, 'p'},
      {"insecure", no_argument, 0, 'k'},
      {"cert", required_argument, 0, 'c'},
      {"key", required_argument, 0, 'K'},
      {"alpn", required_argument, 0, 'a'},
      {"servername", required_argument, 0, 's'},
      {"verify-client", no_argument, 0, 'V'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "lv", longs, NULL)) != -1) {
    switch (c) {
    case 'l':
      *listen = true;
      break;
    case 'v':
      verbose = 1;
      break;
    case 't':
      o->trustfile = optarg;
      break;
    case 'p':
      o->pin = optarg;
      break;
    case 'k':
      o->insecure = true;
      break;
    case 'c':
      o->cert = optarg;
      break;
    case 'K':
      o->key = optarg;
      break;
    case 'a':
      o->alpn = optarg;
      break;
    case 's':
      o->servername = optarg;
      break;
    case 'V':
      o->verify_client = true;
      break;
    default:
      return usage("unknown option");
    }
  }
  if (argc - optind != 2)
    return usage("expected host and port");
  o->role = *listen ? SK_TLS_SERVER : SK_TLS_CLIENT;
  if (*listen)
    o->ephemeral_host = argv[optind];
  return 0;
}

/* Drives the handshake to its end, waiting at most HANDSHAKE_MS. */
static int handshake(sk_tls_t *t, int fd) {
  char err[SK_ERR_LEN];
  int rc;
  while ((rc = sk_tls_handshake(err, t)) == SK_TLS_WANT_READ ||
         rc == SK_TLS_WANT_WRITE) {
    struct pollfd p = {fd, rc == SK_TLS_WANT_READ ? POLLIN : POLLOUT, 0};
    int n = poll(&p, 1, HANDSHAKE_MS);
    if (n == 0)
      return fail("TLS handshake timed out");
    if (n < 0 && errno != EINTR)
      return fail(strerror(errno));
  }
  return rc < 0 ? fail(err) : 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

struct relay {
  sk_tls_t *t;
  char in[16384];
  size_t off, len;
  bool in_eof, closed;
  short rd_wait, wr_wait; /* what the TLS read / write wait for */
};

/* 1: go on; 0: the peer closed; -1: failed (message printed). */
static int net_read(struct relay *r) {
  char buf[16384], err[SK_ERR_LEN];
  ssize_t n = sk_tls_read(err, r->t, buf, sizeof buf);
  r->rd_wait = n == SK_TLS_WANT_WRITE ? POLLOUT : POLLIN;
  if (n > 0)
    return write_all(1, buf, (size_t)n) < 0 ? (fail(strerror(errno)), -1) : 1;
  if (n == SK_TLS_WANT_READ || n == SK_TLS_WANT_WRITE)
    return 1;
  if (n == 0 || n == SK_ETLS_TRUNCATED) {
    if (n < 0 && verbose)
      fail(err);
    return 0;
  }
  fail(err);
  return -1;
}

/* Sends what stdin gave, then close_notify after its EOF. */
static int net_write(struct relay *r) {
  char err[SK_ERR_LEN];
  ssize_t n = r->len ? sk_tls_write(err, r->t, r->in + r->off, r->len)
                     : sk_tls_shutdown(err, r->t);
  r->wr_wait = n == SK_TLS_WANT_READ ? POLLIN : POLLOUT;
  if (n == SK_TLS_WANT_READ || n == SK_TLS_WANT_WRITE)
    return 1;
  if (n < 0)
    return fail(err), -1;
  if (r->len) {
    r->off += (size_t)n;
    r->len -= (size_t)n;
  } else
    r->closed = true;
  if (!r->len && !(r->in_eof && !r->closed))
    r->wr_wait = 0;
  return r->wr_wait ? net_write(r) : 1;
}

static int stdin_read(struct relay *r) {
  ssize_t n = read(0, r->in, sizeof r->in);
  if (n < 0 && errno == EINTR)
    return 1;
  if (n <= 0)
    r->in_eof = true;
  else {
    r->off = 0;
    r->len = (size_t)n;
  }
  return net_write(r);
}

static int relay(sk_tls_t *t, int fd) {
  struct relay r = {.t = t, .rd_wait = POLLIN};
  int rc = 1;
  while (rc > 0) {
    bool idle_in = !r.in_eof && !r.len;
    struct pollfd p[2] = {{idle_in ? 0 : -1, POLLIN, 0},
                          {fd, (short)(r.rd_wait | r.wr_wait), 0}};
    bool pending = sk_tls_pending(t) > 0;
    if (!pending && poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return fail(strerror(errno));
    }
    short ev = p[1].revents, hup = POLLHUP | POLLERR;
    if (p[0].revents)
      rc = stdin_read(&r);
    if (rc > 0 && r.wr_wait && (ev & (r.wr_wait | hup)))
      rc = net_write(&r);
    if (rc > 0 && (pending || (ev & (r.rd_wait | hup))))
      rc = net_read(&r);
  }
  if (rc == 0 && !r.closed) /* answer the peer's close_notify */
    sk_tls_shutdown(NULL, t);
  return rc < 0 ? 1 : 0;
}

static int open_socket(const char *host, const char *port, bool listen,
                       char *label) {
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  int fd = sk_addr_set_inet(err, &addr, host, port, SK_ADDR_PORT_ZERO);
  if (fd == 0)
    fd = listen ? sk_tcp_listen(err, &addr, NULL)
                : sk_tcp_connect(err, &addr, NULL);
  if (fd < 0)
    return fail(err), -1;
  sk_addr_format(&addr, label, SK_ADDRSTR_LEN);
  return fd;
}

/* Accepts one client; label becomes its address. */
static int accept_one(int lfd, const sk_tls_ctx_t *ctx, char *label) {
  char err[SK_ERR_LEN];
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  getsockname(lfd, (struct sockaddr *)&ss, &len);
  sk_sockaddr_format((struct sockaddr *)&ss, len, label, SK_ADDRSTR_LEN);
  fprintf(stderr, PROG ": listening on %s, certificate %s\n", label,
          sk_tls_ctx_fingerprint(ctx));
  len = sizeof ss;
  int fd = sk_accept(err, lfd, &ss, &len);
  close(lfd);
  if (fd < 0)
    return fail(err), -1;
  sk_sockaddr_format((struct sockaddr *)&ss, len, label, SK_ADDRSTR_LEN);
  return fd;
}

static int run(sk_tls_ctx_t *ctx, const char *host, const char *port,
               bool listen) {
  char label[SK_ADDRSTR_LEN], err[SK_ERR_LEN];
  sk_tls_t *t;
  int fd = open_socket(host, port, listen, label);
  if (fd >= 0 && listen)
    fd = accept_one(fd, ctx, label);
  if (fd < 0)
    return 1;
  sk_fd_set_nonblock(fd, true);
  int rc = sk_tls_new(err, &t, ctx, fd, host, label);
  if (rc < 0) {
    close(fd);
    return fail(err);
  }
  rc = handshake(t, fd);
  if (rc == 0 && verbose)
    fprintf(stderr, PROG ": %s %s alpn \"%s\" peer %s\n", sk_tls_version(t),
            sk_tls_cipher(t), sk_tls_alpn(t),
            *sk_tls_peer_fingerprint(t) ? sk_tls_peer_fingerprint(t) : "none");
  if (rc == 0)
    rc = relay(t, fd);
  sk_tls_free(t);
  close(fd);
  return rc;
}

int main(int argc, char **argv) {
  sk_tls_opts_t o = {0};
  bool listen = false;
  char err[SK_ERR_LEN];
  sk_tls_ctx_t *ctx;
  int rc = parse_args(argc, argv, &o, &listen);
  if (rc)
    return rc;
  signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error, not a death */
  if (sk_tls_ctx_new(err, &ctx, &o) < 0)
    return fail(err) + 1; /* options the user gave: a usage error */
  if (sk_tls_ctx_insecure(ctx))
    fail("warning: certificate verification is off (--insecure): anyone on "
         "the path can read and change this connection");
  rc = run(ctx, argv[optind], argv[optind + 1], listen);
  sk_tls_ctx_free(ctx);
  return rc;
}
