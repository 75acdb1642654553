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

#endif
