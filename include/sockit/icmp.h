/* sockit: ICMP echo (ping) over IPv4 and IPv6, for sockit ping. */
#ifndef SOCKIT_ICMP_H
#define SOCKIT_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockit/error.h"

/* Largest echo payload: an IPv4 datagram minus its 20 + 8 header bytes;
 * IPv6 has no header inside its 65535-byte payload length. */
#define SK_ICMP_DATA_MAX4 65507
#define SK_ICMP_DATA_MAX6 65527

typedef struct sk_icmp_sock {
  int fd;
  int family; /* AF_INET or AF_INET6 */
  bool raw;   /* SOCK_RAW (root, CAP_NET_RAW), else an ICMP datagram socket */
  uint16_t ident;   /* echo identifier replies must carry */
  bool ident_known; /* a datagram socket's is known once it is bound */
} sk_icmp_sock_t;

/* One parsed echo reply. */
typedef struct sk_icmp_echo {
  uint16_t ident, seq;
  const uint8_t *data; /* the payload, inside the caller's buffer */
  size_t data_len;
  int ttl; /* TTL / hop limit, or -1 when unknown */
} sk_icmp_echo_t;

/* What sk_icmp_echo_parse found. */
typedef enum sk_icmp_kind {
  SK_ICMP_REPLY = 0,   /* an echo reply for us */
  SK_ICMP_OTHER = 1,   /* another type or identifier, or too short */
  SK_ICMP_CORRUPT = 2, /* our reply, but its checksum fails (out filled) */
} sk_icmp_kind_t;

/*
 * Opens an ICMP socket for family: an ICMP datagram socket when
 * net.ipv4.ping_group_range covers our group, a raw socket otherwise.
 * Returns the descriptor (also in s->fd), or a negative code with one
 * line in err naming the sysctl and the capability that would allow it
 * (-EACCES / -EPERM then).
 */
SK_API int sk_icmp_open(char *err, int family, sk_icmp_sock_t *s);

/* The Internet checksum (RFC 1071) of len bytes, in network order. */
SK_API uint16_t sk_icmp_checksum(const void *buf, size_t len);

/*
 * Writes an echo request (header + data_len bytes of data) into buf.
 * Returns the packet length, or 0 when cap is too small. For IPv6 the
 * kernel fills the checksum: it covers a pseudo-header we do not see.
 */
SK_API size_t sk_icmp_echo_build(void *buf, size_t cap, int family, uint16_t ident,
                                 uint16_t seq, const void *data, size_t data_len);

/*
 * Classifies one received packet (with its IPv4 header when s is a raw
 * IPv4 socket) and fills out for a reply, corrupt or not. The IPv4 checksum is
 * checked here; the ICMPv6 one covers the addresses and the kernel checks it.
 */
SK_API sk_icmp_kind_t sk_icmp_echo_parse(const sk_icmp_sock_t *s, const void *pkt,
                                         size_t len, sk_icmp_echo_t *out);

/*
 * Sends one echo request to `to`; learns the kernel's identifier on a
 * datagram socket at the first send. Returns bytes sent or -errno.
 */
SK_API ssize_t sk_icmp_send(char *err, sk_icmp_sock_t *s, const void *pkt, size_t len,
                            const struct sockaddr *to, socklen_t tolen);

/*
 * Receives one packet without blocking (MSG_DONTWAIT); *ttl gets the
 * TTL / hop limit from the control data (-1 if absent). Returns the
 * length, or -errno (-EAGAIN when nothing is waiting).
 */
SK_API ssize_t sk_icmp_recv(sk_icmp_sock_t *s, void *buf, size_t cap,
                            struct sockaddr_storage *from, socklen_t *fromlen,
                            int *ttl);

/* An ICMP error about one of our requests, or a local send error. */
typedef struct sk_icmp_error {
  uint16_t seq;
  bool local;         /* the kernel's own (err), not a router's ICMP */
  int err;            /* errno of a local error */
  uint8_t type, code; /* the ICMP error, in s->family's numbering */
  uint32_t info;      /* MTU of "too big", pointer of a parameter problem */
  struct sockaddr_storage from; /* who sent the error; AF_UNSPEC if none */
  struct sockaddr_storage dest; /* where the request went */
} sk_icmp_error_t;

/*
 * Takes one entry from the socket's error queue (IP_RECVERR, set by
 * sk_icmp_open on both socket kinds). Returns 1 and fills e when it is
 * about one of our echo requests, 0 for anything else, or -errno
 * (-EAGAIN when the queue is empty).
 */
SK_API int sk_icmp_error_recv(sk_icmp_sock_t *s, sk_icmp_error_t *e);

/* iputils' words for an ICMP error ("Destination Host Unreachable"). */
SK_API void sk_icmp_error_text(const sk_icmp_error_t *e, int family, char *out,
                               size_t cap);

#endif
