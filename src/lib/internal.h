/* sockit: helpers shared inside libsockit only. */
#ifndef SOCKIT_INTERNAL_H
#define SOCKIT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#if defined(__GNUC__)
#define SK__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SK__PRINTF(f, a)
#endif

/* Writes one formatted line into err (SK_ERR_LEN bytes) and returns code. */
int sk__fail(char *err, int code, const char *fmt, ...) SK__PRINTF(3, 4);

/* Room for user text quoted in a message: at most 64 bytes, escaped. */
#define SK__QUOTE_LEN (64 * 4 + 8)

/* Quotes at most 64 bytes of user text into out (SK__QUOTE_LEN bytes),
 * escaping what is not printable: a message stays one line. */
const char *sk__quote(char *out, const char *text, size_t len);

/*
 * Copies len bytes to out turning each LF not preceded by CR into CRLF;
 * *last carries the previous byte across calls (start it at 0). out
 * needs 2 * len bytes; it may be in itself when out + 2 * len <= in +
 * len. Returns the bytes written.
 */
size_t sk__crlf_convert(const char *in, size_t len, char *out, int *last);

/*
 * The largest datagram payload fd can send to `to` (or, when to is NULL,
 * to its connected peer or, unconnected, its own family): 65507 over
 * IPv4 (IPv4-mapped IPv6 included), 65527 over IPv6; 0 when no fixed
 * limit applies (Unix sockets: the send buffer decides).
 */
int sk__udp_payload_max(int fd, const struct sockaddr *to);

/* sk_accept, with accept4 flags added to SOCK_CLOEXEC (SOCK_NONBLOCK:
 * a forwarder's client, whose relay then has no flags to restore). */
int sk__accept(char *err, int fd, struct sockaddr_storage *peer,
               socklen_t *peer_len, int flags);

/* Text for the TLS codes (tls.c), for sk_strerror; NULL when not one. */
const char *sk__tls_strerror(int code);

#endif
