/*
 * sockit: a netcat-class command. One readable main flow: parse, then
 * scan, listen or connect, then relay (or serve many clients on a hub).
 * Fatal messages are printed here only; helpers return codes.
 */
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "chat_client.h"
#include "cli.h"
#include "engine.h"
#include "hub.h"
#include "outlog.h"
#include "relay.h"
#include "ping.h"
#include "serve.h"

static int fail(int code, const char *err) {
  fprintf(stderr, "sockit: %s\n", err);
  return code;
}

/* A libuv failure of main's own set-up, as one line in err. */
static int setup_fail(char *err, int rc, const char *job, const char *what) {
  snprintf(err, SK_ERR_LEN, "%s: %s: %s", job, what, uv_strerror(rc));
  return rc;
}

static void notice(const cli_t *c, const char *what, const char *where) {
  if (c->verbose)
    fprintf(stderr, "sockit: %s %s\n", what, where);
}

/* -v notices that scripts grep for, in OpenBSD nc 1.219's exact words
 * (no "sockit:" prefix): "Listening on HOST PORT", "Connection received
 * on HOST PORT", "Connection to HOST PORT port [tcp/SERVICE] succeeded!".
 * Hosts are numeric: sockit never looks a peer's name up. */
static void notice_endpoint(const cli_t *c, const char *what,
                            const struct sockaddr *sa) {
  char host[SK_ADDRSTR_LEN];
  int port;
  if (!c->verbose)
    return;
  if ((port = sk_sockaddr_host(sa, host, sizeof host)) >= 0) {
    fprintf(stderr, "%s %s %d\n", what, host, port);
  } else { /* nc names a Unix socket by the listener's path */
    sk_addr_format(&c->addr, host, sizeof host);
    fprintf(stderr, "%s %s\n", what, host + strlen("unix:"));
  }
}

/* "Listening on": the any address of our dual-stack socket is shown as
 * nc (IPv4 only) shows its own, 0.0.0.0. */
static void notice_listening(const cli_t *c, int lfd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  struct sockaddr_in any4 = {.sin_family = AF_INET};
  if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0)
    return;
  if (ss.ss_family == AF_INET6 && !c->addr.host[0] && c->family == AF_UNSPEC) {
    any4.sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
    memcpy(&ss, &any4, sizeof any4);
  }
  if (c->udp || c->unix_sock)
    notice_endpoint(c, "Bound on", (struct sockaddr *)&ss);
  if (!c->udp)
    notice_endpoint(c, "Listening on", (struct sockaddr *)&ss);
}

/* "Connection to HOST [(IP)] PORT port [tcp/http] succeeded!": the host
 * as typed, its address when that differs (not with -n), and the
 * service name of the port ("*" when unknown, or with -n). */
static void notice_connected(const cli_t *c, int fd, int port) {
  char ip[SK_ADDRSTR_LEN];
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  const char *proto = c->udp ? "udp" : "tcp";
  struct servent *sv = c->numeric ? NULL : getservbyport(htons(port), proto);
  if (!c->verbose || c->unix_sock) /* nc -U says nothing either */
    return;
  fprintf(stderr, "Connection to %s", c->addr.host);
  if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
      sk_sockaddr_host((struct sockaddr *)&ss, ip, sizeof ip) >= 0 &&
      !c->numeric && c->proxy.type == SK_PROXY_NONE &&
      strcmp(ip, c->addr.host) != 0) /* a proxy's address is not the host's */
    fprintf(stderr, " (%s)", ip);
  fprintf(stderr, " %d port [%s/%s] succeeded!\n", port, proto,
          sv ? sv->s_name : "*");
}

static int socktype(const cli_t *c) {
  return c->udp ? SOCK_DGRAM : SOCK_STREAM;
}

/* -o / --hex-dump: opened before any socket (a log that cannot be
 * opened is exit 1 with nothing sent); one log for every relay. */
static sk_outlog_t outlog = {.raw = {.fd = -1}, .dump = {.fd = -1}};

static sk_relay_opts_t relay_opts(const cli_t *c) {
  sk_relay_opts_t o = {
      .in_fd = c->recv_only ? -1 : STDIN_FILENO,
      .out_fd = c->send_only ? -1 : STDOUT_FILENO,
      .shutdown_on_eof = c->shutdown_on_eof,
      .crlf = c->crlf,
      /* -i is the idle timeout proper; -w doubles as one, as in nc. */
      .idle_timeout_ms = c->idle_ms ? c->idle_ms : c->wait_ms,
      .progress = c->progress,
      .verbose = c->verbose,
      .no_zero_copy = c->no_zero_copy,
      .quit_after_eof = c->quit_ms >= 0,
      .quit_after_eof_ms = c->quit_ms,
      .dgram_listen = c->udp && c->listen,
      .dgram_all_peers = c->udp && c->listen && c->keep,
      .acl = c->udp && c->listen ? &c->acl : NULL,
      .log = sk_outlog_active(&outlog) ? &outlog : NULL,
  };
  return o;
}

/* ---- the engine's loop, signals and log: main's ---- */

/* The engine's log callback: stderr, in the words each level asks for. */
static void on_log(void *ctx, sk_log_level_t level, const char *line) {
  (void)ctx;
  if (level == SK_LOG_NC)
    fprintf(stderr, "%s\n", line);
  else if (level == SK_LOG_PROGRESS)
    fputs(line, stderr);
  else
    fprintf(stderr, "sockit: %s\n", line);
  fflush(stderr);
}

static void on_signal(uv_signal_t *s, int signum) {
  sk_engine_stop(s->data, signum == SIGINT ? SK_STOP_SIGINT : SK_STOP_SIGTERM);
}

typedef struct job {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  sk_engine_t e;
  bool loop_ok, signals_ok;
} job_t;

/* The loop an engine mode runs on, with SIGINT and SIGTERM asking it to
 * stop (unreferenced: they do not keep the loop running). */
static int job_open(job_t *j, char *err, const char *name) {
  int rc = uv_loop_init(&j->loop);
  j->signals_ok = false;
  if (!(j->loop_ok = rc == 0))
    return setup_fail(err, rc, name, "event loop");
  sk_engine_init(&j->e, &j->loop, on_log, NULL);
  uv_signal_init(&j->loop, &j->sigint);
  uv_signal_init(&j->loop, &j->sigterm);
  j->signals_ok = true;
  j->sigint.data = j->sigterm.data = &j->e; /* the caller's: see engine.h */
  if ((rc = uv_signal_start(&j->sigint, on_signal, SIGINT)) < 0 ||
      (rc = uv_signal_start(&j->sigterm, on_signal, SIGTERM)) < 0)
    return setup_fail(err, rc, name, "signals");
  uv_unref((uv_handle_t *)&j->sigint);
  uv_unref((uv_handle_t *)&j->sigterm);
  return 0;
}

static void job_close(job_t *j) {
  if (!j->loop_ok)
    return;
  if (j->signals_ok) {
    uv_close((uv_handle_t *)&j->sigint, NULL);
    uv_close((uv_handle_t *)&j->sigterm, NULL);
  }
  uv_run(&j->loop, UV_RUN_DEFAULT);
  uv_loop_close(&j->loop);
}

/* A run's result as an exit code: its error on stderr, or its reason. */
static int job_exit(const job_t *j, int rc, const char *err) {
  if (rc < 0)
    return fail(SK_EXIT_ERROR, err);
  if (!j->loop_ok)
    return SK_EXIT_ERROR;
  if (j->e.reason == SK_STOP_SIGINT)
    return SK_EXIT_SIGINT;
  if (j->e.reason == SK_STOP_SIGTERM)
    return SK_EXIT_SIGTERM;
  return SK_EXIT_OK;
}

/* The peer is named while the socket still knows it: after a reset,
 * getpeername() fails, and the error line would not say who reset. */
static void peer_name(int fd, char *name, size_t n) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  name[0] = '\0';
  if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
    sk_sockaddr_format((struct sockaddr *)&ss, len, name, n);
}

/* ---- TLS: one context per run, one session per connection ---- */

/* --ssl's context for this side; NULL without --ssl. A file or key the
 * library refuses is a usage error, found before any connection. With
 * --to-ssl too (re-encryption), the listener has only its own options:
 * --ssl-cert/--ssl-key, --ssl-verify-client and its --ssl-trustfile
 * (args.c refuses what would be ambiguous). */
static int tls_setup(const cli_t *c, sk_tls_ctx_t **ctx, char *err) {
  sk_tls_opts_t o = {
      .role = c->listen ? SK_TLS_SERVER : SK_TLS_CLIENT,
      .trustfile = c->ssl_trustfile,
      .cert = c->ssl_cert,
      .key = c->ssl_key,
      .alpn = c->ssl_alpn,
      .verify_client = c->ssl_verify_client,
  };
  if (!c->to_ssl) {
    o.pin = c->ssl_pin;
    o.insecure = c->insecure;
    o.servername = c->ssl_servername;
  }
  if (c->listen && c->addr.kind == SK_ADDR_INET)
    o.ephemeral_host = c->addr.host;
  *ctx = NULL;
  if (!c->ssl)
    return 0;
  return sk_tls_ctx_new(err, ctx, &o);
}

/* --to-ssl: the context for every connection to the target, a client's,
 * verified by default against the system store (and --ssl-trustfile)
 * and the --to host. Without --ssl every --ssl-* option is the
 * target's; with it, only --ssl-pin, --insecure and --ssl-servername. */
static int tls_to_setup(const cli_t *c, sk_tls_ctx_t **ctx, char *err) {
  sk_tls_opts_t o = {
      .role = SK_TLS_CLIENT,
      .pin = c->ssl_pin,
      .insecure = c->insecure,
      .servername = c->ssl_servername,
  };
  if (!c->ssl) {
    o.trustfile = c->ssl_trustfile;
    o.cert = c->ssl_cert;
    o.key = c->ssl_key;
    o.alpn = c->ssl_alpn;
  }
  *ctx = NULL;
  if (!c->to_ssl)
    return 0;
  return sk_tls_ctx_new(err, ctx, &o);
}

/* --insecure: said every run, naming whose certificate goes unchecked. */
static void tls_insecure_warn(sk_tls_ctx_t *ctx, const char *whose) {
  if (ctx && sk_tls_ctx_insecure(ctx))
    fprintf(stderr, "sockit: warning: --insecure: the certificate of %s "
                    "is not verified; anyone on the path can read and "
                    "change the data\n",
            whose);
}

/* A session on fd for the relay; the client names the host it checks.
 * Returns 0 (and *t, NULL without --ssl) or -1 with the line in err. */
static int tls_session(const cli_t *c, sk_tls_ctx_t *ctx, int fd,
                       const char *peer, sk_tls_t **t, char *err) {
  *t = NULL;
  if (!ctx)
    return 0;
  const char *host = c->listen || c->addr.kind != SK_ADDR_INET
                         ? NULL
                         : c->addr.host;
  /* every time: it must not go unnoticed */
  tls_insecure_warn(ctx, peer[0] ? peer : c->addr.host);
  return sk_tls_new(err, t, ctx, fd, host, peer[0] ? peer : NULL) < 0 ? -1
                                                                      : 0;
}

/* -l --ssl without --ssl-cert: the certificate made at start, printed
 * with the one command line that connects to it safely (always, not
 * only with -v: the client needs it). */
static void tls_announce(const cli_t *c, sk_tls_ctx_t *ctx, int lfd) {
  char host[SK_ADDRSTR_LEN] = "127.0.0.1";
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int port = -1;
  if (!ctx || c->ssl_cert)
    return;
  const char *fp = sk_tls_ctx_fingerprint(ctx);
  if (c->addr.kind == SK_ADDR_UNIX) {
    sk_addr_format(&c->addr, host, sizeof host);
  } else {
    if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0)
      port = sk_sockaddr_host((struct sockaddr *)&ss, host, sizeof host);
    if (!c->addr.host[0]) /* an any address: this host, by loopback */
      snprintf(host, sizeof host, "%s",
               ss.ss_family == AF_INET6 && c->family == AF_INET6 ? "::1"
                                                                  : "127.0.0.1");
  }
  fprintf(stderr, "sockit: certificate %s; connect with: sockit --ssl "
                  "--ssl-pin %s %s%s",
          fp, fp, c->addr.kind == SK_ADDR_UNIX ? "-U " : "", host);
  if (port >= 0)
    fprintf(stderr, " %d", port);
  fputc('\n', stderr);
}

/* A TLS client's handshake: -w, or the engine's bound. */
static int tls_handshake_ms(const cli_t *c) {
  return c->wait_ms > 0 ? c->wait_ms : SK_ENGINE_HANDSHAKE_MS;
}

/* t: a session whose handshake is done (-l --ssl), or NULL: one made
 * here with ctx, the relay running the handshake. */
static int relay(const cli_t *c, int fd, const char *peer,
                 sk_tls_ctx_t *ctx, sk_tls_t *t) {
  char err[SK_ERR_LEN];
  sk_relay_opts_t o = relay_opts(c);
  o.peer_name = peer && peer[0] ? peer : NULL;
  if (!t && tls_session(c, ctx, fd, peer ? peer : "", &t, err) < 0) {
    close(fd);
    return fail(SK_EXIT_ERROR, err);
  }
  o.tls = t;
  if (t && !c->listen) /* a server that never answers cannot hang us */
    o.handshake_timeout_ms = tls_handshake_ms(c);
  job_t j;
  int rc = job_open(&j, err, "relay");
  if (rc == 0)
    rc = sk_relay_run(&j.e, err, fd, &o, NULL);
  close(fd);
  job_close(&j);
  sk_tls_free(t);
  return job_exit(&j, rc, err);
}

/* -z -u: what a probe learned, as the TCP scan prints it. */
typedef struct udp_scan {
  const cli_t *c;
  int maybe_open; /* open or open|filtered */
} udp_scan_t;

static void udp_scan_report(void *ctx, int port, int state) {
  static const char *const name[] = {"closed", "open", "open|filtered"};
  udp_scan_t *u = ctx;
  char where[SK_ADDRSTR_LEN];
  sk_addr_t a = u->c->addr;
  a.port = (uint16_t)port;
  sk_addr_format(&a, where, sizeof where);
  u->maybe_open += state > 0;
  if (state > 0)
    printf("%s %s\n", where, name[state]);
  else if (u->c->verbose)
    fprintf(stderr, "sockit: %s %s\n", where,
            state < 0 ? sk_strerror(state) : name[state]);
}

/* -z -u: probes go out in batches; 0 if any port may be open. */
static int udp_scan(const cli_t *c, const sk_sock_opts_t *o) {
  udp_scan_t u = {.c = c};
  sk_udp_probe_range(&c->addr, c->port_lo, c->port_hi, o,
                     c->wait_ms ? c->wait_ms : 1000, udp_scan_report, &u);
  return u.maybe_open ? SK_EXIT_OK : SK_EXIT_ERROR;
}

/* -z: connect to each port in the range and close; 0 if any is open. */
static int scan(cli_t *c) {
  char err[SK_ERR_LEN], where[SK_ADDRSTR_LEN];
  sk_sock_opts_t o = {.family = c->family,
                      .timeout_ms = c->wait_ms ? c->wait_ms : 3000};
  int open_ports = 0;
  if (c->udp)
    return udp_scan(c, &o);
  for (int port = c->port_lo; port <= c->port_hi; port++) {
    c->addr.port = (uint16_t)port;
    sk_addr_format(&c->addr, where, sizeof where);
    int fd = sk_tcp_connect(err, &c->addr, &o);
    if (fd >= 0) {
      notice_connected(c, fd, port);
      printf("%s open\n", where);
      close(fd);
      open_ports++;
    } else if (c->verbose) {
      fprintf(stderr, "sockit: %s\n", err);
    }
  }
  return open_ports ? SK_EXIT_OK : SK_EXIT_ERROR;
}

static sk_hub_opts_t hub_opts(const cli_t *c) {
  sk_hub_opts_t o = {
      .mode = c->chat ? SK_HUB_CHAT : c->broker ? SK_HUB_BROKER : SK_HUB_KEEP,
      .in_fd = c->recv_only ? -1 : STDIN_FILENO,
      /* As ncat: the broker reads the operator but prints nothing. */
      .out_fd = c->send_only || c->broker ? -1 : STDOUT_FILENO,
      .max_line = c->max_line,
      .max_queue = c->max_queue,
      .max_conns = c->max_conns,
      .idle_timeout_ms = c->idle_ms ? c->idle_ms : c->wait_ms,
      .acl = &c->acl,
      .verbose = c->verbose,
      .crlf = c->crlf,
      .history = c->history,
      .web_port = c->web_port,
      .web_host = c->addr.host[0] ? c->addr.host : NULL,
      .log = sk_outlog_active(&outlog) ? &outlog : NULL,
  };
  return o;
}

/* -k, --chat, --broker: limits that would drop healthy clients are a
 * usage error, found before anything listens. */
static bool hub_refused(const cli_t *c, char *err) {
  sk_hub_opts_t o = hub_opts(c);
  bool hub = c->listen && !c->udp && (c->keep || c->chat || c->broker);
  return hub && sk_hub_opts_check(err, &o) < 0;
}

/* Up to 20,000 clients need as many descriptors; the soft limit is often
 * 1,024 while the hard one allows far more. Process policy: main's. */
static void raise_nofile_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* Many clients on one loop: -k, --chat, --broker. */
static int serve_hub(const cli_t *c, int fd, sk_tls_ctx_t *ctx) {
  char err[SK_ERR_LEN];
  raise_nofile_limit();
  sk_hub_opts_t o = hub_opts(c);
  o.tls = ctx;
  o.federate = c->federate, o.federate_name = c->federate_name,
  o.federate_ttl = c->federate_ttl;
  job_t j;
  int rc = job_open(&j, err, "hub");
  if (rc == 0)
    rc = sk_hub_run(&j.e, err, fd, &o);
  job_close(&j);
  return job_exit(&j, rc, err);
}

/* Exec and forwarding: each client joined to its own program or
 * outbound connection (serve.h). */
static sk_serve_opts_t serve_opts(const cli_t *c) {
  sk_serve_opts_t o = {
      .file = c->exec_text ? c->exec_path : NULL,
      .argv = c->exec_argv,
      .to = &c->to,
      .connect_timeout_ms = c->wait_ms,
      .keep = c->keep || c->to_text,
      .max_clients = c->max_conns,
      .udp_idle_ms = c->idle_ms,
      .acl = &c->acl,
      .verbose = c->verbose,
      .relay = relay_opts(c),
  };
  /* -w is the outbound connect's bound here; -i alone is the idle one. */
  o.relay.idle_timeout_ms = c->udp ? 0 : c->idle_ms;
  o.relay.quit_after_eof = false;
  o.relay.dgram_listen = o.relay.dgram_all_peers = false;
  o.relay.acl = NULL;
  /* Many relays: no totals per relay (-v says who connected and what
   * failed); one exec relay keeps nc's -v totals. */
  o.relay.verbose = c->verbose && c->exec_text && !c->keep;
  return o;
}

/* The exit code of a serve run: its error, a failed child or connection
 * (1), a signal, or 0. */
static int serve_exit(const job_t *j, int rc, const char *err, bool failed) {
  int code = job_exit(j, rc, err);
  return code == SK_EXIT_OK && failed ? SK_EXIT_ERROR : code;
}

/* lfd listening, or fd (>= 0, lfd -1) connected: exec or forwarding;
 * ctx: --ssl's on the client socket (or the connected one), to_ctx:
 * --to-ssl's. */
static int serve(const cli_t *c, int lfd, int fd, sk_tls_ctx_t *ctx,
                 sk_tls_ctx_t *to_ctx) {
  char err[SK_ERR_LEN];
  bool failed = false;
  sk_serve_opts_t o = serve_opts(c);
  o.tls = ctx;
  o.tls_host = lfd < 0 && c->addr.kind == SK_ADDR_INET ? c->addr.host : NULL;
  o.to_tls = to_ctx;
  job_t j;
  raise_nofile_limit();
  int rc = job_open(&j, err, c->exec_text ? "exec" : "forward");
  if (rc == 0 && c->udp)
    rc = sk_serve_udp(&j.e, err, lfd, &o);
  else if (rc == 0 && lfd >= 0)
    rc = sk_serve_run(&j.e, err, lfd, &o, &failed);
  else if (rc == 0)
    rc = sk_serve_fd(&j.e, err, fd, &o, &failed);
  job_close(&j);
  return serve_exit(&j, rc, err, failed);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signum) {
  stop_signal = signum;
}

/* While the one-client listener waits (for a client, then for its TLS
 * handshake), SIGINT and SIGTERM are blocked but caught: ppoll unblocks
 * them only while waiting, so none can slip in between and kill the
 * run before the listener has cleaned up (a Unix socket's file). */
typedef struct stops {
  sigset_t orig;
  struct sigaction old_int, old_term;
} stops_t;

static void stops_catch(stops_t *s) {
  struct sigaction on = {.sa_handler = on_stop_signal};
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigprocmask(SIG_BLOCK, &stops, &s->orig);
  sigaction(SIGINT, &on, &s->old_int);
  sigaction(SIGTERM, &on, &s->old_term);
}

/* A signal still pending comes now, to on_stop_signal. */
static void stops_release(stops_t *s) {
  sigprocmask(SIG_SETMASK, &s->orig, NULL);
  sigaction(SIGINT, &s->old_int, NULL);
  sigaction(SIGTERM, &s->old_term, NULL);
}

/* Waits until fd has events (ms: the bound, -1 none); returns 0, or the
 * signal that came first (SIGINT, SIGTERM). Within stops_catch. */
static int fd_wait(const stops_t *s, int fd, short events, int ms) {
  struct pollfd p = {.fd = fd, .events = events};
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};
  while (!stop_signal && ppoll(&p, 1, ms < 0 ? NULL : &ts, &s->orig) < 0 &&
         errno == EINTR)
    ;
  return stop_signal;
}

/* Waits for one permitted client; returns its descriptor, or a negative
 * code (-EINTR when stop_signal ended the wait). */
static int accept_one(const cli_t *c, const stops_t *s, int lfd, char *err,
                      char name[SK_ADDRSTR_LEN]) {
  struct sockaddr_storage peer;
  socklen_t len;
  for (;;) {
    if (fd_wait(s, lfd, POLLIN, -1))
      return -EINTR;
    int fd = sk_accept(err, lfd, &peer, &len);
    if (fd < 0)
      return fd;
    sk_sockaddr_format((struct sockaddr *)&peer, len, name, SK_ADDRSTR_LEN);
    if (sk_acl_permits(&c->acl, (struct sockaddr *)&peer)) {
      notice_endpoint(c, "Connection received on", (struct sockaddr *)&peer);
      return fd;
    }
    notice(c, "refused (--allow/--deny)", name);
    close(fd);
  }
}

/* How long a -l --ssl client's handshake may take: the engine's bound,
 * with the relay's idle time (-i, else -w). */
static int tls_accept_limit(const cli_t *c) {
  return sk_engine_handshake_ms(c->idle_ms ? c->idle_ms : c->wait_ms);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -l --ssl: fd's handshake, before the relay, on a non-blocking socket
 * within tls_accept_limit. Returns 0 (fd blocking again), -1 with the
 * refusal in err, or -EINTR (a stop signal came). */
static int tls_accept(const cli_t *c, const stops_t *s, int fd, sk_tls_t *t,
                      const char *peer, char *err) {
  int limit = tls_accept_limit(c), rc;
  int64_t deadline = now_ms() + limit;
  sk_fd_set_nonblock(fd, true);
  while ((rc = sk_tls_handshake(err, t)) == SK_TLS_WANT_READ ||
         rc == SK_TLS_WANT_WRITE) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      snprintf(err, SK_ERR_LEN, "TLS handshake with %.200s: no answer for "
               "%d ms", peer, limit);
      return -1;
    }
    if (fd_wait(s, fd, rc == SK_TLS_WANT_READ ? POLLIN : POLLOUT, (int)left))
      return -EINTR;
  }
  sk_fd_set_nonblock(fd, false);
  return rc < 0 ? -1 : 0;
}

/* -l without -k: the first permitted client, and with --ssl the first
 * whose handshake completes; one that fails it (a wrong pin, plaintext,
 * a port probe, silence) is closed with one line, as -k -v says it, and
 * the listener waits on: the printed pin stays good for a retry. */
static int accept_handshaken(const cli_t *c, const stops_t *s, int lfd,
                             sk_tls_ctx_t *ctx, char *err,
                             char peer[SK_ADDRSTR_LEN], sk_tls_t **t) {
  for (;;) {
    int fd = accept_one(c, s, lfd, err, peer);
    if (fd < 0 || !ctx)
      return fd;
    if (tls_session(c, ctx, fd, peer, t, err) < 0) {
      close(fd);
      return -1;
    }
    int rc = tls_accept(c, s, fd, *t, peer, err);
    if (rc == 0)
      return fd;
    sk_tls_free(*t);
    *t = NULL;
    close(fd);
    if (rc == -EINTR)
      return rc;
    fprintf(stderr, "sockit: %s\n", err);
  }
}

/* Returns the client's descriptor (and *t, its session with --ssl), or
 * a negative code (-EINTR when stop_signal ended the wait). */
static int accept_client(const cli_t *c, int lfd, sk_tls_ctx_t *ctx,
                         char *err, char peer[SK_ADDRSTR_LEN], sk_tls_t **t) {
  stops_t s;
  stops_catch(&s);
  int fd = accept_handshaken(c, &s, lfd, ctx, err, peer, t);
  stops_release(&s);
  if (fd >= 0 && stop_signal) { /* came while it was blocked */
    sk_tls_free(*t);
    *t = NULL;
    close(fd);
    return -EINTR;
  }
  return fd;
}

static void listener_close(const cli_t *c, int lfd) {
  close(lfd);
  if (c->addr.kind == SK_ADDR_UNIX && !c->addr.abstract)
    unlink(c->addr.path); /* ours: leave no socket file behind */
}

static int listen_and_serve(const cli_t *c, sk_tls_ctx_t *ctx,
                            sk_tls_ctx_t *to_ctx) {
  char err[SK_ERR_LEN];
  sk_sock_opts_t o = {.family = c->family, .mcast = &c->mcast};
  int rc, lfd = sk_socket_open(err, &c->addr, socktype(c), SK_SOCK_LISTEN, &o);
  if (lfd < 0)
    return fail(SK_EXIT_ERROR, err);
  notice_listening(c, lfd);
  tls_announce(c, ctx, lfd);
  if (c->exec_text || c->to_text) {
    tls_insecure_warn(to_ctx, c->to_text); /* once: one target */
    rc = serve(c, lfd, -1, ctx, to_ctx);
  } else if (c->udp) {
    rc = relay(c, dup(lfd), NULL, NULL, NULL);
  } else if (c->keep || c->chat || c->broker) {
    rc = serve_hub(c, lfd, ctx);
  } else {
    char peer[SK_ADDRSTR_LEN];
    sk_tls_t *t = NULL;
    int fd = accept_client(c, lfd, ctx, err, peer, &t);
    listener_close(c, lfd); /* nc serves one client, then stops listening */
    if (stop_signal)
      return 128 + stop_signal; /* stopped while waiting: 130, 143 */
    return fd < 0 ? fail(SK_EXIT_ERROR, err) : relay(c, fd, peer, ctx, t);
  }
  listener_close(c, lfd);
  return rc;
}

/* -s/-p of a client: the local address to bind before connecting; for a
 * Unix datagram client (-u -U), -s PATH is the path replies come to. */
static int source_parse(const cli_t *c, sk_addr_t *src, char *err) {
  const char *s = c->source_host;
  if (c->unix_sock)
    return sk_addr_set_unix(err, src, strncmp(s, "unix:", 5) ? s : s + 5);
  return sk_addr_set_inet(err, src, s, c->source_port ? c->source_port : "0",
                          SK_ADDR_PORT_ZERO | cli_addr_flags(c));
}

/* The connect step: straight to the target, or through the proxy. */
static int target_open(const cli_t *c, const sk_sock_opts_t *o, char *err) {
  if (c->proxy.type == SK_PROXY_NONE)
    return sk_socket_open(err, &c->addr, socktype(c), SK_SOCK_CONNECT, o);
  return sk_proxy_connect(err, &c->proxy, &c->addr, o);
}

static void on_sigcont(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  sk_chat_client_resumed();
}

/* fg after Ctrl-Z: the line editor takes the terminal back (the shell
 * set its own mode meanwhile). Unreferenced, as SIGINT's watcher. */
static int resume_watch(job_t *j, uv_signal_t *s, char *err) {
  uv_signal_init(&j->loop, s); /* cannot fail on Linux */
  s->data = &j->e; /* the caller's: the engine's teardown leaves it */
  int rc = uv_signal_start(s, on_sigcont, SIGCONT);
  if (rc == 0)
    uv_unref((uv_handle_t *)s);
  return rc < 0 ? setup_fail(err, rc, "chat", "signals") : 0;
}

/* --chat HOST PORT: the chat client on the connected fd (--ssl: a
 * session on it, verified as the relay's). */
static int chat_client(const cli_t *c, int fd, const char *peer,
                       sk_tls_ctx_t *ctx) {
  char err[SK_ERR_LEN];
  sk_tls_t *t;
  if (tls_session(c, ctx, fd, peer, &t, err) < 0) {
    close(fd);
    return fail(SK_EXIT_ERROR, err);
  }
  job_t j;
  uv_signal_t sigcont;
  /* The chat client's line editor measures and shows what is typed in
   * the user's character set: the process's locale is main's to set. */
  setlocale(LC_CTYPE, "");
  int rc = job_open(&j, err, "chat");
  bool watching = rc == 0;
  if (rc == 0)
    rc = resume_watch(&j, &sigcont, err);
  if (rc == 0)
    rc = sk_chat_client_run(&j.e, err, fd, t, STDIN_FILENO, STDOUT_FILENO,
                            t ? tls_handshake_ms(c) : 0);
  close(fd);
  if (watching) /* initialised by resume_watch, even when it failed */
    uv_close((uv_handle_t *)&sigcont, NULL);
  job_close(&j);
  sk_tls_free(t);
  return job_exit(&j, rc, err);
}

static int connect_and_relay(const cli_t *c, sk_tls_ctx_t *ctx) {
  char err[SK_ERR_LEN];
  sk_addr_t source;
  sk_sock_opts_t o = {.family = c->family, .timeout_ms = c->wait_ms,
                      .mcast = &c->mcast};
  if (c->source_host || c->source_port) {
    if (source_parse(c, &source, err) < 0)
      return fail(SK_EXIT_USAGE, err);
    o.source = &source;
  }
  int fd = target_open(c, &o, err);
  if (fd < 0)
    return fail(SK_EXIT_ERROR, err);
  char peer[SK_ADDRSTR_LEN];
  peer_name(fd, peer, sizeof peer);
  notice_connected(c, fd, c->addr.port);
  if (c->exec_text) {
    tls_insecure_warn(ctx, peer[0] ? peer : c->addr.host);
    int rc = serve(c, -1, fd, ctx, NULL);
    close(fd);
    return rc;
  }
  if (!c->chat) {
    int rc = relay(c, fd, peer, ctx, NULL);
    if (o.source && source.kind == SK_ADDR_UNIX && !source.abstract)
      unlink(source.path); /* bound by us for the replies: leave nothing */
    return rc;
  }
  return chat_client(c, fd, peer, ctx);
}

int main(int argc, char **argv) {
  char err[SK_ERR_LEN];
  cli_t c;
  if (argc > 1 && strcmp(argv[1], "ping") == 0)
    return ping_main(argc - 1, argv + 1);
  /* A closed standard descriptor must not be taken by our socket, or
   * the relay would send the peer's bytes back to it. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
      return SK_EXIT_ERROR;
  int action = cli_parse(&c, argc, argv, err);
  if (action < 0)
    return fail(SK_EXIT_USAGE, err);
  if (action == CLI_HELP)
    return fputs(cli_usage, stdout) < 0 ? SK_EXIT_ERROR : SK_EXIT_OK;
  if (action == CLI_VERSION)
    return printf("sockit %s (%s)\n", SOCKIT_VERSION, CLI_LICENSE) < 0
               ? SK_EXIT_ERROR
               : 0;
  if (hub_refused(&c, err))
    return fail(SK_EXIT_USAGE, err);
  /* A peer or reader that closes early must cost an EPIPE, not the
   * process; the library sets no such policy, main does. */
  signal(SIGPIPE, SIG_IGN);
  if ((c.output_path || c.hexdump_path) &&
      sk_outlog_open(&outlog, err, c.output_path, c.hexdump_path,
                     c.append_output) < 0)
    return fail(SK_EXIT_ERROR, err);
  if (c.scan)
    return scan(&c);
  sk_tls_ctx_t *ctx, *to_ctx = NULL;
  if (tls_setup(&c, &ctx, err) < 0 || tls_to_setup(&c, &to_ctx, err) < 0) {
    sk_tls_ctx_free(ctx);
    return fail(SK_EXIT_USAGE, err);
  }
  int rc = c.listen ? listen_and_serve(&c, ctx, to_ctx)
                    : connect_and_relay(&c, ctx);
  sk_tls_ctx_free(ctx);
  sk_tls_ctx_free(to_ctx);
  return rc;
}
