/* Sockets: create, bind, listen, accept and connect. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sockit/sock.h"

static const sk_sock_opts_t default_opts = {.family = AF_UNSPEC};

int sk_fd_set_nonblock(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0)
    return -errno;
  flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int fail_at(char *err, const char *call, const struct sockaddr *sa,
                   socklen_t len, int code) {
  char where[SK_ADDRSTR_LEN];
  sk_sockaddr_format(sa, len, where, sizeof where);
  return sk__fail(err, code, "%s %s: %s", call, where, sk_strerror(code));
}

/* Waits for a non-blocking connect; returns 0 or -errno. */
static int connect_wait(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int rc, soerr = 0;
  socklen_t len = sizeof soerr;
  do
    rc = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
  while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return -errno;
  if (rc == 0)
    return -ETIMEDOUT;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
    return -errno;
  return -soerr;
}

static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len,
                         int timeout_ms) {
  int rc = sk_fd_set_nonblock(fd, true);
  if (rc < 0)
    return rc;
  if (connect(fd, sa, len) == 0)
    return 0;
  if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
    return -errno;
  return connect_wait(fd, timeout_ms);
}

/* Binds fd to the source address of the same family as the target. */
static int bind_source(char *err, int fd, const sk_addr_t *src, int family) {
  struct addrinfo *ai = NULL;
  int one = 1, rc;
  if ((rc = sk_addr_resolve(err, src, family, 0, true, &ai)) < 0)
    return rc;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  rc = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
  if (rc < 0)
    fail_at(err, "bind", ai->ai_addr, ai->ai_addrlen, rc);
  freeaddrinfo(ai);
  return rc;
}

/* Creates one socket for sa and connects or binds it. */
static int open_one(char *err, const struct sockaddr *sa, socklen_t len,
                    int socktype, sk_sock_mode_t mode,
                    const sk_sock_opts_t *o) {
  int one = 1, v6only = o->family == AF_INET6, rc;
  int fd = socket(sa->sa_family, socktype | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail_at(err, "socket", sa, len, -errno);
  /* Before connect (a broadcast destination needs SO_BROADCAST) and
   * before bind (a membership belongs to the socket, not its address). */
  if (o->mcast && (rc = sk_mcast_apply(err, fd, sa->sa_family, o->mcast)))
    goto error;
  if (mode == SK_SOCK_CONNECT) {
    if (o->source && (rc = bind_source(err, fd, o->source, sa->sa_family)) < 0)
      goto error;
    /* A Unix datagram client needs an address for replies: autobind
     * gives it a unique abstract one, with no file to clean up. */
    if (sa->sa_family == AF_UNIX && socktype == SOCK_DGRAM && !o->source &&
        bind(fd, &(struct sockaddr){.sa_family = AF_UNIX},
             sizeof(sa_family_t)) < 0) {
      rc = -errno;
      goto fail_bind;
    }
    if ((rc = connect_timed(fd, sa, len, o->timeout_ms)) < 0)
      goto fail;
  } else {
    /* Several receivers of one group share the port (multicast only). */
    if ((socktype == SOCK_STREAM && sa->sa_family != AF_UNIX) ||
        (o->mcast && o->mcast->join))
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    if (bind(fd, sa, len) < 0) {
      rc = -errno;
      goto fail_bind;
    }
    if (socktype == SOCK_STREAM &&
        listen(fd, o->backlog > 0 ? o->backlog : SOMAXCONN) < 0) {
      rc = -errno;
      goto fail_listen;
    }
  }
  if ((rc = sk_fd_set_nonblock(fd, o->nonblock)) < 0)
    goto error;
  return fd;
fail:
  fail_at(err, "connect", sa, len, rc);
  goto error;
fail_bind:
  fail_at(err, "bind", sa, len, rc);
  goto error;
fail_listen:
  fail_at(err, "listen", sa, len, rc);
error:
  close(fd);
  return rc;
}

static socklen_t unix_sockaddr(const sk_addr_t *addr, struct sockaddr_un *sun) {
  size_t n = strlen(addr->path);
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path + addr->abstract, addr->path, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + addr->abstract +
                     n + !addr->abstract);
}

/* Whether the socket file st (at path) belongs to a live socket. Linux
 * lists every socket in /proc/net/unix: a stream or seqpacket listener
 * with __SO_ACCEPTCON, a bound datagram socket by its path alone. Asking
 * there, rather than connecting, leaves a one-shot listener alone (a
 * probe would be its only client). Entries match by path or by the
 * file's identity. Returns 1 in use, 0 not, -1 when it cannot tell. */
static int unix_path_in_use(const char *path, const struct stat *st) {
  char line[PATH_MAX + 128];
  unsigned flags, type;
  int n, used = 0;
  FILE *f = fopen("/proc/net/unix", "re");
  if (!f)
    return -1;
  while (!used && fgets(line, sizeof line, f)) {
    n = 0;
    if (sscanf(line, "%*s %*s %*s %x %x %*s %*s %n", &flags, &type, &n) < 2 ||
        n == 0 || line[n] == '@' || line[n] == '\0')
      continue;
    line[strcspn(line, "\n")] = '\0';
    if (!(flags & 0x10000) && type != SOCK_DGRAM)
      continue; /* a connection, not a listener */
    struct stat other;
    used = strcmp(line + n, path) == 0 ||
           (stat(line + n, &other) == 0 && other.st_dev == st->st_dev &&
            other.st_ino == st->st_ino);
  }
  fclose(f);
  return used;
}

/* bind said EADDRINUSE for path: removes it only when it is a socket file
 * nobody uses (left by a listener that died). Returns 0 when the path
 * is free to bind now, or SK_EADDR / -EADDRINUSE with a message. */
static int unix_path_reclaim(char *err, const char *path) {
  char q[SK__QUOTE_LEN];
  struct stat st;
  int used;
  sk__quote(q, path, strlen(path));
  if (lstat(path, &st) < 0)
    return 0; /* gone meanwhile: bind again */
  if (!S_ISSOCK(st.st_mode))
    return sk__fail(err, SK_EADDR, "unix:%s exists and is not a socket", q);
  if ((used = unix_path_in_use(path, &st)) != 0)
    return sk__fail(err, -EADDRINUSE,
                    used > 0 ? "unix:%s is in use"
                             : "unix:%s exists and /proc/net/unix cannot "
                               "tell whether it is in use; remove it first",
                    q);
  if (unlink(path) < 0 && errno != ENOENT)
    return sk__fail(err, -errno, "unlink unix:%s: %s", q, strerror(errno));
  return 0;
}

static int open_unix(char *err, const sk_addr_t *addr, int socktype,
                     sk_sock_mode_t mode, const sk_sock_opts_t *o) {
  struct sockaddr_un sun;
  socklen_t len = unix_sockaddr(addr, &sun);
  const struct sockaddr *sa = (const struct sockaddr *)&sun;
  sk_sock_opts_t local = *o;
  if (mode == SK_SOCK_CONNECT && o->source) {
    /* A Unix datagram client needs a bound path for replies. */
    int fd = sk_socket_open(err, o->source, socktype, SK_SOCK_LISTEN, NULL);
    if (fd < 0)
      return fd;
    int rc = connect_timed(fd, sa, len, o->timeout_ms);
    if (rc == 0 && (rc = sk_fd_set_nonblock(fd, o->nonblock)) == 0)
      return fd;
    close(fd);
    if (!o->source->abstract)
      unlink(o->source->path); /* bound just now by us: leave nothing */
    return fail_at(err, "connect", sa, len, rc);
  }
  local.source = NULL;
  int fd = open_one(err, sa, len, socktype, mode, &local);
  if (fd == -EADDRINUSE && mode == SK_SOCK_LISTEN && !addr->abstract) {
    int rc = unix_path_reclaim(err, addr->path);
    fd = rc < 0 ? rc : open_one(err, sa, len, socktype, mode, &local);
  }
  return fd;
}

/* Any address, both families: one IPv6 socket that also takes IPv4. */
static int listen_dual_stack(char *err, const sk_addr_t *addr, int socktype,
                             const sk_sock_opts_t *o) {
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6,
                             .sin6_port = htons(addr->port),
                             .sin6_addr = IN6ADDR_ANY_INIT};
  int fd = open_one(err, (struct sockaddr *)&in6, sizeof in6, socktype,
                    SK_SOCK_LISTEN, o);
  if (fd != -EAFNOSUPPORT) /* only a kernel without IPv6 falls back */
    return fd;
  struct sockaddr_in in = {.sin_family = AF_INET,
                           .sin_port = htons(addr->port),
                           .sin_addr.s_addr = htonl(INADDR_ANY)};
  return open_one(err, (struct sockaddr *)&in, sizeof in, socktype,
                  SK_SOCK_LISTEN, o);
}

static int open_inet(char *err, const sk_addr_t *addr, int socktype,
                     sk_sock_mode_t mode, const sk_sock_opts_t *o) {
  struct addrinfo *list, *ai;
  int fd = SK_ERESOLVE;
  if (mode == SK_SOCK_LISTEN && !addr->host[0] && o->family == AF_UNSPEC)
    return listen_dual_stack(err, addr, socktype, o);
  if ((fd = sk_addr_resolve(err, addr, o->family, socktype,
                            mode == SK_SOCK_LISTEN, &list)) < 0)
    return fd;
  /* Try every resolved address in order; report the last failure. */
  for (ai = list; ai; ai = ai->ai_next) {
    fd = open_one(err, ai->ai_addr, ai->ai_addrlen, socktype, mode, o);
    if (fd >= 0)
      break;
  }
  freeaddrinfo(list);
  return fd;
}

int sk_socket_open(char *err, const sk_addr_t *addr, int socktype,
                   sk_sock_mode_t mode, const sk_sock_opts_t *opts) {
  if (!opts)
    opts = &default_opts;
  if (addr->kind == SK_ADDR_UNIX)
    return open_unix(err, addr, socktype, mode, opts);
  return open_inet(err, addr, socktype, mode, opts);
}

int sk_tcp_connect(char *err, const sk_addr_t *addr,
                   const sk_sock_opts_t *opts) {
  return sk_socket_open(err, addr, SOCK_STREAM, SK_SOCK_CONNECT, opts);
}

int sk_tcp_listen(char *err, const sk_addr_t *addr,
                  const sk_sock_opts_t *opts) {
  return sk_socket_open(err, addr, SOCK_STREAM, SK_SOCK_LISTEN, opts);
}

int sk_udp_bind(char *err, const sk_addr_t *addr, const sk_sock_opts_t *opts) {
  return sk_socket_open(err, addr, SOCK_DGRAM, SK_SOCK_LISTEN, opts);
}

int sk_udp_connect(char *err, const sk_addr_t *addr,
                   const sk_sock_opts_t *opts) {
  return sk_socket_open(err, addr, SOCK_DGRAM, SK_SOCK_CONNECT, opts);
}

/* Errors that end only the connection being accepted, not the listener. */
static int accept_error_is_transient(int e) {
  return e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM;
}

int sk_accept(char *err, int fd, struct sockaddr_storage *peer,
              socklen_t *peer_len) {
  return sk__accept(err, fd, peer, peer_len, 0);
}

/* See internal.h. */
int sk__accept(char *err, int fd, struct sockaddr_storage *peer,
               socklen_t *peer_len, int flags) {
  struct sockaddr_storage ss;
  socklen_t len;
  int cfd;
  for (;;) {
    len = sizeof ss;
    cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | flags);
    if (cfd >= 0)
      break;
    if (!accept_error_is_transient(errno))
      return sk__fail(err, -errno, "accept: %s", strerror(errno));
  }
  if (peer)
    memcpy(peer, &ss, sizeof ss);
  if (peer_len)
    *peer_len = len;
  return cfd;
}

/* See internal.h. Unconnected and no `to`: the socket's own family. */
int sk__udp_payload_max(int fd, const struct sockaddr *to) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (!to) {
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &(socklen_t){sizeof ss}) < 0)
      return 0;
    to = (const struct sockaddr *)&ss;
  }
  if (to->sa_family == AF_INET)
    return 65507;
  if (to->sa_family != AF_INET6)
    return 0;
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)to;
  return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? 65507 : 65527;
}

static int msgsize_fail(char *err, int fd, size_t len,
                        const struct sockaddr *to) {
  int max = sk__udp_payload_max(fd, to);
  if (max == 0)
    return sk__fail(err, -EMSGSIZE,
                    "sendto: datagram of %zu bytes is too long", len);
  return sk__fail(err, -EMSGSIZE,
                  "sendto: datagram of %zu bytes is over the limit of "
                  "%d bytes",
                  len, max);
}

ssize_t sk_sendto(char *err, int fd, const void *buf, size_t len,
                  const struct sockaddr *to, socklen_t to_len) {
  ssize_t n;
  do
    n = sendto(fd, buf, len, MSG_NOSIGNAL, to, to_len);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno == EMSGSIZE)
    return msgsize_fail(err, fd, len, to);
  if (to)
    return fail_at(err, "sendto", to, to_len, -errno);
  return sk__fail(err, -errno, "send: %s", strerror(errno));
}

ssize_t sk_recvfrom(char *err, int fd, void *buf, size_t cap,
                    struct sockaddr_storage *from, socklen_t *from_len) {
  socklen_t len = sizeof(struct sockaddr_storage);
  ssize_t n;
  do
    n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, from ? &len : NULL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sk__fail(err, -errno, "recvfrom: %s", strerror(errno));
  if (from_len)
    *from_len = len;
  return n;
}

/* ---- multicast and broadcast (sockit --mcast-*, -b) ---- */

int sk_mcast_group_parse(char *err, const char *text,
                         struct sockaddr_storage *group, unsigned *ifindex) {
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                           .ai_socktype = SOCK_DGRAM}, *ai;
  char host[SK_ADDRSTR_LEN];
  const char *comma = strchr(text, ',');
  size_t n = comma ? (size_t)(comma - text) : strlen(text);
  if (n >= sizeof host)
    return sk__fail(err, SK_EADDR, "multicast group \"%.64s\" is too long",
                    text);
  memcpy(host, text, n);
  host[n] = '\0';
  *ifindex = 0;
  if (comma && !(*ifindex = if_nametoindex(comma + 1)))
    return sk__fail(err, SK_EADDR, "no network interface \"%.32s\"",
                    comma + 1);
  if (getaddrinfo(host, NULL, &hints, &ai) != 0)
    return sk__fail(err, SK_EADDR, "multicast group \"%.64s\" is not a "
                    "numeric IPv4 or IPv6 address", host);
  memcpy(group, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  bool is_mc = group->ss_family == AF_INET
                   ? IN_MULTICAST(ntohl(((struct sockaddr_in *)group)
                                            ->sin_addr.s_addr))
                   : IN6_IS_ADDR_MULTICAST(
                         &((struct sockaddr_in6 *)group)->sin6_addr);
  if (!is_mc)
    return sk__fail(err, SK_EADDR, "\"%.64s\" is not a multicast group "
                    "(224.0.0.0/4 or ff00::/8)", host);
  return 0;
}

static int mcast_setopt(char *err, int fd, int level, int name,
                        const void *v, socklen_t len, const char *what) {
  if (setsockopt(fd, level, name, v, len) == 0)
    return 0;
  return sk__fail(err, -errno, "setsockopt %s: %s", what, strerror(errno));
}

/* Joins the group on its interface (0: where the route to it goes). */
static int mcast_join(char *err, int fd, int family, const char *text) {
  struct group_req req = {0};
  unsigned ifindex;
  int rc = sk_mcast_group_parse(err, text, &req.gr_group, &ifindex);
  int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, all = 0;
  if (rc < 0)
    return rc;
  if (family != req.gr_group.ss_family)
    return sk__fail(err, SK_EADDR, "cannot join group \"%.64s\" on an "
                    "IPv%c socket", text, family == AF_INET ? '4' : '6');
  req.gr_interface = ifindex;
  if ((rc = mcast_setopt(err, fd, level, MCAST_JOIN_GROUP, &req, sizeof req,
                         "MCAST_JOIN_GROUP")) < 0)
    return rc;
  /* Linux hands a wildcard-bound socket every group any program on the
   * host joined; a user who joined one group wants that group only. */
  setsockopt(fd, level, family == AF_INET6 ? IPV6_MULTICAST_ALL
                                           : IP_MULTICAST_ALL,
             &all, sizeof all);
  return 0;
}

/* Sends multicast through the named interface instead of the route's. */
static int mcast_iface(char *err, int fd, int family, const char *name) {
  unsigned ifindex = if_nametoindex(name);
  if (!ifindex)
    return sk__fail(err, SK_EADDR, "no network interface \"%.32s\"", name);
  if (family == AF_INET6) {
    int i = (int)ifindex;
    return mcast_setopt(err, fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &i,
                        sizeof i, "IPV6_MULTICAST_IF");
  }
  struct ip_mreqn mr = {.imr_ifindex = (int)ifindex};
  return mcast_setopt(err, fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr,
                      "IP_MULTICAST_IF");
}

int sk_mcast_apply(char *err, int fd, int family, const sk_mcast_t *m) {
  int v6 = family == AF_INET6, rc = 0, one = 1;
  int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP, loop = m->loop;
  if (family != AF_INET && family != AF_INET6)
    return 0;
  if (m->broadcast &&
      (rc = mcast_setopt(err, fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one,
                         "SO_BROADCAST")) < 0)
    return rc;
  if (m->ttl_set &&
      (rc = mcast_setopt(err, fd, level,
                         v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL, &m->ttl,
                         sizeof m->ttl, "multicast TTL")) < 0)
    return rc;
  if (m->loop_set &&
      (rc = mcast_setopt(err, fd, level,
                         v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP, &loop,
                         sizeof loop, "multicast loop")) < 0)
    return rc;
  if (m->iface && (rc = mcast_iface(err, fd, family, m->iface)) < 0)
    return rc;
  return m->join ? mcast_join(err, fd, family, m->join) : 0;
}

/* ---- UDP port probe (sockit -z -u) ---- */

/* What came back on a probe's socket: a datagram (open), or the ICMP
 * port unreachable that a connected socket reports as ECONNREFUSED
 * (closed); -EAGAIN when nothing did after all. */
static int udp_probe_answer(int fd) {
  char byte;
  if (recv(fd, &byte, 1, MSG_DONTWAIT) >= 0)
    return SK_UDP_OPEN;
  return errno == ECONNREFUSED ? SK_UDP_CLOSED : -errno;
}

/* Sends one probe to port; returns its descriptor for the wait, or -1
 * with the verdict already in *state. */
static int udp_probe_send(const sk_addr_t *addr, int port,
                          const sk_sock_opts_t *o, int *state) {
  sk_addr_t a = *addr;
  a.port = (uint16_t)port;
  int fd = sk_udp_connect(NULL, &a, o);
  if (fd < 0) {
    *state = fd;
    return -1;
  }
  /* As OpenBSD nc: one byte, "X"; an empty datagram is ignored by some
   * services that would answer anything else. */
  if (send(fd, "X", 1, MSG_NOSIGNAL) < 0) {
    *state = errno == ECONNREFUSED ? SK_UDP_CLOSED : -errno;
    close(fd);
    return -1;
  }
  *state = SK_UDP_OPEN_FILTERED; /* until something comes back */
  return fd;
}

static long ms_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Probes n ports from lo at once and waits up to wait_ms for them all. */
static void udp_probe_batch(const sk_addr_t *addr, int lo, int n,
                            const sk_sock_opts_t *o, int wait_ms, int *state) {
  struct pollfd p[SK_UDP_PROBE_BATCH];
  int pending = 0, rc;
  for (int i = 0; i < n; i++) {
    p[i] = (struct pollfd){.fd = udp_probe_send(addr, lo + i, o, &state[i]),
                           .events = POLLIN};
    pending += p[i].fd >= 0;
  }
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long left = wait_ms;
  while (pending > 0 && left > 0) {
    if ((rc = poll(p, (nfds_t)n, (int)left)) < 0 && errno != EINTR)
      break;
    for (int i = 0; rc > 0 && i < n; i++) {
      int answer = p[i].fd >= 0 && p[i].revents ? udp_probe_answer(p[i].fd)
                                                : -EAGAIN;
      if (answer == -EAGAIN)
        continue; /* nothing yet (or already decided) */
      state[i] = answer;
      close(p[i].fd);
      p[i].fd = -1;
      pending--;
    }
    left = wait_ms - ms_since(&t0);
  }
  for (int i = 0; i < n; i++)
    if (p[i].fd >= 0)
      close(p[i].fd);
}

void sk_udp_probe_range(const sk_addr_t *addr, int lo, int hi,
                        const sk_sock_opts_t *opts, int wait_ms,
                        sk_udp_probe_cb cb, void *ctx) {
  int state[SK_UDP_PROBE_BATCH];
  for (int port = lo; port <= hi; port += SK_UDP_PROBE_BATCH) {
    int n = hi - port + 1 < SK_UDP_PROBE_BATCH ? hi - port + 1
                                               : SK_UDP_PROBE_BATCH;
    udp_probe_batch(addr, port, n, opts, wait_ms, state);
    for (int i = 0; i < n; i++)
      cb(ctx, port + i, state[i]);
  }
}

int sk_udp_probe(char *err, const sk_addr_t *addr, const sk_sock_opts_t *opts,
                 int wait_ms) {
  int state;
  udp_probe_batch(addr, addr->port, 1, opts, wait_ms, &state);
  if (state < 0)
    sk__fail(err, state, "udp probe: %s", sk_strerror(state));
  return state;
}
