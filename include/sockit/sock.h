/* sockit: create, bind, listen, accept and connect, with timeouts. */
#ifndef SOCKIT_SOCK_H
#define SOCKIT_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "sockit/addr.h"

typedef struct sk_sock_opts {
  int family;       /* AF_UNSPEC (both), AF_INET or AF_INET6 */
  int timeout_ms;   /* connect timeout; 0 waits as long as the kernel */
  int backlog;      /* listen backlog; 0 means SOMAXCONN */
  const sk_addr_t *source; /* local address to bind before connect */
  bool nonblock;    /* return the descriptor in non-blocking mode */
  const struct sk_mcast *mcast; /* multicast / broadcast (UDP); NULL: none */
} sk_sock_opts_t;

/* What sk_socket_open does after creating the socket. */
typedef enum sk_sock_mode {
  SK_SOCK_CONNECT = 1, /* connect to addr, trying each resolved address */
  SK_SOCK_LISTEN = 2,  /* bind to addr; listen too when it is a stream */
} sk_sock_mode_t;

/*
 * The one generic call behind the helpers below. socktype is
 * SOCK_STREAM or SOCK_DGRAM; opts may be NULL. Returns a descriptor, or
 * a negative code with a message such as
 * "bind 127.0.0.1:2333: Address already in use". Listening on the any
 * address with AF_UNSPEC gives one dual-stack IPv6 socket when it can.
 */
SK_API int sk_socket_open(char *err, const sk_addr_t *addr, int socktype,
                          sk_sock_mode_t mode, const sk_sock_opts_t *opts);

SK_API int sk_tcp_connect(char *err, const sk_addr_t *addr,
                          const sk_sock_opts_t *opts);
SK_API int sk_tcp_listen(char *err, const sk_addr_t *addr,
                         const sk_sock_opts_t *opts);
SK_API int sk_udp_bind(char *err, const sk_addr_t *addr, const sk_sock_opts_t *opts);
SK_API int sk_udp_connect(char *err, const sk_addr_t *addr,
                          const sk_sock_opts_t *opts);

/*
 * Accepts one connection, retrying on EINTR and on errors that belong
 * to the aborted connection only. Returns the new descriptor (close on
 * exec) or a negative code; peer and peer_len may be NULL.
 */
SK_API int sk_accept(char *err, int fd, struct sockaddr_storage *peer,
                     socklen_t *peer_len);

/* One datagram each way; returns bytes or a negative code. */
SK_API ssize_t sk_sendto(char *err, int fd, const void *buf, size_t len,
                         const struct sockaddr *to, socklen_t to_len);
SK_API ssize_t sk_recvfrom(char *err, int fd, void *buf, size_t cap,
                           struct sockaddr_storage *from, socklen_t *from_len);

/* Sets O_NONBLOCK on or off; returns 0 or -errno. */
SK_API int sk_fd_set_nonblock(int fd, bool on);

/* Multicast and broadcast on a UDP socket (sockit --mcast-*, -b). */
typedef struct sk_mcast {
  const char *join;   /* "GROUP[,IFACE]" to join (IPv4 or IPv6); NULL: none */
  bool ttl_set, loop_set;
  int ttl;            /* IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 0..255 */
  bool loop;          /* our own multicast comes back to this host */
  bool broadcast;     /* SO_BROADCAST: may send to a broadcast address */
  const char *iface;  /* send multicast through this interface; NULL: route */
} sk_mcast_t;

/*
 * Parses "GROUP[,IFACE]": a numeric multicast address and an interface
 * name or index (0: the system's choice). Returns 0, or SK_EADDR with a
 * message naming what is wrong.
 */
SK_API int sk_mcast_group_parse(char *err, const char *text,
                                struct sockaddr_storage *group, unsigned *ifindex);

/*
 * Applies m to a UDP socket of family (AF_INET or AF_INET6); the group
 * must be of the socket's family. Returns 0 or a negative code.
 */
SK_API int sk_mcast_apply(char *err, int fd, int family, const sk_mcast_t *m);

/* What a UDP probe learned (sk_udp_probe). */
enum sk_udp_state {
  SK_UDP_CLOSED = 0,        /* ICMP port unreachable came back */
  SK_UDP_OPEN = 1,          /* the port answered with a datagram */
  SK_UDP_OPEN_FILTERED = 2, /* no answer within the wait: open or dropped */
};

/*
 * Sends one probe datagram to addr (as OpenBSD nc -z -u) and waits up to
 * wait_ms for an answer or an ICMP error. Returns an sk_udp_state, or a
 * negative code with a message.
 */
SK_API int sk_udp_probe(char *err, const sk_addr_t *addr, const sk_sock_opts_t *opts,
                        int wait_ms);

/* Ports probed at once by sk_udp_probe_range: descriptors stay bounded. */
#define SK_UDP_PROBE_BATCH 64

/* Called for each port in order: an sk_udp_state, or a negative code. */
typedef void (*sk_udp_probe_cb)(void *ctx, int port, int state);

/*
 * Probes ports lo..hi of addr's host, SK_UDP_PROBE_BATCH at a time, each
 * batch waiting up to wait_ms once, and reports each port through cb as
 * its batch ends: a range of silent ports costs wait_ms per batch, not
 * per port.
 */
SK_API void sk_udp_probe_range(const sk_addr_t *addr, int lo, int hi,
                               const sk_sock_opts_t *opts, int wait_ms,
                               sk_udp_probe_cb cb, void *ctx);

#endif
