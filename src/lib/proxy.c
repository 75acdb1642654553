/* Proxy client: SOCKS4/4a, SOCKS5 (RFC 1928, 1929) and HTTP CONNECT.
 * The handshake is blocking with one deadline for all of it, and reads
 * no byte past the proxy's reply: the tunnel's first bytes stay in the
 * socket for the relay. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proxy_int.h"

/* ---- pure parts: requests and replies ---- */

static int too_long(char *why, const char *what, size_t max) {
  return sk__fail(why, SK_EPROXY, "%s is longer than %zu bytes", what, max);
}

int sk__socks4_request(char *why, uint8_t *buf, size_t cap,
                       const sk_addr_t *target, const char *user) {
  struct in_addr ip;
  size_t ulen = user ? strlen(user) : 0, hlen = strlen(target->host);
  bool name = inet_pton(AF_INET, target->host, &ip) != 1;
  if (name && strchr(target->host, ':'))
    return sk__fail(why, SK_EPROXY, "SOCKS4 cannot carry the IPv6 address "
                                    "%s; use socks5",
                    target->host);
  if (8 + ulen + 1 + (name ? hlen + 1 : 0) > cap)
    return too_long(why, "SOCKS4 request", cap);
  buf[0] = 4; /* version */
  buf[1] = 1; /* CONNECT */
  buf[2] = (uint8_t)(target->port >> 8);
  buf[3] = (uint8_t)target->port;
  if (name) /* SOCKS4a: 0.0.0.x, the name after the user id */
    memcpy(buf + 4, (uint8_t[]){0, 0, 0, 1}, 4);
  else
    memcpy(buf + 4, &ip, 4);
  memcpy(buf + 8, user ? user : "", ulen + 1);
  if (name)
    memcpy(buf + 8 + ulen + 1, target->host, hlen + 1);
  return (int)(8 + ulen + 1 + (name ? hlen + 1 : 0));
}

int sk__socks4_reply(char *why, const uint8_t *r) {
  static const char *const reasons[] = {
      "request rejected or failed",
      "request rejected: the proxy cannot reach identd on this host",
      "request rejected: identd reports a different user id",
  };
  if (r[0] != 0)
    return sk__fail(why, SK_EPROXY,
                    "the reply is not SOCKS4 (first reply byte 0x%02x)", r[0]);
  if (r[1] == 90)
    return 0;
  if (r[1] >= 91 && r[1] <= 93)
    return sk__fail(why, SK_EPROXY, "%s (reply %d)", reasons[r[1] - 91], r[1]);
  return sk__fail(why, SK_EPROXY, "unknown reply %d", r[1]);
}

int sk__socks5_greeting(uint8_t *buf, bool auth) {
  buf[0] = 5;
  buf[1] = auth ? 2 : 1; /* how many methods */
  buf[2] = 0;            /* no authentication */
  buf[3] = 2;            /* user name and password */
  return auth ? 4 : 3;
}

int sk__socks5_method(char *why, const uint8_t *r, bool auth) {
  if (r[0] != 5)
    return sk__fail(why, SK_EPROXY,
                    "the reply is not SOCKS5 (first reply byte 0x%02x)", r[0]);
  if (r[1] == 0 || (r[1] == 2 && auth))
    return r[1];
  if (r[1] == 0xff && !auth)
    return sk__fail(why, SK_EPROXY, "the proxy requires authentication: "
                                    "give --proxy-auth USER:PASS");
  if (r[1] == 0xff)
    return sk__fail(why, SK_EPROXY, "no acceptable authentication method");
  return sk__fail(why, SK_EPROXY,
                  "the proxy chose authentication method 0x%02x, "
                  "which was not offered",
                  r[1]);
}

int sk__socks5_auth_request(char *why, uint8_t *buf, size_t cap,
                            const char *user, const char *password) {
  size_t ulen = strlen(user), plen = password ? strlen(password) : 0;
  if (ulen > 255 || plen > 255)
    return too_long(why, ulen > 255 ? "user name" : "password", 255);
  if (3 + ulen + plen > cap)
    return too_long(why, "SOCKS5 authentication", cap);
  buf[0] = 1; /* RFC 1929 version */
  buf[1] = (uint8_t)ulen;
  memcpy(buf + 2, user, ulen);
  buf[2 + ulen] = (uint8_t)plen;
  memcpy(buf + 3 + ulen, password ? password : "", plen);
  return (int)(3 + ulen + plen);
}

int sk__socks5_auth_reply(char *why, const uint8_t *r) {
  /* Some servers answer with version 5 instead of 1: only the status
   * byte matters. */
  if (r[1] != 0)
    return sk__fail(why, SK_EPROXY, "authentication refused (status %d)",
                    r[1]);
  return 0;
}

int sk__socks5_request(char *why, uint8_t *buf, size_t cap,
                       const sk_addr_t *target) {
  size_t n = 4, hlen = strlen(target->host);
  if (cap < 4 + 1 + 255 + 2)
    return too_long(why, "SOCKS5 request", cap);
  memcpy(buf, (uint8_t[]){5, 1, 0}, 3); /* version, CONNECT, reserved */
  if (inet_pton(AF_INET, target->host, buf + 4) == 1) {
    buf[3] = 1;
    n += 4;
  } else if (inet_pton(AF_INET6, target->host, buf + 4) == 1) {
    buf[3] = 4;
    n += 16;
  } else { /* a name: the proxy resolves it */
    if (hlen > 255)
      return too_long(why, "SOCKS5 host name", 255);
    buf[3] = 3;
    buf[4] = (uint8_t)hlen;
    memcpy(buf + 5, target->host, hlen);
    n += 1 + hlen;
  }
  buf[n++] = (uint8_t)(target->port >> 8);
  buf[n++] = (uint8_t)target->port;
  return (int)n;
}

static const char *socks5_reason(int rep) {
  static const char *const reasons[] = {
      "succeeded",
      "general SOCKS server failure",
      "connection not allowed by ruleset",
      "network unreachable",
      "host unreachable",
      "connection refused by destination",
      "TTL expired",
      "command not supported",
      "address type not supported",
  };
  return rep < 9 ? reasons[rep] : "unknown reply";
}

int sk__socks5_reply(char *why, const uint8_t *r) {
  if (r[0] != 5)
    return sk__fail(why, SK_EPROXY,
                    "the reply is not SOCKS5 (first reply byte 0x%02x)", r[0]);
  if (r[1] != 0)
    return sk__fail(why, SK_EPROXY, "%s (reply %d)", socks5_reason(r[1]),
                    r[1]);
  /* 5 bytes read: the address's first byte is in; the port follows. */
  switch (r[3]) {
  case 1: return 4 - 1 + 2;
  case 4: return 16 - 1 + 2;
  case 3: return r[4] + 2; /* r[4] is the name's length */
  }
  return sk__fail(why, SK_EPROXY, "unknown address type %d in the reply",
                  r[3]);
}

void sk__base64(char *out, const void *in, size_t n) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const uint8_t *p = in;
  for (; n >= 3; n -= 3, p += 3, out += 4) {
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    out[0] = abc[v >> 18];
    out[1] = abc[(v >> 12) & 63];
    out[2] = abc[(v >> 6) & 63];
    out[3] = abc[v & 63];
  }
  if (n) {
    uint32_t v = (uint32_t)p[0] << 16 | (n == 2 ? (uint32_t)p[1] << 8 : 0);
    out[0] = abc[v >> 18];
    out[1] = abc[(v >> 12) & 63];
    out[2] = n == 2 ? abc[(v >> 6) & 63] : '=';
    out[3] = '=';
    out += 4;
  }
  *out = '\0';
}

int sk__http_request(char *why, char *buf, size_t cap, const sk_addr_t *target,
                     const char *user, const char *password) {
  char hostport[SK_ADDRSTR_LEN], cred[512 + 2], auth[700] = "";
  int n;
  sk_addr_format(target, hostport, sizeof hostport);
  if (user) {
    n = snprintf(cred, sizeof cred, "%s:%s", user, password ? password : "");
    if (n < 0 || (size_t)n >= sizeof cred)
      return too_long(why, "--proxy-auth", sizeof cred - 2);
    memcpy(auth, "Proxy-Authorization: Basic ", 27);
    sk__base64(auth + 27, cred, (size_t)n);
    strcat(auth, "\r\n");
  }
  n = snprintf(buf, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", hostport,
               hostport, auth);
  if (n < 0 || (size_t)n >= cap)
    return too_long(why, "HTTP CONNECT request", cap);
  return n;
}

/* The blank line: LF, then LF or CR LF (RFC 9112 2.2 lets a recipient
 * take a lone LF as a line's end, as curl and ncat do). */
size_t sk__http_head_end(const char *buf, size_t len, size_t from) {
  for (size_t i = from >= 2 ? from - 2 : 0; i + 1 < len; i++) {
    if (buf[i] != '\n')
      continue;
    if (buf[i + 1] == '\n')
      return i + 2;
    if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

int sk__http_reply(char *why, const char *head, size_t len) {
  char q[SK__QUOTE_LEN];
  size_t line = 0;
  while (line < len && head[line] != '\r' && head[line] != '\n')
    line++;
  if (line < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
      head[9] < '1' || head[9] > '5' || head[10] < '0' || head[10] > '9' ||
      head[11] < '0' || head[11] > '9')
    return sk__fail(why, SK_EPROXY, "the reply is not HTTP (\"%s\")",
                    sk__quote(q, head, line));
  if (head[9] == '2')
    return 0;
  /* "403 Forbidden": the status line after the version. */
  return sk__fail(why, SK_EPROXY, "%s", sk__quote(q, head + 9, line - 9));
}

/* ---- the handshake on a socket, within one deadline ---- */

typedef struct sk__pio {
  int fd;
  int64_t deadline_ms; /* CLOCK_MONOTONIC */
} sk__pio_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on the socket; 0, -ETIMEDOUT or -errno. */
static int pio_wait(const sk__pio_t *io, short events) {
  struct pollfd p = {.fd = io->fd, .events = events};
  for (;;) {
    int64_t left = io->deadline_ms - now_ms();
    if (left <= 0)
      return -ETIMEDOUT;
    int rc = poll(&p, 1, (int)left);
    if (rc > 0)
      return 0;
    if (rc < 0 && errno != EINTR)
      return -errno;
  }
}

static int pio_send(const sk__pio_t *io, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(io->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    int rc = errno == EAGAIN || errno == EINTR ? pio_wait(io, POLLOUT) : -errno;
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* One recv with the given flags once data is there: > 0 bytes, or 0 at
 * end of stream (reported as SK_EPROXY by the caller), or -errno. */
static ssize_t pio_recv(const sk__pio_t *io, void *buf, size_t len, int flags) {
  for (;;) {
    ssize_t n = recv(io->fd, buf, len, flags | MSG_DONTWAIT);
    if (n >= 0)
      return n;
    int rc = errno == EAGAIN || errno == EINTR ? pio_wait(io, POLLIN) : -errno;
    if (rc < 0)
      return rc;
  }
}

#define PIO_EOF 1 /* internal: the proxy closed the connection */

/* Reads exactly len bytes: 0, PIO_EOF or a negative code. */
static int pio_read(const sk__pio_t *io, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = pio_recv(io, p, len, 0);
    if (n <= 0)
      return n == 0 ? PIO_EOF : (int)n;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Sends a request and reads a reply of len bytes. */
static int pio_ask(const sk__pio_t *io, const void *req, size_t req_len,
                   void *reply, size_t len) {
  int rc = pio_send(io, req, req_len);
  return rc < 0 ? rc : pio_read(io, reply, len);
}

static int socks4_run(char *why, const sk__pio_t *io, const sk_proxy_opts_t *p,
                      const sk_addr_t *target) {
  uint8_t req[SK__PROXY_REQ_MAX], r[8];
  int rc, n = sk__socks4_request(why, req, sizeof req, target, p->user);
  if (n < 0)
    return n;
  if ((rc = pio_ask(io, req, (size_t)n, r, sizeof r)) != 0)
    return rc;
  return sk__socks4_reply(why, r);
}

static int socks5_auth(char *why, const sk__pio_t *io,
                       const sk_proxy_opts_t *p) {
  uint8_t req[SK__PROXY_REQ_MAX], r[2];
  int rc, n = sk__socks5_auth_request(why, req, sizeof req, p->user,
                                      p->password);
  if (n < 0)
    return n;
  if ((rc = pio_ask(io, req, (size_t)n, r, sizeof r)) != 0)
    return rc;
  return sk__socks5_auth_reply(why, r);
}

static int socks5_run(char *why, const sk__pio_t *io, const sk_proxy_opts_t *p,
                      const sk_addr_t *target) {
  uint8_t req[SK__PROXY_REQ_MAX], r[5 + 255 + 2];
  bool auth = p->user != NULL;
  int rc, n = sk__socks5_greeting(req, auth);
  if ((rc = pio_ask(io, req, (size_t)n, r, 2)) != 0)
    return rc;
  if ((rc = sk__socks5_method(why, r, auth)) < 0)
    return rc;
  if (rc == 2 && (rc = socks5_auth(why, io, p)) != 0)
    return rc;
  if ((n = sk__socks5_request(why, req, sizeof req, target)) < 0)
    return n;
  if ((rc = pio_ask(io, req, (size_t)n, r, 5)) != 0)
    return rc;
  if ((n = sk__socks5_reply(why, r)) < 0)
    return n;
  return pio_read(io, r + 5, (size_t)n); /* the bound address: unused */
}

/* Reads the reply head and no byte past it: peek, then consume only
 * what belongs to the head. */
static int http_head_read(char *why, const sk__pio_t *io, char *head,
                          size_t *len) {
  size_t end = 0;
  while (!end) {
    if (*len >= SK__HTTP_HEAD_MAX)
      return sk__fail(why, SK_EPROXY, "reply head longer than %d bytes",
                      SK__HTTP_HEAD_MAX);
    ssize_t n = pio_recv(io, head + *len, SK__HTTP_HEAD_MAX - *len, MSG_PEEK);
    if (n <= 0)
      return n == 0 ? PIO_EOF : (int)n;
    end = sk__http_head_end(head, *len + (size_t)n, *len);
    size_t take = end ? end - *len : (size_t)n;
    int rc = pio_read(io, head + *len, take);
    if (rc != 0)
      return rc;
    *len += take;
  }
  return 0;
}

static int http_run(char *why, const sk__pio_t *io, const sk_proxy_opts_t *p,
                    const sk_addr_t *target) {
  char req[SK__PROXY_REQ_MAX], head[SK__HTTP_HEAD_MAX];
  size_t len = 0;
  int rc, n = sk__http_request(why, req, sizeof req, target, p->user,
                               p->password);
  if (n < 0)
    return n;
  if ((rc = pio_send(io, req, (size_t)n)) != 0 ||
      (rc = http_head_read(why, io, head, &len)) != 0)
    return rc;
  return sk__http_reply(why, head, len);
}

/* ---- the public calls ---- */

sk_proxy_type_t sk_proxy_type_parse(const char *name) {
  if (!strcasecmp(name, "http") || !strcasecmp(name, "connect"))
    return SK_PROXY_HTTP;
  if (!strcasecmp(name, "socks4") || !strcmp(name, "4"))
    return SK_PROXY_SOCKS4;
  if (!strcasecmp(name, "socks5") || !strcmp(name, "5"))
    return SK_PROXY_SOCKS5;
  return SK_PROXY_NONE;
}

int sk_proxy_default_port(sk_proxy_type_t type) {
  return type == SK_PROXY_HTTP ? 3128 : 1080;
}

const char *sk_proxy_type_name(sk_proxy_type_t type) {
  switch (type) {
  case SK_PROXY_HTTP: return "HTTP";
  case SK_PROXY_SOCKS4: return "SOCKS4";
  case SK_PROXY_SOCKS5: return "SOCKS5";
  case SK_PROXY_NONE: break;
  }
  return "no";
}

/* With resolve_local: the target's name becomes an address here, so the
 * proxy gets an address (SOCKS4 needs IPv4). */
static int target_resolve(char *why, const sk_proxy_opts_t *p,
                          const sk_addr_t *target, sk_addr_t *out) {
  struct addrinfo *ai;
  *out = *target;
  int family = p->type == SK_PROXY_SOCKS4 ? AF_INET : AF_UNSPEC;
  int rc = sk_addr_resolve(why, target, family, SOCK_STREAM, false, &ai);
  if (rc < 0)
    return rc;
  rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, out->host, sizeof out->host,
                   NULL, 0, NI_NUMERICHOST);
  freeaddrinfo(ai);
  if (rc != 0)
    return sk__fail(why, SK_ERESOLVE, "getnameinfo: %s", gai_strerror(rc));
  return 0;
}

static int handshake_run(char *why, const sk__pio_t *io,
                         const sk_proxy_opts_t *p, const sk_addr_t *target) {
  switch (p->type) {
  case SK_PROXY_SOCKS4: return socks4_run(why, io, p, target);
  case SK_PROXY_SOCKS5: return socks5_run(why, io, p, target);
  case SK_PROXY_HTTP: return http_run(why, io, p, target);
  case SK_PROXY_NONE: break;
  }
  return sk__fail(why, -EINVAL, "unknown proxy type %d", (int)p->type);
}

int sk_proxy_handshake(char *err, int fd, const sk_proxy_opts_t *proxy,
                       const sk_addr_t *target) {
  char why[SK_ERR_LEN] = "", where[SK_ADDRSTR_LEN];
  int ms = proxy->timeout_ms > 0 ? proxy->timeout_ms : SK_PROXY_TIMEOUT_MS;
  sk__pio_t io = {.fd = fd, .deadline_ms = now_ms() + ms};
  sk_addr_t resolved;
  int rc = 0;
  if (target->kind != SK_ADDR_INET)
    rc = sk__fail(why, -EINVAL, "the target must be host:port, not a "
                                "Unix socket");
  else if (proxy->resolve_local)
    rc = target_resolve(why, proxy, target, &resolved);
  if (rc == 0)
    rc = handshake_run(why, &io, proxy, proxy->resolve_local ? &resolved
                                                             : target);
  if (rc == 0)
    return 0;
  if (rc == PIO_EOF) {
    rc = SK_EPROXY;
    snprintf(why, sizeof why, "closed the connection during the handshake");
  } else if (rc == -ETIMEDOUT) {
    snprintf(why, sizeof why, "no complete reply within %g s", ms / 1000.0);
  } else if (!why[0]) {
    snprintf(why, sizeof why, "%s", sk_strerror(rc));
  }
  sk_addr_format(&proxy->addr, where, sizeof where);
  return sk__fail(err, rc, "%s proxy %s: %s", sk_proxy_type_name(proxy->type),
                  where, why);
}

int sk_proxy_connect(char *err, const sk_proxy_opts_t *proxy,
                     const sk_addr_t *target, const sk_sock_opts_t *opts) {
  char why[SK_ERR_LEN];
  int fd = sk_socket_open(why, &proxy->addr, SOCK_STREAM, SK_SOCK_CONNECT,
                          opts);
  if (fd < 0) /* the connect error names the proxy's address */
    return sk__fail(err, fd, "%s proxy: %s", sk_proxy_type_name(proxy->type),
                    why);
  int rc = sk_proxy_handshake(err, fd, proxy, target);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  return fd;
}
