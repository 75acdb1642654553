/* ICMP echo: sockets, checksum, requests and replies (sockit ping). */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Apart and after <time.h>: it uses struct timespec without including. */
#include <linux/errqueue.h>

#include "internal.h"
#include "sockit/error.h"
#include "sockit/icmp.h"

uint16_t sk_icmp_checksum(const void *buf, size_t len) {
  const uint8_t *p = buf;
  uint32_t sum = 0;
  for (; len > 1; p += 2, len -= 2)
    sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len)
    sum += (uint32_t)p[0] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

size_t sk_icmp_echo_build(void *buf, size_t cap, int family, uint16_t ident,
                          uint16_t seq, const void *data, size_t data_len) {
  uint8_t *p = buf;
  uint16_t id = htons(ident), sq = htons(seq), sum;
  if (cap < 8 || data_len > cap - 8)
    return 0;
  p[0] = family == AF_INET6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
  p[1] = 0;
  memset(p + 2, 0, 2);
  memcpy(p + 4, &id, 2);
  memcpy(p + 6, &sq, 2);
  if (data_len)
    memmove(p + 8, data, data_len); /* data may already be in place */
  if (family == AF_INET) {
    sum = sk_icmp_checksum(p, 8 + data_len);
    memcpy(p + 2, &sum, 2);
  }
  return 8 + data_len;
}

sk_icmp_kind_t sk_icmp_echo_parse(const sk_icmp_sock_t *s, const void *pkt,
                                  size_t len, sk_icmp_echo_t *out) {
  const uint8_t *p = pkt;
  uint16_t id, seq;
  if (s->raw && s->family == AF_INET) { /* raw IPv4 hands us the IP header */
    size_t hl = len ? (size_t)(p[0] & 0x0f) * 4 : 0;
    if (hl < 20 || len < hl + 8)
      return SK_ICMP_OTHER; /* nothing we could match to a request */
    out->ttl = p[8];
    p += hl;
    len -= hl;
  }
  if (len < 8)
    return SK_ICMP_OTHER;
  if (p[0] != (s->family == AF_INET6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
    return SK_ICMP_OTHER;
  memcpy(&id, p + 4, 2);
  memcpy(&seq, p + 6, 2);
  if (ntohs(id) != s->ident)
    return SK_ICMP_OTHER; /* another ping's reply (raw sockets see all) */
  out->ident = ntohs(id);
  out->seq = ntohs(seq);
  out->data = p + 8;
  out->data_len = len - 8;
  if (s->family == AF_INET && sk_icmp_checksum(p, len) != 0)
    return SK_ICMP_CORRUPT;
  return SK_ICMP_REPLY;
}

/* Raw sockets see every ICMP packet: let the kernel pass replies only,
 * and ask for the TTL / hop limit of each packet as control data. */
static void icmp_sock_setup(sk_icmp_sock_t *s) {
  int one = 1;
  if (s->family == AF_INET6) {
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    if (s->raw)
      setsockopt(s->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    return;
  }
  /* Errors about our requests come through the error queue, already
   * matched to the socket, for both kinds: one path to read them. */
  setsockopt(s->fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  if (s->raw) {
    /* linux/icmp.h's ICMP_FILTER (1): a bit set per type to drop; that
     * header clashes with netinet/ip_icmp.h, hence the literal. */
    uint32_t drop = ~(1U << ICMP_ECHOREPLY);
    setsockopt(s->fd, SOL_RAW, 1, &drop, sizeof drop);
  } else {
    setsockopt(s->fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
  }
}

/* A datagram ICMP socket's identifier is its port: learns it. */
static void icmp_ident_learn(sk_icmp_sock_t *s) {
  struct sockaddr_storage me;
  socklen_t len = sizeof me;
  if (getsockname(s->fd, (struct sockaddr *)&me, &len) < 0)
    return;
  s->ident =
      ntohs(me.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&me)->sin6_port
                                     : ((struct sockaddr_in *)&me)->sin_port);
  s->ident_known = s->ident != 0;
}

/* Binds a datagram ICMP socket to port 0 for the kernel to choose its
 * identifier now; on failure the first send does it. */
static void icmp_ident_bind(sk_icmp_sock_t *s) {
  struct sockaddr_storage me = {.ss_family = (sa_family_t)s->family};
  socklen_t len = s->family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                        : sizeof(struct sockaddr_in);
  if (bind(s->fd, (struct sockaddr *)&me, len) == 0)
    icmp_ident_learn(s);
}

/* The current ping_group_range, for the message; "?" if unreadable. */
static void group_range_read(char *out, size_t cap) {
  FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
  unsigned long lo, hi;
  if (f && fscanf(f, "%lu %lu", &lo, &hi) == 2)
    snprintf(out, cap, "%lu %lu", lo, hi);
  else
    snprintf(out, cap, "?");
  if (f)
    fclose(f);
}

int sk_icmp_open(char *err, int family, sk_icmp_sock_t *s) {
  int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  char range[64];
  memset(s, 0, sizeof *s);
  s->family = family;
  s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
  if (s->fd < 0 && (errno == EACCES || errno == EPERM)) {
    s->raw = true; /* our group is outside ping_group_range */
    s->fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
  }
  if (s->fd < 0) {
    int code = -errno;
    if (code != -EACCES && code != -EPERM)
      return sk__fail(err, code, "socket ICMP%s: %s",
                      family == AF_INET6 ? "v6" : "", sk_strerror(code));
    group_range_read(range, sizeof range);
    return sk__fail(err, code,
                    "no ICMP socket allowed: group %u is outside "
                    "net.ipv4.ping_group_range (%s; widen it with sysctl) "
                    "and raw sockets need root or CAP_NET_RAW",
                    (unsigned)getegid(), range);
  }
  /* A raw socket's identifier is ours to choose; a datagram socket's is
   * the port the kernel gives it at bind (or at the first send). */
  s->ident = (uint16_t)getpid();
  s->ident_known = s->raw;
  if (!s->raw)
    icmp_ident_bind(s);
  icmp_sock_setup(s);
  return s->fd;
}

ssize_t sk_icmp_send(char *err, sk_icmp_sock_t *s, const void *pkt, size_t len,
                     const struct sockaddr *to, socklen_t tolen) {
  ssize_t n = sendto(s->fd, pkt, len, 0, to, tolen);
  if (n < 0)
    return sk__fail(err, -errno, "sendto: %s", sk_strerror(-errno));
  if (!s->ident_known)
    icmp_ident_learn(s); /* the bind at open failed: the send bound it */
  return n;
}

static int cmsg_ttl(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    int v;
    if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
      memcpy(&v, CMSG_DATA(c), sizeof v);
      return v;
    }
  }
  return -1;
}

ssize_t sk_icmp_recv(sk_icmp_sock_t *s, void *buf, size_t cap,
                     struct sockaddr_storage *from, socklen_t *fromlen,
                     int *ttl) {
  union {
    char buf[CMSG_SPACE(sizeof(int)) * 2];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  struct msghdr m = {.msg_name = from,
                     .msg_namelen = sizeof *from,
                     .msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = ctl.buf,
                     .msg_controllen = sizeof ctl};
  ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
  if (n < 0)
    return -errno;
  *fromlen = m.msg_namelen;
  *ttl = cmsg_ttl(&m);
  return n;
}

/* The extended error and its offender from the control data, or NULL. */
static struct sock_extended_err *cmsg_error(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
    if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
      return (struct sock_extended_err *)CMSG_DATA(c);
  return NULL;
}

/* Fills e from the kernel's report; returns 1 when it is ours. */
static int error_fill(const sk_icmp_sock_t *s,
                      const struct sock_extended_err *x, const uint8_t *req,
                      ssize_t n, sk_icmp_error_t *e) {
  uint16_t id, seq;
  e->local = x->ee_origin == SO_EE_ORIGIN_LOCAL;
  if (!e->local && x->ee_origin != SO_EE_ORIGIN_ICMP &&
      x->ee_origin != SO_EE_ORIGIN_ICMP6)
    return 0;
  e->err = (int)x->ee_errno;
  e->type = x->ee_type;
  e->code = x->ee_code;
  e->info = x->ee_info;
  const struct sockaddr *off = SO_EE_OFFENDER(x);
  if (off->sa_family == AF_INET || off->sa_family == AF_INET6)
    memcpy(&e->from, off,
           off->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                     : sizeof(struct sockaddr_in6));
  /* The request the error is about: our type and identifier? */
  if (n < 8 ||
      req[0] != (s->family == AF_INET6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO))
    return 0;
  memcpy(&id, req + 4, 2);
  memcpy(&seq, req + 6, 2);
  e->seq = ntohs(seq);
  return ntohs(id) == s->ident;
}

int sk_icmp_error_recv(sk_icmp_sock_t *s, sk_icmp_error_t *e) {
  union {
    char buf[512];
    struct cmsghdr align;
  } ctl;
  uint8_t req[64];
  struct iovec iov = {.iov_base = req, .iov_len = sizeof req};
  struct msghdr m = {.msg_name = &e->dest,
                     .msg_namelen = sizeof e->dest,
                     .msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = ctl.buf,
                     .msg_controllen = sizeof ctl};
  memset(e, 0, sizeof *e);
  ssize_t n = recvmsg(s->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
  if (n < 0)
    return -errno;
  const struct sock_extended_err *x = cmsg_error(&m);
  return x ? error_fill(s, x, req, n, e) : 0;
}

static const char *unreach4_text(uint8_t code) {
  static const char *const t[] = {
      "Destination Net Unreachable",
      "Destination Host Unreachable",
      "Destination Protocol Unreachable",
      "Destination Port Unreachable",
      NULL, /* 4: frag needed, with the MTU */
      "Source Route Failed",
      "Destination Net Unknown",
      "Destination Host Unknown",
      "Source Host Isolated",
      "Destination Net Prohibited",
      "Destination Host Prohibited",
      "Destination Net Unreachable for Type of Service",
      "Destination Host Unreachable for Type of Service",
      "Packet filtered",
      "Precedence Violation",
      "Precedence Cutoff",
  };
  return code < sizeof t / sizeof t[0] ? t[code] : NULL;
}

static void error4_text(const sk_icmp_error_t *e, char *out, size_t cap) {
  const char *t = NULL;
  switch (e->type) {
  case ICMP_DEST_UNREACH:
    if (e->code == ICMP_FRAG_NEEDED) {
      snprintf(out, cap, "Frag needed and DF set (mtu = %u)", e->info);
      return;
    }
    if (!(t = unreach4_text(e->code))) {
      snprintf(out, cap, "Dest Unreachable, Bad Code: %d", e->code);
      return;
    }
    break;
  case ICMP_SOURCE_QUENCH:
    t = "Source Quench";
    break;
  case ICMP_TIME_EXCEEDED:
    t = e->code == 0   ? "Time to live exceeded"
        : e->code == 1 ? "Frag reassembly time exceeded"
                       : NULL;
    if (!t) {
      snprintf(out, cap, "Time exceeded, Bad Code: %d", e->code);
      return;
    }
    break;
  case ICMP_PARAMETERPROB:
    snprintf(out, cap, "Parameter problem: pointer = %u", e->info);
    return;
  default:
    snprintf(out, cap, "Bad ICMP type: %d", e->type);
    return;
  }
  snprintf(out, cap, "%s", t);
}

static void error6_text(const sk_icmp_error_t *e, char *out, size_t cap) {
  static const char *const unreach[] = {
      "No route", "Administratively prohibited",
      "Beyond scope of source address", "Address unreachable",
      "Port unreachable"};
  switch (e->type) {
  case ICMP6_DST_UNREACH:
    if (e->code < sizeof unreach / sizeof unreach[0])
      snprintf(out, cap, "Destination unreachable: %s", unreach[e->code]);
    else
      snprintf(out, cap, "Destination unreachable: Unknown code %d", e->code);
    return;
  case ICMP6_PACKET_TOO_BIG:
    snprintf(out, cap, "Packet too big: mtu=%u", e->info);
    return;
  case ICMP6_TIME_EXCEEDED:
    if (e->code <= 1)
      snprintf(out, cap, "Time exceeded: %s",
               e->code ? "Defragmentation failure" : "Hop limit");
    else
      snprintf(out, cap, "Time exceeded: code %d", e->code);
    return;
  case ICMP6_PARAM_PROB:
    snprintf(out, cap, "Parameter problem: code %d at %u", e->code, e->info);
    return;
  }
  snprintf(out, cap, "Unknown icmp type: %d", e->type);
}

void sk_icmp_error_text(const sk_icmp_error_t *e, int family, char *out,
                        size_t cap) {
  if (e->local)
    snprintf(out, cap, "local error: %s", strerror(e->err));
  else if (family == AF_INET6)
    error6_text(e, out, cap);
  else
    error4_text(e, out, cap);
}
