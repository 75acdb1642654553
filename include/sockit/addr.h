/* sockit: addresses in text form, and their resolution. */
#ifndef SOCKIT_ADDR_H
#define SOCKIT_ADDR_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockit/error.h"

#define SK_HOST_LEN 256
#define SK_PATH_LEN 108 /* sizeof(sun_path) on Linux */
/* Room for any formatted address: "[host]:65535" or "unix:@path". */
#define SK_ADDRSTR_LEN (SK_HOST_LEN + 16)

typedef enum sk_addr_kind {
  SK_ADDR_INET = 1, /* host and port, IPv4 or IPv6 */
  SK_ADDR_UNIX = 2, /* filesystem path or Linux abstract name */
} sk_addr_kind_t;

typedef struct sk_addr {
  sk_addr_kind_t kind;
  char host[SK_HOST_LEN]; /* "" means any address */
  uint16_t port;          /* 0 only when SK_ADDR_PORT_ZERO allowed it */
  char path[SK_PATH_LEN]; /* Unix: path, or abstract name without '@' */
  bool abstract;
  bool numeric; /* resolve without DNS (set by SK_ADDR_NUMERIC) */
} sk_addr_t;

/* Flags for the parsers. */
#define SK_ADDR_PORT_ZERO 0x1 /* accept port 0: the OS chooses */
#define SK_ADDR_SERVICE 0x2   /* a port may be a service name ("http") */
/* The host must be a numeric IPv4 or IPv6 address, never looked up: a
 * name is an error. Wins over SK_ADDR_SERVICE. */
#define SK_ADDR_NUMERIC 0x4

/*
 * Parses a decimal port or, with SK_ADDR_SERVICE, a service name known
 * to getservbyname (/etc/services). Returns the port, or SK_EPORT with
 * a message such as: port "2333x" is not an integer in 1..65535.
 */
SK_API int sk_port_parse(char *err, const char *text, int flags);

/*
 * Parses "host:port", "[v6addr]:port", "port", ":port", "unix:/path"
 * or "unix:@abstract". Returns 0, or SK_EPORT / SK_EADDR with a message
 * naming the input and the rule it broke.
 */
SK_API int sk_addr_parse(char *err, sk_addr_t *addr, const char *text, int flags);

/* Fills addr from a separate host (NULL or "" for any) and port. */
SK_API int sk_addr_set_inet(char *err, sk_addr_t *addr, const char *host,
                            const char *port, int flags);

/* Fills addr from a Unix path; a leading '@' names an abstract socket. */
SK_API int sk_addr_set_unix(char *err, sk_addr_t *addr, const char *path);

/* Writes "127.0.0.1:2333", "[::1]:2333", "*:2333" or "unix:/path". */
SK_API void sk_addr_format(const sk_addr_t *addr, char *buf, size_t len);

/* Writes a kernel address the same way; "?" when unknown. An
 * IPv4-mapped IPv6 address (::ffff:1.2.3.4) is written as plain IPv4. */
SK_API void sk_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                               size_t n);

/*
 * Writes the numeric host of an IPv4 or IPv6 address, without brackets
 * (IPv4-mapped as plain IPv4), and returns its port: the parts nc prints
 * in "Connection received on HOST PORT". Returns -EAFNOSUPPORT for
 * other families.
 */
SK_API int sk_sockaddr_host(const struct sockaddr *sa, char *host, size_t n);

/*
 * Resolves an SK_ADDR_INET address with getaddrinfo (AI_NUMERICHOST
 * when addr->numeric: no DNS query is ever sent). family is
 * AF_UNSPEC, AF_INET or AF_INET6. Returns 0 and a list the caller frees
 * with freeaddrinfo(), or SK_ERESOLVE with the resolver's reason.
 */
SK_API int sk_addr_resolve(char *err, const sk_addr_t *addr, int family, int socktype,
                           bool passive, struct addrinfo **out);

#endif
