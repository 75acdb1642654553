/* sockit command: argument parsing and every flag conflict, in one place. */
#include <getopt.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_usage[] =
    "usage: sockit [options] host port       connect and relay stdin/stdout\n"
    "       sockit -l [options] [host] port  listen for one client (-k: many)\n"
    "       sockit -U [-l] [options] path    Unix socket (unix:@name: "
    "abstract)\n"
    "       sockit -z [-v] host port[-port]  report which ports are open\n"
    "       sockit --chat -l [host] port     chat server; --chat host port: "
    "client\n"
    "       sockit --broker -l [host] port   relay each client to all others\n"
    "       sockit ping [options] host       ICMP echo (sockit ping -h)\n"
    "\n"
    "  -4, -6             IPv4 or IPv6 only\n"
    "  -l, --listen       listen instead of connecting\n"
    "  -k, --keep-open    serve many clients at once: stdin to all of them\n"
    "  -u, --udp          UDP datagrams instead of TCP\n"
    "  -U, --unixsock     Unix domain socket\n"
    "  -p PORT            source port (with -l: the port to listen on)\n"
    "  -s ADDR            source address (with -l: the address to listen on)\n"
    "  -w SECS            connect timeout, and idle timeout of the relay\n"
    "  -N                 shut down the sending side after stdin EOF\n"
    "  -C, --crlf         send each LF as CRLF\n"
    "  -z                 scan: connect and close, no data\n"
    "  -v, --verbose      connection notices and byte counts on stderr\n"
    "  --send-only        only send; quit after stdin EOF\n"
    "  --recv-only        only receive; ignore stdin\n"
    "  -m, --max-conns N  at most N clients at once (-k, --chat, --broker)\n"
    "  -i SECS            close a client idle for SECS (-k, --chat, --broker)\n"
    "  --allow ADDR[/N]   accept only these peers (repeatable)\n"
    "  --deny ADDR[/N]    refuse these peers (repeatable)\n"
    "  --max-line BYTES   chat: longest line (default 4096)\n"
    "  --max-queue BYTES  per-client output queue (default 1M)\n"
    "  --progress         bytes and rate on stderr once a second\n"
    "  --no-splice        plain read/write, no splice/sendfile\n"
    "  --mcast-join G[,IF] -u: join multicast group G (on interface IF)\n"
    "  --mcast-ttl N      -u: multicast TTL / hop limit (0..255)\n"
    "  --mcast-loop on|off -u: our own multicast back to this host\n"
    "  --mcast-if IFACE   -u: send multicast through IFACE\n"
    "  -b, --broadcast    -u: allow sending to a broadcast address\n"
    "  -h, --help         this help;  -V, --version  the version\n"
    "\n"
    "exit: 0 success, 1 runtime error, 2 usage error, 130/143 on "
    "SIGINT/SIGTERM\n";

enum {
  OPT_SEND_ONLY = 256,
  OPT_RECV_ONLY,
  OPT_CHAT,
  OPT_BROKER,
  OPT_ALLOW,
  OPT_DENY,
  OPT_MAX_LINE,
  OPT_MAX_QUEUE,
  OPT_PROGRESS,
  OPT_NO_SPLICE,
  OPT_MCAST_JOIN,
  OPT_MCAST_TTL,
  OPT_MCAST_LOOP,
  OPT_MCAST_IF,
};

static const struct option long_options[] = {
    {"listen", no_argument, NULL, 'l'},
    {"keep-open", no_argument, NULL, 'k'},
    {"udp", no_argument, NULL, 'u'},
    {"unixsock", no_argument, NULL, 'U'},
    {"verbose", no_argument, NULL, 'v'},
    {"wait", required_argument, NULL, 'w'},
    {"crlf", no_argument, NULL, 'C'},
    {"source", required_argument, NULL, 's'},
    {"source-port", required_argument, NULL, 'p'},
    {"max-conns", required_argument, NULL, 'm'},
    {"idle-timeout", required_argument, NULL, 'i'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"send-only", no_argument, NULL, OPT_SEND_ONLY},
    {"recv-only", no_argument, NULL, OPT_RECV_ONLY},
    {"chat", no_argument, NULL, OPT_CHAT},
    {"broker", no_argument, NULL, OPT_BROKER},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"deny", required_argument, NULL, OPT_DENY},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-splice", no_argument, NULL, OPT_NO_SPLICE},
    {"mcast-join", required_argument, NULL, OPT_MCAST_JOIN},
    {"mcast-ttl", required_argument, NULL, OPT_MCAST_TTL},
    {"mcast-loop", required_argument, NULL, OPT_MCAST_LOOP},
    {"broadcast", no_argument, NULL, 'b'},
    {"mcast-if", required_argument, NULL, OPT_MCAST_IF},
    {NULL, 0, NULL, 0},
};

static int usage_error(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, SK_ERR_LEN, fmt, ap);
  va_end(ap);
  return -1;
}

/* Parses a decimal integer in [min, max], with an optional K/M/G suffix
 * when scale is set. Returns 0 and *out, or -1 with a message. */
static int number_parse(char *err, const char *flag, const char *text,
                        long long min, long long max, bool scale,
                        long long *out) {
  char *end;
  long long v;
  if (text[0] < '0' || text[0] > '9')
    goto bad;
  v = strtoll(text, &end, 10);
  if (scale && *end && !end[1]) {
    const char *units = "KMG";
    const char *u = strchr(units, *end);
    for (int i = u ? (int)(u - units) + 1 : 0; i > 0 && v <= max; i--)
      v *= 1024;
    end += u != NULL;
  }
  if (*end || v < min || v > max)
    goto bad;
  *out = v;
  return 0;
bad:
  return usage_error(err, "%s \"%.64s\" is not an integer in %lld..%lld%s",
                     flag, text, min, max, scale ? " (K, M, G allowed)" : "");
}

static int seconds_parse(char *err, const char *flag, const char *text,
                         int *ms) {
  long long v;
  if (number_parse(err, flag, text, 1, 86400, false, &v) < 0)
    return -1;
  *ms = (int)v * 1000;
  return 0;
}

/* --mcast-join, --mcast-ttl, --mcast-loop, --mcast-if, -b; 0 or -1. */
static int mcast_option_apply(cli_t *c, int opt, const char *arg,
                              char *err) {
  struct sockaddr_storage group;
  unsigned ifindex;
  long long v;
  switch (opt) {
  case 'b': c->mcast.broadcast = true; return 0;
  case OPT_MCAST_JOIN:
    c->mcast.join = arg;
    if (sk_mcast_group_parse(err, arg, &group, &ifindex) < 0)
      return -1;
    /* A group's datagrams come in its own family: no dual-stack socket. */
    if (c->family == AF_UNSPEC)
      c->family = group.ss_family;
    return 0;
  case OPT_MCAST_TTL:
    if (number_parse(err, "mcast-ttl", arg, 0, 255, false, &v) < 0)
      return -1;
    c->mcast.ttl = (int)v;
    c->mcast.ttl_set = true;
    return 0;
  case OPT_MCAST_LOOP:
    if (strcmp(arg, "on") && strcmp(arg, "off"))
      return usage_error(err, "mcast-loop \"%.32s\" is not on or off", arg);
    c->mcast.loop = strcmp(arg, "on") == 0;
    c->mcast.loop_set = true;
    return 0;
  case OPT_MCAST_IF:
    c->mcast.iface = arg;
    if (!if_nametoindex(arg))
      return usage_error(err, "no network interface \"%.32s\"", arg);
    return 0;
  }
  return -1;
}

/* Applies one option; returns 0, CLI_HELP / CLI_VERSION, or -1. */
static int option_apply(cli_t *c, int opt, const char *arg, char *err) {
  long long v;
  switch (opt) {
  case '4': c->family = AF_INET; break;
  case '6': c->family = AF_INET6; break;
  case 'C': c->crlf = true; break;
  case 'k': c->keep = true; break;
  case 'l': c->listen = true; break;
  case 'N': c->shutdown_on_eof = true; break;
  case 'u': c->udp = true; break;
  case 'U': c->unix_sock = true; break;
  case 'v': c->verbose = true; break;
  case 'z': c->scan = true; break;
  case 'p': c->source_port = arg; break;
  case 's': c->source_host = arg; break;
  case 'w': return seconds_parse(err, "timeout", arg, &c->wait_ms);
  case 'i': return seconds_parse(err, "idle timeout", arg, &c->idle_ms);
  case 'm':
    if (number_parse(err, "max-conns", arg, 1, 1000000, false, &v) < 0)
      return -1;
    c->max_conns = (int)v;
    break;
  case OPT_MAX_LINE:
    if (number_parse(err, "max-line", arg, 16, 1 << 20, true, &v) < 0)
      return -1;
    c->max_line = (size_t)v;
    break;
  case OPT_MAX_QUEUE:
    if (number_parse(err, "max-queue", arg, 4096, 1LL << 30, true, &v) < 0)
      return -1;
    c->max_queue = (size_t)v;
    break;
  case OPT_ALLOW:
  case OPT_DENY:
    return sk_acl_add(err, &c->acl, arg, opt == OPT_ALLOW) < 0 ? -1 : 0;
  case OPT_SEND_ONLY: c->send_only = true; break;
  case OPT_RECV_ONLY: c->recv_only = true; break;
  case OPT_CHAT: c->chat = true; break;
  case OPT_BROKER: c->broker = true; break;
  case OPT_PROGRESS: c->progress = true; break;
  case OPT_NO_SPLICE: c->no_zero_copy = true; break;
  case 'h': return CLI_HELP;
  case 'V': return CLI_VERSION;
  default: return mcast_option_apply(c, opt, arg, err);
  }
  return 0;
}

static int mcast_conflicts_check(const cli_t *c, char *err) {
  const sk_mcast_t *m = &c->mcast;
  bool any = m->join || m->ttl_set || m->loop_set || m->broadcast ||
             m->iface;
  if (any && (!c->udp || c->unix_sock || c->scan))
    return usage_error(err, "--mcast-* and -b need -u (and no -U or -z)");
  if (m->join && !c->listen)
    return usage_error(err, "--mcast-join needs -l: a client's connected "
                            "socket takes datagrams from its peer only");
  return 0;
}

/* Every combination that cannot work, checked once, before any I/O. */
static int conflicts_check(const cli_t *c, char *err) {
  bool hub = c->keep || c->chat || c->broker;
  if (c->family == AF_INET && c->unix_sock)
    return usage_error(err, "cannot use -4 with -U");
  if (c->family == AF_INET6 && c->unix_sock)
    return usage_error(err, "cannot use -6 with -U");
  if (c->listen && c->scan)
    return usage_error(err, "cannot use -l with -z");
  if (c->udp && c->shutdown_on_eof)
    return usage_error(err, "cannot use -N with -u: UDP has no half-close");
  if (c->send_only && c->recv_only)
    return usage_error(err, "cannot use --send-only with --recv-only");
  if (c->chat && c->broker)
    return usage_error(err, "cannot use --chat with --broker");
  if ((c->chat || c->broker) && c->udp)
    return usage_error(err, "cannot use --%s with -u: it needs streams",
                       c->chat ? "chat" : "broker");
  if ((c->keep || c->broker) && !c->listen)
    return usage_error(err, "-%s needs -l", c->keep ? "k" : "-broker");
  if (!c->listen && (c->max_conns || c->idle_ms || c->acl.n_allow ||
                     c->acl.n_deny))
    return usage_error(err, "-m, -i, --allow and --deny need -l");
  if (c->listen && !hub && !c->udp && (c->max_conns || c->idle_ms))
    return usage_error(err, "-m and -i need -k, --chat or --broker");
  if (c->unix_sock && c->source_port)
    return usage_error(err, "cannot use -p with -U");
  if (c->scan && (c->chat || c->send_only || c->recv_only))
    return usage_error(err, "cannot use -z with a data option");
  return mcast_conflicts_check(c, err);
}

/* "20-30" (with -z) or one port; fills the scan range. */
static int range_parse(cli_t *c, const char *text, char *err) {
  char lo[16];
  const char *dash = strchr(text, '-');
  size_t n = dash ? (size_t)(dash - text) : 0;
  if (!dash || n == 0 || n >= sizeof lo) {
    c->port_lo = c->port_hi = sk_port_parse(err, text, 0);
    return c->port_lo < 0 ? -1 : 0;
  }
  memcpy(lo, text, n);
  lo[n] = '\0';
  if ((c->port_lo = sk_port_parse(err, lo, 0)) < 0 ||
      (c->port_hi = sk_port_parse(err, dash + 1, 0)) < 0)
    return -1;
  if (c->port_lo > c->port_hi)
    return usage_error(err, "port range \"%.32s\" ends before it starts", text);
  return 0;
}

static int unix_target_parse(cli_t *c, int n, char **pos, char *err) {
  if (n != 1)
    return usage_error(err, n ? "-U takes one path, not %d arguments"
                              : "missing Unix socket path%.0d",
                       n);
  const char *path = strncmp(pos[0], "unix:", 5) ? pos[0] : pos[0] + 5;
  return sk_addr_set_unix(err, &c->addr, path);
}

/* One "host:port" form: [v6]:port, unix:/path, or (with -l) a port. */
static int single_target_parse(cli_t *c, const char *text, char *err) {
  int flags = c->listen ? SK_ADDR_PORT_ZERO : 0;
  if (sk_addr_parse(err, &c->addr, text, flags) < 0)
    return -1;
  c->unix_sock = c->addr.kind == SK_ADDR_UNIX;
  if (!c->listen && !c->unix_sock && !c->addr.host[0])
    return usage_error(err, "missing host; usage: sockit host port");
  c->port_lo = c->port_hi = c->addr.port;
  return 0;
}

static int target_parse(cli_t *c, int n, char **pos, char *err) {
  const char *host = NULL, *port = NULL;
  if (c->unix_sock)
    return unix_target_parse(c, n, pos, err);
  if (n > 2)
    return usage_error(err, "too many arguments, starting at \"%.64s\"",
                       pos[2]);
  if (n == 1 && !(c->listen && !strpbrk(pos[0], ":[")))
    return single_target_parse(c, pos[0], err);
  if (n == 2) {
    host = pos[0];
    port = pos[1];
  } else if (n == 1) {
    port = pos[0];
  }
  if (c->listen) {
    host = host ? host : c->source_host;
    port = port ? port : c->source_port;
  }
  if (!port)
    return usage_error(err, "missing port; usage: sockit host port, or "
                            "sockit -l port");
  if (!host && !c->listen)
    return usage_error(err, "missing host; usage: sockit host port");
  if (c->scan && range_parse(c, port, err) < 0)
    return -1;
  return sk_addr_set_inet(err, &c->addr, host, c->scan ? "1" : port,
                          c->listen ? SK_ADDR_PORT_ZERO : 0);
}

static int unknown_option(char *err, const char *text) {
  if (text[0] == '-' && text[1] >= '0' && text[1] <= '9')
    return usage_error(err, "\"%.32s\" is not an option; a port is an "
                            "integer in 1..65535",
                       text);
  return usage_error(err, "unknown option \"%.64s\"; see sockit --help", text);
}

int cli_parse(cli_t *c, int argc, char **argv, char *err) {
  int opt, rc;
  memset(c, 0, sizeof *c);
  c->family = AF_UNSPEC;
  opterr = 0;
  optind = 1;
  while ((opt = getopt_long(argc, argv, ":46bCdhi:klm:Np:s:uUvVw:z",
                            long_options, NULL)) != -1) {
    if (opt == '?')
      return unknown_option(err, argv[optind - 1]);
    if (opt == ':')
      return usage_error(err, "option \"%.64s\" needs a value",
                         argv[optind - 1]);
    if (opt == 'd')
      opt = OPT_RECV_ONLY; /* nc -d: do not read stdin */
    if ((rc = option_apply(c, opt, optarg, err)) != 0)
      return rc;
  }
  if (conflicts_check(c, err) < 0 ||
      target_parse(c, argc - optind, argv + optind, err) < 0)
    return -1;
  return CLI_RUN;
}
