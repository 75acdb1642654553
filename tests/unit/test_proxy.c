/*
 * Unit tests for the proxy client's pure parts (proxy.c): the requests
 * built for SOCKS4/4a, SOCKS5 and HTTP CONNECT, and the replies parsed,
 * byte for byte as RFC 1928, RFC 1929 and the SOCKS4/4a notes give them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/lib/proxy_int.h"

static sk_addr_t target(const char *host, uint16_t port) {
  sk_addr_t a = {.kind = SK_ADDR_INET, .port = port};
  strcpy(a.host, host);
  return a;
}

/* ---- SOCKS4 ---- */

/* An IPv4 target: version 4, CONNECT, port, address, user id, NUL. */
static void test_socks4_request_ipv4(void **state) {
  uint8_t buf[64];
  sk_addr_t t = target("10.1.2.3", 8080);
  (void)state;
  int n = sk__socks4_request(NULL, buf, sizeof buf, &t, "bob");
  const uint8_t want[] = {4, 1, 0x1f, 0x90, 10, 1, 2, 3, 'b', 'o', 'b', 0};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(buf, want, sizeof want);
}

/* A name: SOCKS4a's 0.0.0.1, then the empty user id, then the name. */
static void test_socks4a_request_name(void **state) {
  uint8_t buf[64];
  sk_addr_t t = target("example.org", 80);
  (void)state;
  int n = sk__socks4_request(NULL, buf, sizeof buf, &t, NULL);
  const uint8_t want[] = {4, 1, 0, 80, 0, 0, 0, 1, 0, 'e', 'x', 'a', 'm',
                          'p', 'l', 'e', '.', 'o', 'r', 'g', 0};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(buf, want, sizeof want);
}

/* SOCKS4 has no room for IPv6: refused with the advice to use SOCKS5. */
static void test_socks4_request_ipv6_refused(void **state) {
  char why[SK_ERR_LEN];
  uint8_t buf[64];
  sk_addr_t t = target("::1", 80);
  (void)state;
  assert_int_equal(sk__socks4_request(why, buf, sizeof buf, &t, NULL),
                   SK_EPROXY);
  assert_non_null(strstr(why, "use socks5"));
}

/* 90 grants; 91 to 93 are named with their number; a reply whose first
 * byte is not 0 is not SOCKS4 at all. */
static void test_socks4_reply(void **state) {
  char why[SK_ERR_LEN];
  (void)state;
  assert_int_equal(sk__socks4_reply(why, (uint8_t[]){0, 90, 0, 0, 0, 0, 0, 0}),
                   0);
  assert_int_equal(sk__socks4_reply(why, (uint8_t[]){0, 91, 0, 0, 0, 0, 0, 0}),
                   SK_EPROXY);
  assert_string_equal(why, "request rejected or failed (reply 91)");
  assert_int_equal(sk__socks4_reply(why, (uint8_t[]){0, 93, 0, 0, 0, 0, 0, 0}),
                   SK_EPROXY);
  assert_non_null(strstr(why, "(reply 93)"));
  assert_int_equal(sk__socks4_reply(why, (const uint8_t *)"HTTP/1.0"),
                   SK_EPROXY);
  assert_string_equal(why, "the reply is not SOCKS4 (first reply byte 0x48)");
}

/* ---- SOCKS5 ---- */

/* The offer: no authentication only, or also user/password. */
static void test_socks5_greeting(void **state) {
  uint8_t buf[4];
  (void)state;
  assert_int_equal(sk__socks5_greeting(buf, false), 3);
  assert_memory_equal(buf, ((uint8_t[]){5, 1, 0}), 3);
  assert_int_equal(sk__socks5_greeting(buf, true), 4);
  assert_memory_equal(buf, ((uint8_t[]){5, 2, 0, 2}), 4);
}

/* The method choice: 0 always, 2 only when offered; 0xff explained. */
static void test_socks5_method(void **state) {
  char why[SK_ERR_LEN];
  (void)state;
  assert_int_equal(sk__socks5_method(why, (uint8_t[]){5, 0}, false), 0);
  assert_int_equal(sk__socks5_method(why, (uint8_t[]){5, 2}, true), 2);
  assert_int_equal(sk__socks5_method(why, (uint8_t[]){5, 2}, false),
                   SK_EPROXY);
  assert_non_null(strstr(why, "not offered"));
  assert_int_equal(sk__socks5_method(why, (uint8_t[]){5, 0xff}, false),
                   SK_EPROXY);
  assert_non_null(strstr(why, "--proxy-auth"));
  assert_int_equal(sk__socks5_method(why, (uint8_t[]){0x48, 0x54}, false),
                   SK_EPROXY);
  assert_string_equal(why, "the reply is not SOCKS5 (first reply byte 0x48)");
}

/* RFC 1929: version 1, length-prefixed user and password. */
static void test_socks5_auth(void **state) {
  char why[SK_ERR_LEN], big[300];
  uint8_t buf[600];
  (void)state;
  int n = sk__socks5_auth_request(why, buf, sizeof buf, "al", "pw1");
  assert_int_equal(n, 8);
  assert_memory_equal(buf, ((uint8_t[]){1, 2, 'a', 'l', 3, 'p', 'w', '1'}),
                      8);
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(sk__socks5_auth_request(why, buf, sizeof buf, big, "p"),
                   SK_EPROXY);
  assert_int_equal(sk__socks5_auth_reply(why, (uint8_t[]){1, 0}), 0);
  assert_int_equal(sk__socks5_auth_reply(why, (uint8_t[]){1, 1}), SK_EPROXY);
  assert_string_equal(why, "authentication refused (status 1)");
}

/* CONNECT to IPv4 (type 1), IPv6 (type 4) and a name (type 3): the name
 * goes to the proxy as it is, for the proxy to resolve. */
static void test_socks5_request(void **state) {
  uint8_t buf[SK__PROXY_REQ_MAX];
  sk_addr_t v4 = target("127.0.0.1", 443), v6 = target("::1", 443),
            name = target("localhost", 443);
  (void)state;
  assert_int_equal(sk__socks5_request(NULL, buf, sizeof buf, &v4), 10);
  assert_memory_equal(buf, ((uint8_t[]){5, 1, 0, 1, 127, 0, 0, 1, 1, 0xbb}),
                      10);
  assert_int_equal(sk__socks5_request(NULL, buf, sizeof buf, &v6), 22);
  assert_memory_equal(buf, ((uint8_t[]){5, 1, 0, 4}), 4);
  assert_int_equal(buf[19], 1);
  assert_memory_equal(buf + 20, ((uint8_t[]){1, 0xbb}), 2);
  assert_int_equal(sk__socks5_request(NULL, buf, sizeof buf, &name), 16);
  assert_memory_equal(buf, "\x05\x01\x00\x03\x09localhost\x01\xbb", 16);
}

/* The reply's length follows its address type; errors name the reply. */
static void test_socks5_reply(void **state) {
  char why[SK_ERR_LEN];
  (void)state;
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 0, 0, 1, 127}), 5);
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 0, 0, 4, 0}), 17);
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 0, 0, 3, 9}), 11);
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 5, 0, 1, 0}),
                   SK_EPROXY);
  assert_string_equal(why, "connection refused by destination (reply 5)");
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 2, 0, 1, 0}),
                   SK_EPROXY);
  assert_string_equal(why, "connection not allowed by ruleset (reply 2)");
  assert_int_equal(sk__socks5_reply(why, (uint8_t[]){5, 0, 0, 7, 0}),
                   SK_EPROXY);
}

/* ---- HTTP CONNECT ---- */

/* RFC 4648's test vectors. */
static void test_base64(void **state) {
  char out[16];
  (void)state;
  sk__base64(out, "f", 1);
  assert_string_equal(out, "Zg==");
  sk__base64(out, "fo", 2);
  assert_string_equal(out, "Zm8=");
  sk__base64(out, "foo", 3);
  assert_string_equal(out, "Zm9v");
  sk__base64(out, "foobar", 6);
  assert_string_equal(out, "Zm9vYmFy");
}

/* The request line and Host header carry [v6]:port; credentials go in
 * Proxy-Authorization: Basic. */
static void test_http_request(void **state) {
  char buf[SK__PROXY_REQ_MAX];
  sk_addr_t t = target("::1", 22), n = target("example.org", 443);
  (void)state;
  assert_true(sk__http_request(NULL, buf, sizeof buf, &t, NULL, NULL) > 0);
  assert_string_equal(buf,
                      "CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\n\r\n");
  assert_true(sk__http_request(NULL, buf, sizeof buf, &n, "Aladdin",
                               "open sesame") > 0);
  assert_string_equal(buf, "CONNECT example.org:443 HTTP/1.1\r\n"
                           "Host: example.org:443\r\n"
                           "Proxy-Authorization: Basic "
                           "QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

/* The head ends at its blank line, found across reads too. */
static void test_http_head_end(void **state) {
  const char *r = "HTTP/1.1 200 OK\r\nX: y\r\n\r\ntunnel";
  (void)state;
  assert_int_equal(sk__http_head_end(r, strlen(r), 0), strlen(r) - 6);
  assert_int_equal(sk__http_head_end(r, 24, 0), 0);
  assert_int_equal(sk__http_head_end(r, strlen(r), 24), strlen(r) - 6);
  assert_int_equal(sk__http_head_end("\r\n\r", 3, 0), 0);
}

/* A head with bare LFs ends too (RFC 9112 2.2: a recipient MAY take a
 * lone LF as a line's end); before, sockit waited for CR LF CR LF until
 * the proxy closed or the deadline came. */
static void test_http_head_end_bare_lf(void **state) {
  char why[SK_ERR_LEN];
  const char *r = "HTTP/1.1 200 OK\nX: y\n\ntunnel";
  const char *mixed = "HTTP/1.1 200 OK\r\nX: y\n\r\ntunnel";
  const char *no = "HTTP/1.1 403 Forbidden\n\n";
  (void)state;
  assert_int_equal(sk__http_head_end(r, strlen(r), 0), strlen(r) - 6);
  assert_int_equal(sk__http_head_end(mixed, strlen(mixed), 0),
                   strlen(mixed) - 6);
  assert_int_equal(sk__http_head_end(r, 21, 0), 0);
  assert_int_equal(sk__http_head_end(r, strlen(r), 21), strlen(r) - 6);
  assert_int_equal(sk__http_reply(why, r, strlen(r) - 6), 0);
  assert_int_equal(sk__http_reply(why, no, strlen(no)), SK_EPROXY);
  assert_string_equal(why, "403 Forbidden");
}

/* 2xx opens the tunnel; anything else is quoted; not HTTP is named. */
static void test_http_reply(void **state) {
  char why[SK_ERR_LEN];
  const char *ok = "HTTP/1.0 200 Connection established\r\n\r\n";
  const char *no = "HTTP/1.1 403 Forbidden\r\n\r\n";
  const char *junk = "SSH-2.0-OpenSSH\r\n\r\n";
  (void)state;
  assert_int_equal(sk__http_reply(why, ok, strlen(ok)), 0);
  assert_int_equal(sk__http_reply(why, no, strlen(no)), SK_EPROXY);
  assert_string_equal(why, "403 Forbidden");
  assert_int_equal(sk__http_reply(why, junk, strlen(junk)), SK_EPROXY);
  assert_string_equal(why, "the reply is not HTTP (\"SSH-2.0-OpenSSH\")");
}

/* The HTTP handshake leaves the tunnel's first bytes in the socket,
 * even when they arrive in the same segment as the reply head. */
static void test_http_handshake_keeps_tunnel_bytes(void **state) {
  int sv[2];
  char req[256], rest[16];
  const char *reply = "HTTP/1.1 200 OK\r\n\r\nhello";
  sk_proxy_opts_t p = {.type = SK_PROXY_HTTP, .timeout_ms = 2000};
  sk_addr_t t = target("127.0.0.1", 9);
  (void)state;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(write(sv[1], reply, strlen(reply)), (ssize_t)strlen(reply));
  assert_int_equal(sk_proxy_handshake(NULL, sv[0], &p, &t), 0);
  assert_true(read(sv[1], req, sizeof req) > 0);
  assert_int_equal(read(sv[0], rest, sizeof rest), 5);
  assert_memory_equal(rest, "hello", 5);
  close(sv[0]);
  close(sv[1]);
}

/* A proxy that never answers ends the handshake at its bound. */
static void test_handshake_timeout(void **state) {
  int sv[2];
  char err[SK_ERR_LEN];
  sk_proxy_opts_t p = {.type = SK_PROXY_SOCKS5, .timeout_ms = 100};
  sk_addr_t t = target("127.0.0.1", 9);
  (void)state;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(sk_proxy_handshake(err, sv[0], &p, &t), -ETIMEDOUT);
  assert_non_null(strstr(err, "no complete reply within 0.1 s"));
  close(sv[0]);
  close(sv[1]);
}

/* A proxy that closes mid-handshake is named as such. */
static void test_handshake_eof(void **state) {
  int sv[2];
  char err[SK_ERR_LEN];
  sk_proxy_opts_t p = {.type = SK_PROXY_SOCKS4, .timeout_ms = 2000};
  sk_addr_t t = target("127.0.0.1", 9);
  (void)state;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(write(sv[1], "\0", 1), 1);
  shutdown(sv[1], SHUT_WR);
  assert_int_equal(sk_proxy_handshake(err, sv[0], &p, &t), SK_EPROXY);
  assert_non_null(strstr(err, "closed the connection during the handshake"));
  close(sv[0]);
  close(sv[1]);
}

/* The types as ncat and nc spell them, and their default ports. */
static void test_type_parse(void **state) {
  (void)state;
  assert_int_equal(sk_proxy_type_parse("socks4"), SK_PROXY_SOCKS4);
  assert_int_equal(sk_proxy_type_parse("5"), SK_PROXY_SOCKS5);
  assert_int_equal(sk_proxy_type_parse("connect"), SK_PROXY_HTTP);
  assert_int_equal(sk_proxy_type_parse("HTTP"), SK_PROXY_HTTP);
  assert_int_equal(sk_proxy_type_parse("socks6"), SK_PROXY_NONE);
  assert_int_equal(sk_proxy_default_port(SK_PROXY_HTTP), 3128);
  assert_int_equal(sk_proxy_default_port(SK_PROXY_SOCKS5), 1080);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_socks4_request_ipv4),
      cmocka_unit_test(test_socks4a_request_name),
      cmocka_unit_test(test_socks4_request_ipv6_refused),
      cmocka_unit_test(test_socks4_reply),
      cmocka_unit_test(test_socks5_greeting),
      cmocka_unit_test(test_socks5_method),
      cmocka_unit_test(test_socks5_auth),
      cmocka_unit_test(test_socks5_request),
      cmocka_unit_test(test_socks5_reply),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_http_request),
      cmocka_unit_test(test_http_head_end),
      cmocka_unit_test(test_http_head_end_bare_lf),
      cmocka_unit_test(test_http_reply),
      cmocka_unit_test(test_http_handshake_keeps_tunnel_bytes),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_handshake_eof),
      cmocka_unit_test(test_type_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
