/* Address text: parsing, formatting and resolution. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "internal.h"
#include "sockit/addr.h"


/* Quotes user text for a one-line message: escapes what is not printable
 * so that a message can never span lines, and cuts long input. */
const char *sk__quote(char *out, const char *text, size_t len) {
  size_t o = 0, i;
  for (i = 0; i < len && i < 64; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
  }
  if (i < len) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
  return out;
}

/* A service name from /etc/services ("http"), as nc, ncat and socat
 * accept for a port; 0 when text is no known service. */
static int service_port(const char *text, size_t len) {
  char name[64];
  if (len == 0 || len >= sizeof name || memchr(text, '\0', len))
    return 0;
  memcpy(name, text, len);
  name[len] = '\0';
  struct servent *sv = getservbyname(name, NULL);
  return sv ? ntohs((uint16_t)sv->s_port) : 0;
}

static int port_parse_n(char *err, const char *text, size_t len, int flags) {
  char q[SK__QUOTE_LEN];
  int service = 0;
  int min = (flags & SK_ADDR_PORT_ZERO) ? 0 : 1;
  unsigned long value = 0;
  size_t i;
  for (i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9')
      break;
    if (value <= 65535)
      value = value * 10 + (unsigned long)(text[i] - '0');
  }
  if (i < len && (flags & SK_ADDR_SERVICE) && !(flags & SK_ADDR_NUMERIC))
    service = service_port(text, len);
  if (service > 0)
    return service;
  if (len == 0 || i < len)
    return sk__fail(err, SK_EPORT, "port \"%s\" is not an integer in %d..65535",
                    sk__quote(q, text, len), min);
  if (value < (unsigned long)min || value > 65535)
    return sk__fail(err, SK_EPORT, "port \"%s\" is out of range %d..65535",
                    sk__quote(q, text, len), min);
  return (int)value;
}

int sk_port_parse(char *err, const char *text, int flags) {
  return port_parse_n(err, text, strlen(text), flags);
}

static int host_set(char *err, sk_addr_t *addr, const char *host, size_t len) {
  char q[SK__QUOTE_LEN];
  if (len >= sizeof addr->host)
    return sk__fail(err, SK_EADDR, "host \"%s\" is longer than %zu bytes",
                    sk__quote(q, host, len), sizeof addr->host - 1);
  if (memchr(host, '\0', len))
    return sk__fail(err, SK_EADDR, "host \"%s\" contains a NUL byte",
                    sk__quote(q, host, len));
  memcpy(addr->host, host, len);
  addr->host[len] = '\0';
  return 0;
}

int sk_addr_set_unix(char *err, sk_addr_t *addr, const char *path) {
  char q[SK__QUOTE_LEN];
  size_t len = strlen(path);
  memset(addr, 0, sizeof *addr);
  addr->kind = SK_ADDR_UNIX;
  addr->abstract = path[0] == '@';
  if (addr->abstract) {
    path++;
    len--;
  }
  if (len == 0)
    return sk__fail(err, SK_EADDR, "missing path in Unix address \"%s\"",
                    sk__quote(q, path - addr->abstract, len + addr->abstract));
  if (len >= sizeof addr->path)
    return sk__fail(err, SK_EADDR, "Unix path \"%s\" is longer than %zu bytes",
                    sk__quote(q, path, len), sizeof addr->path - 1);
  memcpy(addr->path, path, len + 1);
  return 0;
}

/* With SK_ADDR_NUMERIC: the host must parse without any lookup. */
static int numeric_check(char *err, sk_addr_t *addr) {
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *ai = NULL;
  char q[SK__QUOTE_LEN];
  addr->numeric = true;
  if (!addr->host[0] || getaddrinfo(addr->host, NULL, &hints, &ai) == 0) {
    freeaddrinfo(ai);
    return 0;
  }
  return sk__fail(err, SK_EADDR,
                  "host \"%s\" is not a numeric IP address, and name "
                  "lookup is off (-n)",
                  sk__quote(q, addr->host, strlen(addr->host)));
}

static int inet_set(char *err, sk_addr_t *addr, const char *host,
                    size_t host_len, const char *port, size_t port_len,
                    int flags) {
  int rc;
  memset(addr, 0, sizeof *addr);
  addr->kind = SK_ADDR_INET;
  if ((rc = host_set(err, addr, host, host_len)) < 0)
    return rc;
  if ((flags & SK_ADDR_NUMERIC) && (rc = numeric_check(err, addr)) < 0)
    return rc;
  if ((rc = port_parse_n(err, port, port_len, flags)) < 0)
    return rc;
  addr->port = (uint16_t)rc;
  return 0;
}

int sk_addr_set_inet(char *err, sk_addr_t *addr, const char *host,
                     const char *port, int flags) {
  if (!host)
    host = "";
  /* "[::1]" as a separate host is as natural as "::1". */
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
    return inet_set(err, addr, host + 1, hl - 2, port, strlen(port), flags);
  return inet_set(err, addr, host, hl, port, strlen(port), flags);
}

/* "[v6addr]:port" */
static int bracket_parse(char *err, sk_addr_t *addr, const char *text,
                         int flags) {
  char q[SK__QUOTE_LEN];
  size_t len = strlen(text);
  const char *close = strchr(text, ']');
  if (!close)
    return sk__fail(err, SK_EADDR, "missing \"]\" in address \"%s\"",
                    sk__quote(q, text, len));
  if (close[1] == '\0' || (close[1] == ':' && close[2] == '\0'))
    return sk__fail(err, SK_EADDR, "missing port in \"%s\"",
                    sk__quote(q, text, len));
  if (close[1] != ':')
    return sk__fail(err, SK_EADDR,
                    "expected \":port\" after \"]\" in address \"%s\"",
                    sk__quote(q, text, len));
  return inet_set(err, addr, text + 1, (size_t)(close - text - 1), close + 2,
                  strlen(close + 2), flags);
}

static int looks_like_port(const char *text) {
  return text[0] >= '0' && text[0] <= '9' && !strchr(text, '.');
}

int sk_addr_parse(char *err, sk_addr_t *addr, const char *text, int flags) {
  char q[SK__QUOTE_LEN];
  size_t len = strlen(text);
  memset(addr, 0, sizeof *addr);
  if (strncmp(text, "unix:", 5) == 0)
    return sk_addr_set_unix(err, addr, text + 5);
  if (text[0] == '[')
    return bracket_parse(err, addr, text, flags);
  const char *colon = strrchr(text, ':');
  if (!colon) {
    if (len > 0 && looks_like_port(text))
      return inet_set(err, addr, "", 0, text, len, flags);
    return sk__fail(err, SK_EADDR, "missing port in \"%s\"",
                    sk__quote(q, text, len));
  }
  if (memchr(text, ':', (size_t)(colon - text)))
    return sk__fail(err, SK_EADDR,
                    "IPv6 address in \"%s\" must be in brackets, as in "
                    "[::1]:2333",
                    sk__quote(q, text, len));
  if (colon[1] == '\0')
    return sk__fail(err, SK_EADDR, "missing port in \"%s\"",
                    sk__quote(q, text, len));
  return inet_set(err, addr, text, (size_t)(colon - text), colon + 1,
                  strlen(colon + 1), flags);
}

void sk_addr_format(const sk_addr_t *addr, char *buf, size_t len) {
  if (addr->kind == SK_ADDR_UNIX)
    snprintf(buf, len, "unix:%s%s", addr->abstract ? "@" : "", addr->path);
  else if (addr->host[0] == '\0')
    snprintf(buf, len, "*:%u", addr->port);
  else if (strchr(addr->host, ':'))
    snprintf(buf, len, "[%s]:%u", addr->host, addr->port);
  else
    snprintf(buf, len, "%s:%u", addr->host, addr->port);
}

static void unix_format(const struct sockaddr_un *sun, socklen_t len, char *buf,
                        size_t n) {
  size_t path_len = len > offsetof(struct sockaddr_un, sun_path)
                        ? len - offsetof(struct sockaddr_un, sun_path)
                        : 0;
  if (path_len == 0)
    snprintf(buf, n, "unix:(unnamed)");
  else if (sun->sun_path[0] == '\0')
    snprintf(buf, n, "unix:@%.*s", (int)(path_len - 1), sun->sun_path + 1);
  else
    snprintf(buf, n, "unix:%.*s", (int)strnlen(sun->sun_path, path_len),
             sun->sun_path);
}

int sk_sockaddr_host(const struct sockaddr *sa, char *host, size_t n) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)n);
    return ntohs(in->sin_port);
  }
  if (sa->sa_family != AF_INET6)
    return -EAFNOSUPPORT;
  /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: show
   * them as the IPv4 address they are. */
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
    inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, (socklen_t)n);
  else
    inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)n);
  return ntohs(in6->sin6_port);
}

void sk_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                        size_t n) {
  char host[INET6_ADDRSTRLEN];
  int port = sk_sockaddr_host(sa, host, sizeof host);
  if (port >= 0 && strchr(host, ':'))
    snprintf(buf, n, "[%s]:%d", host, port);
  else if (port >= 0)
    snprintf(buf, n, "%s:%d", host, port);
  else if (sa->sa_family == AF_UNIX) {
    unix_format((const struct sockaddr_un *)sa, len, buf, n);
  } else {
    snprintf(buf, n, "?");
  }
}

int sk_addr_resolve(char *err, const sk_addr_t *addr, int family, int socktype,
                    bool passive, struct addrinfo **out) {
  struct addrinfo hints = {0};
  char port[8];
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) |
                   (addr->numeric ? AI_NUMERICHOST | AI_NUMERICSERV : 0);
  snprintf(port, sizeof port, "%u", addr->port);
  const char *host = addr->host[0] ? addr->host : NULL;
  int rc = getaddrinfo(host, port, &hints, out);
  if (rc == 0)
    return 0;
  *out = NULL;
  char q[SK__QUOTE_LEN];
  const char *reason = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
  return sk__fail(err, SK_ERESOLVE, "host \"%s\" could not be resolved: %s",
                  host ? sk__quote(q, host, strlen(host)) : "*", reason);
}
