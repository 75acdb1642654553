/* sockit: connect through a SOCKS4, SOCKS5 or HTTP CONNECT proxy. */
#ifndef SOCKIT_PROXY_H
#define SOCKIT_PROXY_H

#include <stdbool.h>

#include "sockit/addr.h"
#include "sockit/sock.h"

/* A handshake with no -w bound still ends: a proxy that never answers
 * must not hang the caller. */
#define SK_PROXY_TIMEOUT_MS 10000

typedef enum sk_proxy_type {
  SK_PROXY_NONE = 0,
  SK_PROXY_HTTP = 1,   /* HTTP/1.1 CONNECT host:port */
  SK_PROXY_SOCKS4 = 2, /* SOCKS4, and SOCKS4a for a target name */
  SK_PROXY_SOCKS5 = 3, /* RFC 1928, with RFC 1929 user/password */
} sk_proxy_type_t;

typedef struct sk_proxy_opts {
  sk_proxy_type_t type;
  sk_addr_t addr;       /* the proxy itself (SK_ADDR_INET) */
  const char *user;     /* NULL: no authentication; SOCKS4: the user id */
  const char *password; /* NULL or "" with SOCKS4 */
  bool resolve_local;   /* resolve a target name here, not at the proxy */
  int timeout_ms;       /* whole handshake; 0 means SK_PROXY_TIMEOUT_MS */
} sk_proxy_opts_t;

/*
 * Connects to the proxy (opts: family, connect timeout, source, as for
 * sk_socket_open), asks it for a stream to target, and returns the
 * descriptor of the tunnel, with nothing past the proxy's reply read
 * from it. On failure returns a negative code with a message naming the
 * proxy and its reply, such as "SOCKS5 proxy 127.0.0.1:1080: connection
 * refused by destination (reply 5)": -errno for system errors, -ETIMEDOUT
 * when the handshake outlasts its bound, SK_EPROXY when the proxy
 * refused or spoke something else.
 */
SK_API int sk_proxy_connect(char *err, const sk_proxy_opts_t *proxy,
                            const sk_addr_t *target, const sk_sock_opts_t *opts);

/*
 * The handshake alone, on fd already connected to the proxy (blocking
 * or not; its mode is kept). Returns 0 or a negative code as above.
 */
SK_API int sk_proxy_handshake(char *err, int fd, const sk_proxy_opts_t *proxy,
                              const sk_addr_t *target);

/* "socks4", "socks5", "http"; also nc's -X "4", "5", "connect".
 * Returns the type, or SK_PROXY_NONE for anything else. */
SK_API sk_proxy_type_t sk_proxy_type_parse(const char *name);

/* The port a proxy of this type listens on when none is given: 1080
 * for SOCKS, 3128 for HTTP, as ncat. */
SK_API int sk_proxy_default_port(sk_proxy_type_t type);

/* "SOCKS4", "SOCKS5", "HTTP". */
SK_API const char *sk_proxy_type_name(sk_proxy_type_t type);

#endif
