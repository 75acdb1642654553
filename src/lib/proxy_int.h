/* sockit: the pure parts of the proxy client, for proxy.c and its tests.
 * Builders return the request's length, parsers 0; both return a negative
 * code on failure with the reason alone in why (the caller names the
 * proxy): "connection refused by destination (reply 5)". */
#ifndef SOCKIT_PROXY_INT_H
#define SOCKIT_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/proxy.h"

/* The longest HTTP reply head read before giving up. */
#define SK__HTTP_HEAD_MAX 8192
/* Room for any request: an HTTP CONNECT with two 255-byte credentials. */
#define SK__PROXY_REQ_MAX 2048

/* SOCKS4 CONNECT; SOCKS4a when the target host is not an IPv4 literal. */
int sk__socks4_request(char *why, uint8_t *buf, size_t cap,
                       const sk_addr_t *target, const char *user);
/* The 8-byte SOCKS4 reply. */
int sk__socks4_reply(char *why, const uint8_t *r);

/* Method offer: no authentication, plus user/password when auth. */
int sk__socks5_greeting(uint8_t *buf, bool auth);
/* The 2-byte method choice; returns the method chosen (0 or 2). */
int sk__socks5_method(char *why, const uint8_t *r, bool auth);
/* RFC 1929 request, and its 2-byte reply. */
int sk__socks5_auth_request(char *why, uint8_t *buf, size_t cap,
                            const char *user, const char *password);
int sk__socks5_auth_reply(char *why, const uint8_t *r);
/* CONNECT to an IPv4, IPv6 or domain-name target. */
int sk__socks5_request(char *why, uint8_t *buf, size_t cap,
                       const sk_addr_t *target);
/* The first 5 bytes of the reply; returns how many bytes follow. */
int sk__socks5_reply(char *why, const uint8_t *r);

/* CONNECT host:port HTTP/1.1, Host, and Proxy-Authorization with a user. */
int sk__http_request(char *why, char *buf, size_t cap, const sk_addr_t *target,
                     const char *user, const char *password);
/* Length of the head up to and with its blank line, or 0 when buf does
 * not hold all of it yet; from is where the search may start. */
size_t sk__http_head_end(const char *buf, size_t len, size_t from);
/* The reply head: 0 for a 2xx status. */
int sk__http_reply(char *why, const char *head, size_t len);

/* RFC 4648 base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
void sk__base64(char *out, const void *in, size_t n);

#endif
