/* sockit command: argument parsing and every flag conflict, in one place. */
#include <errno.h>
#include <ctype.h>
#include <getopt.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "hub.h" /* sk_hub_federate_check */

const char cli_usage[] =
    "usage: sockit [options] host port       connect and relay stdin/stdout\n"
    "       sockit -l [options] [host] port  listen for one client (-k: many)\n"
    "       sockit -U [-l] [options] path    Unix socket (unix:@name: "
    "abstract)\n"
    "       sockit -z [-v] host port[-port]  report which ports are open\n"
    "       sockit --chat -l [host] port     chat server; --chat host port: "
    "client\n"
    "       sockit --broker -l [host] port   relay each client to all others\n"
    "       sockit -l [-k] -e PROG [host] port run PROG for each client "
    "(-c: sh -c)\n"
    "       sockit -l port --to host:port    forward each client (TCP, "
    "Unix, UDP)\n"
    "       sockit ping [options] host       ICMP echo (sockit ping -h)\n"
    "\n"
    "  -4, -6             IPv4 or IPv6 only\n"
    "  -l, --listen       listen instead of connecting\n"
    "  -k, --keep-open    serve many clients at once: stdin to all of them\n"
    "  -u, --udp          UDP datagrams instead of TCP\n"
    "  -U, --unixsock     Unix domain socket\n"
    "  -n, --nodns        numeric addresses and ports only: no DNS lookup\n"
    "  -p PORT            source port (with -l: the port to listen on)\n"
    "  -s ADDR            source address (with -l: the address to listen on;\n"
    "                     with -u -U: the path a datagram client binds)\n"
    "  -w SECS            connect timeout, and idle timeout of the relay\n"
    "  -q SECS            quit SECS after stdin EOF (0: at once; -1: never)\n"
    "  -N                 shut down the sending side after stdin EOF\n"
    "  -q SECS            quit SECS after stdin EOF (0: at once; <0: never)\n"
    "  -C, --crlf         send each LF as CRLF\n"
    "  -z                 scan: connect and close, no data\n"
    "  -v, --verbose      connection notices and byte counts on stderr\n"
    "  --send-only        only send; quit after stdin EOF\n"
    "  --recv-only        only receive; ignore stdin\n"
    "  -m, --max-conns N  at most N clients at once (-k, --chat, --broker)\n"
    "  -i SECS            idle timeout: close a connection (a client of -k,\n"
    "                     --chat, --broker) with no traffic for SECS\n"
    "  --allow ADDR[/N]   accept only these peers (repeatable)\n"
    "  --deny ADDR[/N]    refuse these peers (repeatable)\n"
    "  --max-line BYTES   chat: longest line (default 4096)\n"
    "  --max-queue BYTES  per-client output queue (default 1M)\n"
    "  --history N        chat: a joiner gets its room's last N lines\n"
    "                     (0..1000, default 0)\n"
    "  --federate redis://[:PASS@]HOST:PORT[/DB]  chat: one chat across\n"
    "                     servers through Redis (--federate-name NAME,\n"
    "                     --federate-ttl SECS: default host:port, 10);\n"
    "                     rediss://...[?cacert=FILE|?pin=sha256:HEX]: TLS\n"
    "  --web PORT         chat: also serve the room to browsers on PORT\n"
    "                     (https and wss with --ssl, same certificate)\n"
    "  --progress         bytes and rate on stderr once a second\n"
    "  --no-splice        plain read/write, no splice/sendfile\n"
    "  --proxy ADDR       connect through a proxy at HOST[:PORT] (nc: -x)\n"
    "  --proxy-type TYPE  socks4, socks5 or http (-X 4|5|connect)\n"
    "  --proxy-auth U:P   proxy user and password (socks4: a user id)\n"
    "  --mcast-join G[,IF] -u: join multicast group G (on interface IF)\n"
    "  --mcast-ttl N      -u: multicast TTL / hop limit (0..255)\n"
    "  --mcast-loop on|off -u: our own multicast back to this host\n"
    "  --mcast-if IFACE   -u: send multicast through IFACE\n"
    "  -b, --broadcast    -u: allow sending to a broadcast address\n"
    "  --ssl, --tls       TLS: the client verifies the server's certificate\n"
    "                     (system CAs + host name); -l --ssl without a\n"
    "                     certificate makes one and prints its pin\n"
    "  --ssl-trustfile F  CAs to trust besides the system's (-l: the CAs of\n"
    "                     client certificates, with --ssl-verify-client)\n"
    "  --ssl-pin sha256:HEX  accept exactly the certificate with this hash\n"
    "  --insecure         accept any certificate (says so on stderr)\n"
    "  --ssl-cert F, --ssl-key F  our certificate and key (PEM)\n"
    "  --ssl-alpn LIST    ALPN protocols, comma-separated (h2,http/1.1)\n"
    "  --ssl-servername N the name sent (SNI) and checked, not the host\n"
    "  --ssl-verify-client  -l: require a client certificate signed by\n"
    "                     --ssl-trustfile\n"
    "  -e, --exec PROG    run PROG (--exec \"PROG ARGS\": split on blanks, no "
    "shell)\n"
    "                     with the connection as its stdin and stdout\n"
    "  -c, --sh-exec CMD  the same with /bin/sh -c CMD\n"
    "  --to ADDR          -l: forward each client to host:port, [v6]:port,\n"
    "                     unix:/path or unix:@name (-w: connect timeout)\n"
    "  --to-ssl           TLS to the --to target, verified (system CAs +\n"
    "                     the --to host); the --ssl-* options are then the\n"
    "                     target's (with --ssl too: --ssl-pin, --insecure,\n"
    "                     --ssl-servername; the rest are the listener's)\n"
    "  -o, --output FILE  log every byte sent and received to FILE\n"
    "  --hex-dump FILE    the same as a hex dump\n"
    "  --append-output    append to the logs instead of truncating\n"
    "  -h, --help         this help;  -V, --version  the version\n"
    "\n"
    "SECS: seconds, fractions allowed (2.5), or a unit: 500ms, 3s, 2m, 1h.\n"
    "A port may be a service name (http) unless -n.\n"
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
  OPT_PROXY,
  OPT_PROXY_TYPE,
  OPT_PROXY_AUTH,
  OPT_HISTORY,
  OPT_WEB,
  OPT_MCAST_JOIN,
  OPT_MCAST_TTL,
  OPT_MCAST_LOOP,
  OPT_MCAST_IF,
  OPT_SSL,
  OPT_SSL_TRUSTFILE,
  OPT_SSL_PIN,
  OPT_INSECURE,
  OPT_SSL_CERT,
  OPT_SSL_KEY,
  OPT_SSL_ALPN,
  OPT_SSL_SERVERNAME,
  OPT_SSL_VERIFY_CLIENT,
  OPT_EXEC,
  OPT_SH_EXEC,
  OPT_TO,
  OPT_TO_SSL,
  OPT_APPEND_OUTPUT,
  OPT_HEX_DUMP,
  OPT_FEDERATE,
  OPT_FEDERATE_NAME,
  OPT_FEDERATE_TTL,
};

static const struct option long_options[] = {
    {"listen", no_argument, NULL, 'l'},
    {"keep-open", no_argument, NULL, 'k'},
    {"udp", no_argument, NULL, 'u'},
    {"unixsock", no_argument, NULL, 'U'},
    {"verbose", no_argument, NULL, 'v'},
    {"wait", required_argument, NULL, 'w'},
    {"nodns", no_argument, NULL, 'n'},
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
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"proxy-type", required_argument, NULL, OPT_PROXY_TYPE},
    {"proxy-auth", required_argument, NULL, OPT_PROXY_AUTH},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"web", required_argument, NULL, OPT_WEB},
    {"mcast-join", required_argument, NULL, OPT_MCAST_JOIN},
    {"mcast-ttl", required_argument, NULL, OPT_MCAST_TTL},
    {"mcast-loop", required_argument, NULL, OPT_MCAST_LOOP},
    {"broadcast", no_argument, NULL, 'b'},
    {"mcast-if", required_argument, NULL, OPT_MCAST_IF},
    {"ssl", no_argument, NULL, OPT_SSL},
    {"tls", no_argument, NULL, OPT_SSL},
    {"ssl-trustfile", required_argument, NULL, OPT_SSL_TRUSTFILE},
    {"ssl-pin", required_argument, NULL, OPT_SSL_PIN},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"ssl-cert", required_argument, NULL, OPT_SSL_CERT},
    {"ssl-key", required_argument, NULL, OPT_SSL_KEY},
    {"ssl-alpn", required_argument, NULL, OPT_SSL_ALPN},
    {"ssl-servername", required_argument, NULL, OPT_SSL_SERVERNAME},
    {"ssl-verify-client", no_argument, NULL, OPT_SSL_VERIFY_CLIENT},
    {"exec", required_argument, NULL, OPT_EXEC},
    {"sh-exec", required_argument, NULL, OPT_SH_EXEC},
    {"to", required_argument, NULL, OPT_TO},
    {"to-ssl", no_argument, NULL, OPT_TO_SSL},
    {"output", required_argument, NULL, 'o'},
    {"append-output", no_argument, NULL, OPT_APPEND_OUTPUT},
    {"hex-dump", required_argument, NULL, OPT_HEX_DUMP},
    {"federate", required_argument, NULL, OPT_FEDERATE},
    {"federate-name", required_argument, NULL, OPT_FEDERATE_NAME},
    {"federate-ttl", required_argument, NULL, OPT_FEDERATE_TTL},
    {NULL, 0, NULL, 0},
};

static int usage_error(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, SK_ERR_LEN, fmt, ap);
  va_end(ap);
  return -1;
}

/* A server's name in /who: 1 to 32 of A-Z a-z 0-9 . _ : -. */
static int federate_name_check(char *err, const char *name) {
  size_t n = strlen(name);
  bool ok = n >= 1 && n <= SK_HUB_FED_NAME_MAX;
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)name[i]) || strchr("._:-", name[i]);
  return ok ? 0
            : usage_error(err,
                          "--federate-name %.64s: expected 1 to %d of A-Z "
                          "a-z 0-9 . _ : -",
                          name, SK_HUB_FED_NAME_MAX);
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

/* A duration as ncat takes it: seconds with an optional fraction ("2.5")
 * and an optional unit: ms, s, m or h. Returns milliseconds, rounded, or
 * -1 when text is not one. Only digits and one '.' are taken, so that
 * strtod's hexadecimal, exponents, "inf" and "nan" stay out. */
static long long duration_ms(const char *text) {
  static const struct {
    const char *name;
    double ms;
  } units[] = {
      {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  size_t digits = strspn(text, "0123456789."), dots = 0;
  for (size_t i = 0; i < digits; i++)
    dots += text[i] == '.';
  if (digits == 0 || dots > 1 || (digits == 1 && dots == 1) || digits > 20)
    return -1;
  double v = strtod(text, NULL);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(text + digits, units[i].name) == 0)
      return v * units[i].ms > 1e12 ? 1000000000000LL
                                    : (long long)(v * units[i].ms + 0.5);
  return -1;
}

/* -w and -i: from 1 ms to a day. */
static int timeout_parse(char *err, const char *flag, const char *text,
                         int *ms) {
  long long v = duration_ms(text);
  if (v < 1 || v > 86400000)
    return usage_error(err, "%s \"%.64s\" is not a duration from 1ms to 24h "
                            "(seconds, e.g. 2.5, or 500ms, 3s, 2m, 1h)",
                       flag, text);
  *ms = (int)v;
  return 0;
}

/* -q: 0 quits at once, a negative number never (nc's -q -1). */
static int quit_parse(char *err, const char *text, int *ms) {
  long long v = duration_ms(text[0] == '-' ? text + 1 : text);
  if (v < 0 || v > 86400000)
    return usage_error(err, "quit delay \"%.64s\" is not a duration up to "
                            "24h (seconds, e.g. 0, 2.5, 500ms; -1: never)",
                       text);
  *ms = text[0] == '-' ? -1 : (int)v;
  return 0;
}

/* --proxy and -x: one proxy, named as given for messages. */
static int proxy_option_apply(cli_t *c, int opt, const char *arg, char *err) {
  const char *flag = opt == 'x' ? "-x" : "--proxy";
  if (c->proxy_text && strcmp(flag, c->proxy_flag) != 0)
    return usage_error(err, "cannot use -x with --proxy: they name the same "
                            "proxy");
  c->proxy_text = arg;
  c->proxy_flag = flag;
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

/* --ssl and its --ssl-* options; 0 or -1. The first --ssl-* is kept
 * to name it when --ssl is missing. */
static int ssl_option_apply(cli_t *c, int opt, const char *arg, char *err) {
  static const char *const names[] = {
      "--ssl-trustfile", "--ssl-pin", "--insecure", "--ssl-cert",
      "--ssl-key", "--ssl-alpn", "--ssl-servername", "--ssl-verify-client"};
  unsigned char md[32];
  if (opt == OPT_SSL) {
    c->ssl = true;
    return 0;
  }
  if (!c->ssl_flag)
    c->ssl_flag = names[opt - OPT_SSL_TRUSTFILE];
  switch (opt) {
  case OPT_SSL_TRUSTFILE: c->ssl_trustfile = arg; break;
  case OPT_SSL_PIN:
    c->ssl_pin = arg;
    return sk_tls_pin_parse(err, arg, md) < 0 ? -1 : 0;
  case OPT_INSECURE: c->insecure = true; break;
  case OPT_SSL_CERT: c->ssl_cert = arg; break;
  case OPT_SSL_KEY: c->ssl_key = arg; break;
  case OPT_SSL_ALPN: c->ssl_alpn = arg; break;
  case OPT_SSL_SERVERNAME:
    if (!arg[0])
      return usage_error(err, "--ssl-servername \"\" is empty; give a name");
    c->ssl_servername = arg;
    break;
  case OPT_SSL_VERIFY_CLIENT: c->ssl_verify_client = true; break;
  }
  return 0;
}

/* -e, --exec, -c, --sh-exec: one program; -e with -c is a mistake. */
static int exec_option_apply(cli_t *c, int opt, const char *arg, char *err) {
  static const char *const names[] = {"-e", "--exec", "-c", "--sh-exec"};
  int i = opt == 'e' ? 0 : opt == OPT_EXEC ? 1 : opt == 'c' ? 2 : 3;
  bool shell = i >= 2;
  if (c->exec_text && shell != c->exec_shell)
    return usage_error(err, "cannot use %s with %s: one program per "
                            "connection", c->exec_flag, names[i]);
  c->exec_text = arg;
  c->exec_flag = names[i];
  c->exec_shell = shell;
  return 0;
}

/* Applies one option; returns 0, CLI_HELP / CLI_VERSION, or -1. */
static int option_apply(cli_t *c, int opt, const char *arg, char *err) {
  long long v;
  switch (opt) {
  case '4':
  case '6':
    /* nc keeps the last silently; two opposite wishes are a mistake. */
    if (c->family != AF_UNSPEC &&
        c->family != (opt == '4' ? AF_INET : AF_INET6))
      return usage_error(err, "cannot use -4 with -6");
    c->family = opt == '4' ? AF_INET : AF_INET6;
    break;
  case 'n': c->numeric = true; break;
  case 'C': c->crlf = true; break;
  case 'k': c->keep = true; break;
  case 'l': c->listen = true; break;
  case 'N': c->shutdown_on_eof = true; break;
  case 'u': c->udp = true; break;
  case 'U': c->unix_sock = true; break;
  case 'v': c->verbose = true; break;
  case 'z': c->scan = true; break;
  case 'p': c->source_port = arg; break;
  case 's':
    if (!arg[0])
      return usage_error(err, "source address \"\" is empty; give an "
                              "address, or leave out -s");
    c->source_host = arg;
    break;
  case 'w': return timeout_parse(err, "timeout", arg, &c->wait_ms);
  case 'i': return timeout_parse(err, "idle timeout", arg, &c->idle_ms);
  case 'q': return quit_parse(err, arg, &c->quit_ms);
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
  case OPT_FEDERATE:
    c->federate = arg;
    return sk_hub_federate_check(err, arg) < 0 ? -1 : 0;
  case OPT_FEDERATE_NAME:
    c->federate_name = arg;
    return federate_name_check(err, arg);
  case OPT_FEDERATE_TTL:
    if (number_parse(err, "federate-ttl", arg, 1, 3600, false, &v) < 0)
      return -1;
    c->federate_ttl = (unsigned)v;
    break;
  case OPT_HISTORY:
    if (number_parse(err, "history", arg, 0, 1000, false, &v) < 0)
      return -1;
    c->history = (unsigned)v;
    c->history_set = true;
    break;
  case OPT_WEB:
    if (number_parse(err, "web", arg, 1, 65535, false, &v) < 0)
      return -1;
    c->web_port = (int)v;
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
  case 'x':
  case OPT_PROXY: return proxy_option_apply(c, opt, arg, err);
  case 'X':
  case OPT_PROXY_TYPE: c->proxy_type = arg; break;
  case OPT_PROXY_AUTH: c->proxy_auth = arg; break;
  case 'e':
  case 'c':
  case OPT_EXEC:
  case OPT_SH_EXEC: return exec_option_apply(c, opt, arg, err);
  case OPT_TO: c->to_text = arg; break;
  case OPT_TO_SSL: c->to_ssl = true; break;
  case 'o': c->output_path = arg; break;
  case OPT_HEX_DUMP: c->hexdump_path = arg; break;
  case OPT_APPEND_OUTPUT: c->append_output = true; break;
  case 'h': return CLI_HELP;
  case 'V': return CLI_VERSION;
  default:
    if (opt >= OPT_SSL && opt <= OPT_SSL_VERIFY_CLIENT)
      return ssl_option_apply(c, opt, arg, err);
    return mcast_option_apply(c, opt, arg, err);
  }
  return 0;
}

/* The type asked for; else ncat's default for --proxy, HTTP, and nc's
 * for -x, SOCKS5. SK_PROXY_NONE for a type that does not exist. */
static sk_proxy_type_t proxy_type_of(const cli_t *c) {
  if (c->proxy_type)
    return sk_proxy_type_parse(c->proxy_type);
  return strcmp(c->proxy_flag, "-x") == 0 ? SK_PROXY_SOCKS5 : SK_PROXY_HTTP;
}

/* A proxy carries one outgoing TCP stream, and its own flags need it. */
static int proxy_conflicts_check(const cli_t *c, char *err) {
  if (!c->proxy_text && (c->proxy_type || c->proxy_auth))
    return usage_error(err, "--proxy-type, -X and --proxy-auth need --proxy "
                            "or -x");
  if (!c->proxy_text)
    return 0;
  sk_proxy_type_t type = proxy_type_of(c);
  if (c->listen || c->udp || c->unix_sock || c->scan)
    return usage_error(err, "cannot use %s with %s: a proxy carries one "
                            "outgoing TCP connection",
                       c->proxy_flag, c->listen ? "-l" : c->udp ? "-u"
                                      : c->unix_sock ? "-U" : "-z");
  if (type == SK_PROXY_NONE)
    return usage_error(err, "proxy type \"%.32s\" is not socks4, socks5 or "
                            "http (-X: 4, 5 or connect)",
                       c->proxy_type);
  if (type == SK_PROXY_SOCKS4 && c->proxy_auth && strchr(c->proxy_auth, ':'))
    return usage_error(err, "SOCKS4 carries a user id only: --proxy-auth "
                            "USER, not USER:PASS");
  if (type != SK_PROXY_SOCKS4 && c->proxy_auth && !strchr(c->proxy_auth, ':'))
    return usage_error(err, "--proxy-auth is USER:PASS for %s proxies",
                       sk_proxy_type_name(type));
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

/* The modes TLS does not reach yet, and what only one side can use. */
static int ssl_mode_check(const cli_t *c, char *err) {
  if (c->udp || c->scan)
    return usage_error(err, "cannot use --ssl with %s: TLS needs a stream "
                            "connection",
                       c->udp ? "-u (DTLS is not supported)" : "-z");
  return 0;
}

/* The pin decides alone which certificate is accepted; a key goes with
 * a certificate. With --ssl and --to-ssl, --ssl-trustfile is the
 * listener's (client CAs), so it may come with the target's pin. */
static int pin_key_check(const cli_t *c, char *err) {
  bool trust = c->ssl_trustfile && !(c->ssl && c->to_ssl);
  if (c->ssl_pin && (c->insecure || trust))
    return usage_error(err, "cannot use --ssl-pin with %s: the pin alone "
                            "decides which certificate is accepted",
                       c->insecure ? "--insecure" : "--ssl-trustfile");
  if (c->ssl_key && !c->ssl_cert)
    return usage_error(err, "--ssl-key needs --ssl-cert");
  return 0;
}

/* --to-ssl: TLS to the forwarding target. Alone, every --ssl-* option
 * is the target's (a client's). With --ssl (re-encryption) each option
 * must belong to one side: the listener keeps --ssl-cert/--ssl-key and
 * --ssl-verify-client with its --ssl-trustfile, the target gets
 * --ssl-pin, --insecure and --ssl-servername; --ssl-alpn, which either
 * could mean, is refused. */
static int to_ssl_check(const cli_t *c, char *err) {
  if (!c->to_text)
    return usage_error(err, "--to-ssl needs --to: it is TLS to the "
                            "forwarding target");
  if (c->udp)
    return usage_error(err, "cannot use --to-ssl with -u (DTLS is not "
                            "supported): TLS needs a stream connection");
  if (c->ssl && ssl_mode_check(c, err) < 0)
    return -1;
  if (pin_key_check(c, err) < 0)
    return -1;
  if (!c->ssl)
    return c->ssl_verify_client
               ? usage_error(err, "--ssl-verify-client needs --ssl: with "
                                  "--to-ssl alone the listener speaks "
                                  "plaintext")
               : 0;
  if (c->ssl_alpn)
    return usage_error(err, "cannot use --ssl-alpn with both --ssl and "
                            "--to-ssl: it would not say which side's "
                            "protocols it lists");
  if (c->ssl_verify_client != !!c->ssl_trustfile)
    return usage_error(err, c->ssl_verify_client
                                ? "--ssl-verify-client needs --ssl-trustfile "
                                  "CA: the CAs client certificates come from"
                                : "--ssl-trustfile with --ssl and --to-ssl is "
                                  "the listener's (client CAs): it needs "
                                  "--ssl-verify-client; pin the target with "
                                  "--ssl-pin");
  return 0;
}

/* --ssl's options: each needs --ssl, and each belongs to one side. */
static int ssl_conflicts_check(const cli_t *c, char *err) {
  if (c->to_ssl)
    return to_ssl_check(c, err);
  if (!c->ssl)
    return c->ssl_flag ? usage_error(err, "%s needs --ssl%s", c->ssl_flag,
                                     c->to_text ? " or --to-ssl" : "")
                       : 0;
  if (ssl_mode_check(c, err) < 0 || pin_key_check(c, err) < 0)
    return -1;
  if (c->listen && (c->ssl_pin || c->insecure || c->ssl_servername))
    return usage_error(err, "cannot use %s with -l: it checks the server's "
                            "certificate (a client's option)",
                       c->ssl_pin ? "--ssl-pin" : c->insecure
                                                      ? "--insecure"
                                                      : "--ssl-servername");
  if (c->ssl_verify_client && !c->listen)
    return usage_error(err, "--ssl-verify-client needs -l");
  if (c->listen && (c->ssl_verify_client != !!c->ssl_trustfile))
    return usage_error(err, c->ssl_verify_client
                                ? "--ssl-verify-client needs --ssl-trustfile "
                                  "CA: the CAs client certificates come from"
                                : "--ssl-trustfile with -l needs "
                                  "--ssl-verify-client");
  return 0;
}

/* Options about standard input and its relay, which exec and forwarding
 * do not use: -C, -q, --progress (and --progress with many relays). */
static int stdin_options_check(const cli_t *c, const char *x, char *err) {
  if (c->crlf)
    return usage_error(err, "cannot use -C with %s: the bytes are the "
                            "program's or the target's, relayed as they are",
                       x);
  if (c->quit_ms >= 0)
    return usage_error(err, "cannot use -q with %s: standard input is not "
                            "read", x);
  if (c->progress && (c->keep || c->to_text))
    return usage_error(err, "cannot use --progress with %s%s: it reports "
                            "one relay", x, c->to_text ? "" : " -k");
  return 0;
}

/* Exec (-e, -c) and forwarding (--to) join a connection to something
 * else than stdin/stdout: the options that speak of stdin, datagrams or
 * many-to-many relaying cannot apply. */
static int exec_conflicts_check(const cli_t *c, char *err) {
  const char *x = c->exec_flag;
  if (!x)
    return 0;
  if (c->to_text)
    return usage_error(err, "cannot use %s with --to: a client goes to a "
                            "program or to an address, not both", x);
  if (c->udp)
    return usage_error(err, "cannot use %s with -u: exec needs a stream", x);
  if (c->scan)
    return usage_error(err, "cannot use %s with -z: a scan sends no data", x);
  if (c->chat || c->broker)
    return usage_error(err, "cannot use %s with --%s", x,
                       c->chat ? "chat" : "broker");
  if (c->send_only || c->recv_only)
    return usage_error(err, "cannot use %s with --%s: the program's stdin "
                            "and stdout are the connection, both ways",
                       x, c->send_only ? "send-only" : "recv-only");
  return stdin_options_check(c, x, err);
}

static int forward_conflicts_check(const cli_t *c, char *err) {
  if (!c->to_text)
    return 0;
  if (c->scan)
    return usage_error(err, "cannot use --to with -z: a scan sends no data");
  if (c->chat || c->broker)
    return usage_error(err, "cannot use --to with --%s",
                       c->chat ? "chat" : "broker");
  if (c->send_only || c->recv_only)
    return usage_error(err, "cannot use --to with --%s: a forwarder carries "
                            "both ways",
                       c->send_only ? "send-only" : "recv-only");
  if (!c->listen)
    return usage_error(err, "--to needs -l: it forwards the clients of a "
                            "listener");
  return stdin_options_check(c, "--to", err);
}

/* The servers (-k, --chat -l, --broker on TCP) and the chat client run
 * no single relay of standard input: its options would be accepted and
 * ignored, so they are refused. Exec and --to have their own checks. */
static int hub_options_check(const cli_t *c, char *err) {
  bool client = c->chat && !c->listen;
  const char *m = client     ? "--chat"
                  : c->chat  ? "--chat -l"
                  : c->broker ? "--broker"
                  : c->keep && !c->udp ? "-k" : NULL;
  if (!m || c->exec_flag || c->to_text)
    return 0;
  if (c->quit_ms >= 0)
    return usage_error(err, "cannot use -q with %s: %s", m,
                       client ? "the chat ends when the server closes or "
                                "you quit"
                              : "a server ends on SIGINT or SIGTERM");
  if (c->progress)
    return usage_error(err, "cannot use --progress with %s: it reports one "
                            "relay of standard input", m);
  if (c->shutdown_on_eof && !client)
    return usage_error(err, "cannot use -N with %s: a server sends no end "
                            "of file when its standard input ends", m);
  if (c->crlf && c->chat)
    return usage_error(err, "cannot use -C with %s: a chat line ends with "
                            "LF or CR LF either way", m);
  if (client && c->idle_ms)
    return usage_error(err, "cannot use -i with --chat: the chat client "
                            "stays while the server keeps it");
  if (client && (c->send_only || c->recv_only))
    return usage_error(err, "cannot use --%s with --chat: the chat client "
                            "sends what you type and shows what comes",
                       c->send_only ? "send-only" : "recv-only");
  return 0;
}

/* Every combination that cannot work, checked once, before any I/O. */
static int conflicts_check(const cli_t *c, char *err) {
  bool hub = c->keep || c->chat || c->broker || c->to_text;
  if (proxy_conflicts_check(c, err) < 0 ||
      exec_conflicts_check(c, err) < 0 ||
      forward_conflicts_check(c, err) < 0 || hub_options_check(c, err) < 0)
    return -1;
  if ((c->output_path || c->hexdump_path) && (c->chat || c->broker || c->scan))
    return usage_error(err, "cannot use %s with %s: logs are of relayed "
                            "bytes", c->output_path ? "-o" : "--hex-dump",
                       c->chat ? "--chat" : c->broker ? "--broker" : "-z");
  if (c->output_path && c->hexdump_path &&
      strcmp(c->output_path, c->hexdump_path) == 0)
    return usage_error(err, "cannot write -o and --hex-dump to one file: %s",
                       c->output_path);
  if (c->append_output && !c->output_path && !c->hexdump_path)
    return usage_error(err, "--append-output needs -o or --hex-dump");
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
  if (c->history_set && !(c->chat && c->listen))
    return usage_error(err, "--history needs --chat -l");
  if (c->web_port && !(c->chat && c->listen && !c->udp && !c->unix_sock))
    return usage_error(err, "--web needs --chat -l on TCP");
  if ((c->federate || c->federate_name || c->federate_ttl) &&
      !(c->chat && c->listen))
    return usage_error(err, "--federate%s needs --chat -l",
                       c->federate ? ""
                       : c->federate_name ? "-name"
                                          : "-ttl");
  if ((c->federate_name || c->federate_ttl) && !c->federate)
    return usage_error(err, "--federate-%s needs --federate",
                       c->federate_name ? "name" : "ttl");
  if ((c->chat || c->broker) && c->udp)
    return usage_error(err, "cannot use --%s with -u: it needs streams",
                       c->chat ? "chat" : "broker");
  if ((c->keep || c->broker) && !c->listen)
    return usage_error(err, "-%s needs -l", c->keep ? "k" : "-broker");
  if (!c->listen && (c->max_conns || c->acl.n_allow || c->acl.n_deny))
    return usage_error(err, "-m, --allow and --deny need -l");
  if (c->listen && !hub && !c->udp && c->max_conns)
    return usage_error(err, "-m needs -k, --chat or --broker");
  if (c->broker && (c->send_only || c->recv_only))
    return usage_error(err, "cannot use --broker with --%s: a broker relays "
                            "every client to the others, both ways",
                       c->send_only ? "send-only" : "recv-only");
  if (c->udp && c->listen && c->send_only)
    return usage_error(err, "cannot use --send-only with -u -l: a UDP "
                            "listener learns its peer only from a datagram "
                            "it receives");
  if (c->unix_sock && c->source_port)
    return usage_error(err, "cannot use -p with -U");
  if (c->scan && (c->chat || c->send_only || c->recv_only))
    return usage_error(err, "cannot use -z with a data option");
  if (ssl_conflicts_check(c, err) < 0)
    return -1;
  return mcast_conflicts_check(c, err);
}

/* --to-ssl to a Unix socket: no host name to check, as for a client. */
static int to_ssl_target_check(const cli_t *c, char *err) {
  if (c->to_ssl && c->to.kind == SK_ADDR_UNIX &&
      !(c->ssl_servername || c->ssl_pin || c->insecure))
    return usage_error(err, "--to-ssl to a Unix socket needs "
                            "--ssl-servername NAME, --ssl-pin or --insecure: "
                            "a path is no name a certificate holds");
  return 0;
}

/* Conflicts that depend on the target (unix:PATH sets -U). */
static int target_conflicts_check(const cli_t *c, char *err) {
  if (c->ssl && c->unix_sock && !c->listen &&
      !(c->ssl_servername || c->ssl_pin || c->insecure))
    return usage_error(err, "--ssl with a Unix socket needs --ssl-servername "
                            "NAME, --ssl-pin or --insecure: a path is no name "
                            "a certificate holds");
  if (c->unix_sock && c->source_host && (c->listen || !c->udp))
    return usage_error(err, "cannot use -s with -U%s: only a Unix datagram "
                            "client (-u) binds a source path",
                       c->listen ? " -l" : "");
  return 0;
}

int cli_addr_flags(const cli_t *c) {
  return c->numeric ? SK_ADDR_NUMERIC : SK_ADDR_SERVICE;
}

/* "20-30" (with -z) or one port; fills the scan range. */
static int range_parse(cli_t *c, const char *text, char *err) {
  char lo[16];
  const char *dash = strchr(text, '-');
  size_t n = dash ? (size_t)(dash - text) : 0;
  if (!dash || n == 0 || n >= sizeof lo || text[0] < '0' || text[0] > '9') {
    c->port_lo = c->port_hi = sk_port_parse(err, text, cli_addr_flags(c));
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
  int flags = (c->listen ? SK_ADDR_PORT_ZERO : 0) | cli_addr_flags(c);
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
  /* "" would silently mean the local host; nc refuses it too. */
  if ((!host || !host[0]) && !c->listen)
    return usage_error(err, "missing host; usage: sockit host port");
  if (c->scan && range_parse(c, port, err) < 0)
    return -1;
  return sk_addr_set_inet(err, &c->addr, host, c->scan ? "1" : port,
                          (c->listen ? SK_ADDR_PORT_ZERO : 0) |
                              cli_addr_flags(c));
}

/* Fills c->proxy once the flags are known: the type (ncat's default for
 * --proxy is http, nc's for -x is SOCKS5), its address with the type's
 * default port, and the credentials. */
static int proxy_setup(cli_t *c, char *err) {
  sk_proxy_opts_t *p = &c->proxy;
  char port[8];
  if (!c->proxy_text)
    return 0;
  if (c->unix_sock)
    return usage_error(err, "cannot use %s with a Unix socket target",
                       c->proxy_flag);
  p->type = proxy_type_of(c);
  snprintf(port, sizeof port, "%d", sk_proxy_default_port(p->type));
  int flags = cli_addr_flags(c);
  if (strpbrk(c->proxy_text, ":[")
          ? sk_addr_parse(err, &p->addr, c->proxy_text, flags)
          : sk_addr_set_inet(err, &p->addr, c->proxy_text, port, flags))
    return -1;
  if (p->addr.kind != SK_ADDR_INET || !p->addr.host[0])
    return usage_error(err, "%s \"%.64s\" is not HOST[:PORT]", c->proxy_flag,
                       c->proxy_text);
  p->resolve_local = c->numeric; /* -n: never ask the proxy to resolve */
  p->timeout_ms = c->wait_ms;
  if (!c->proxy_auth)
    return 0;
  if (strlen(c->proxy_auth) >= sizeof c->proxy_cred)
    return usage_error(err, "--proxy-auth is longer than %zu bytes",
                       sizeof c->proxy_cred - 1);
  strcpy(c->proxy_cred, c->proxy_auth);
  char *colon = strchr(c->proxy_cred, ':');
  if (colon)
    *colon = '\0';
  p->user = c->proxy_cred;
  p->password = colon ? colon + 1 : NULL;
  return 0;
}

/* --to ADDR: host:port, [v6]:port, unix:/path or unix:@name; a host and
 * a port are both needed (there is no default target). */
static int to_parse(cli_t *c, char *err) {
  char why[SK_ERR_LEN];
  const char *t = c->to_text;
  if (!t)
    return 0;
  if (sk_addr_parse(why, &c->to, t, cli_addr_flags(c)) < 0)
    return usage_error(err, "--to \"%.64s\": %s", t, why);
  if (c->to.kind == SK_ADDR_UNIX ? !c->to.path[0] && !c->to.abstract
                                 : !c->to.host[0] || !c->to.port)
    return usage_error(err, "--to \"%.64s\" is not host:port, [v6]:port, "
                            "unix:/path or unix:@name", t);
  return 0;
}

/* Finds an -e program the way execvp would: a name with a slash as is,
 * else the first executable file of that name in PATH. */
static int exec_find(cli_t *c, const char *prog, char *err) {
  struct stat st;
  if (strchr(prog, '/')) {
    if (stat(prog, &st) < 0)
      return usage_error(err, "exec \"%.64s\": not found (%s)", prog,
                         strerror(errno));
    if (!S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
      return usage_error(err, "exec \"%.64s\" is not executable", prog);
    snprintf(c->exec_path, sizeof c->exec_path, "%s", prog);
    return 0;
  }
  const char *path = getenv("PATH");
  bool seen = false;
  for (path = path ? path : "/usr/local/bin:/usr/bin:/bin"; *path;) {
    size_t n = strcspn(path, ":");
    snprintf(c->exec_path, sizeof c->exec_path, "%.*s%s%s", (int)n, path,
             n ? "/" : "", prog);
    if (stat(c->exec_path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(c->exec_path, X_OK) == 0)
        return 0;
      seen = true;
    }
    path += n + (path[n] == ':');
  }
  if (seen)
    return usage_error(err, "exec \"%.64s\" is not executable", prog);
  return usage_error(err, "exec \"%.64s\": not found in PATH", prog);
}

/* -c CMD: /bin/sh -c CMD; -e PROG: PROG alone; --exec "PROG ARGS": the
 * words split on blanks, no shell (as ncat). */
static int exec_setup(cli_t *c, char *err) {
  int n = 0;
  if (!c->exec_text)
    return 0;
  if (c->exec_shell) {
    snprintf(c->exec_path, sizeof c->exec_path, "/bin/sh");
    c->exec_argv[0] = "sh";
    c->exec_argv[1] = "-c";
    c->exec_argv[2] = (char *)c->exec_text;
    c->exec_argv[3] = NULL;
    return 0;
  }
  if (strlen(c->exec_text) >= sizeof c->exec_words)
    return usage_error(err, "%s is longer than %zu bytes", c->exec_flag,
                       sizeof c->exec_words - 1);
  strcpy(c->exec_words, c->exec_text);
  if (strcmp(c->exec_flag, "-e") == 0) {
    c->exec_argv[n++] = c->exec_words;
  } else {
    for (char *w = strtok(c->exec_words, " \t"); w; w = strtok(NULL, " \t")) {
      if (n == CLI_EXEC_ARGS)
        return usage_error(err, "--exec takes at most %d words",
                           CLI_EXEC_ARGS);
      c->exec_argv[n++] = w;
    }
  }
  c->exec_argv[n] = NULL;
  if (n == 0)
    return usage_error(err, "%s names no program", c->exec_flag);
  return exec_find(c, c->exec_argv[0], err);
}

/* Whether arg is "--name=value" for a long option without a value
 * whose short form (or code) is opt: getopt's "?" for it. */
static bool long_takes_no_value(const char *arg, int opt) {
  size_t n = strcspn(arg, "=");
  if (strncmp(arg, "--", 2) != 0 || !arg[n])
    return false;
  for (const struct option *o = long_options; o->name; o++)
    if (o->val == opt && o->has_arg == no_argument &&
        strncmp(o->name, arg + 2, n - 2) == 0) /* a prefix, as getopt */
      return true;
  return false;
}

/* Names the option getopt stopped at: optopt for a short one (inside a
 * cluster such as -xl too), the argument itself for a long one. */
static int unknown_option(char *err, int argc, char **argv) {
  const char *arg = argv[optind - 1];
  if (optopt >= '0' && optopt <= '9') {
    /* "-1": a negative port, perhaps; quote the whole argument. */
    if (optind < argc && argv[optind][0] == '-' && argv[optind][1] == optopt)
      arg = argv[optind];
    return usage_error(err, "\"%.32s\" is not an option; a port is an "
                            "integer in 1..65535",
                       arg);
  }
  int name_len = (int)strcspn(arg, "=");
  if (optopt > 0 && optopt < 256 && !long_takes_no_value(arg, optopt))
    return usage_error(err, "unknown option \"-%c\"; see sockit --help",
                       optopt);
  if (optopt) /* --listen=x */
    return usage_error(err, "option \"%.*s\" takes no value", name_len, arg);
  return usage_error(err, "unknown option \"%.*s\"; see sockit --help",
                     name_len, arg);
}

static int missing_value(char *err, char **argv) {
  const char *arg = argv[optind - 1];
  if (strncmp(arg, "--", 2) == 0)
    return usage_error(err, "option \"%.64s\" needs a value", arg);
  return usage_error(err, "option \"-%c\" needs a value", optopt);
}

int cli_parse(cli_t *c, int argc, char **argv, char *err) {
  int opt, rc;
  memset(c, 0, sizeof *c);
  c->family = AF_UNSPEC;
  c->quit_ms = -1; /* as nc: stdin EOF alone never ends the relay */
  opterr = 0;
  optind = 1;
  static const char shorts[] = ":46bc:Cde:hi:klm:nNo:p:q:s:uUvVw:x:X:z";
  while ((opt = getopt_long(argc, argv, shorts, long_options, NULL)) != -1) {
    if (opt == '?')
      return unknown_option(err, argc, argv);
    if (opt == ':')
      return missing_value(err, argv);
    if (opt == 'd')
      opt = OPT_RECV_ONLY; /* nc -d: do not read stdin */
    if ((rc = option_apply(c, opt, optarg, err)) != 0)
      return rc;
  }
  if (conflicts_check(c, err) < 0 ||
      target_parse(c, argc - optind, argv + optind, err) < 0 ||
      target_conflicts_check(c, err) < 0 || proxy_setup(c, err) < 0 ||
      to_parse(c, err) < 0 || to_ssl_target_check(c, err) < 0 ||
      exec_setup(c, err) < 0)
    return -1;
  return CLI_RUN;
}
