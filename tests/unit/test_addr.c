/* Unit tests for addr.c: parsing, formatting and resolving addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "sockit/addr.h"
#include "sockit/error.h"

/* Parses text, expects failure with code and exactly one line msg. */
static void parse_fails(const char *text, int flags, int code,
                        const char *msg) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  assert_int_equal(sk_addr_parse(err, &a, text, flags), code);
  assert_string_equal(err, msg);
  assert_null(strchr(err, '\n'));
  /* The message buffer is optional. */
  assert_int_equal(sk_addr_parse(NULL, &a, text, flags), code);
}

/* Parses text, expects an SK_ADDR_INET result with host and port. */
static void parse_inet(const char *text, int flags, const char *host,
                       int port) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  assert_int_equal(sk_addr_parse(err, &a, text, flags), 0);
  assert_int_equal(a.kind, SK_ADDR_INET);
  assert_string_equal(a.host, host);
  assert_int_equal(a.port, port);
}

/* sk_port_parse: expects failure with exactly msg. */
static void port_fails(const char *text, int flags, const char *msg) {
  char err[SK_ERR_LEN] = "";
  assert_int_equal(sk_port_parse(err, text, flags), SK_EPORT);
  assert_string_equal(err, msg);
}

/* Decimal ports in range parse, with and without SK_ADDR_PORT_ZERO. */
static void test_port_valid(void **state) {
  (void)state;
  assert_int_equal(sk_port_parse(NULL, "1", 0), 1);
  assert_int_equal(sk_port_parse(NULL, "2333", 0), 2333);
  assert_int_equal(sk_port_parse(NULL, "65535", 0), 65535);
  assert_int_equal(sk_port_parse(NULL, "00080", 0), 80);
  assert_int_equal(sk_port_parse(NULL, "0", SK_ADDR_PORT_ZERO), 0);
}

/* Each malformed port gets its own exact one-line message. */
static void test_port_errors(void **state) {
  (void)state;
  port_fails("2333x", 0, "port \"2333x\" is not an integer in 1..65535");
  port_fails("70000", 0, "port \"70000\" is out of range 1..65535");
  port_fails("65536", 0, "port \"65536\" is out of range 1..65535");
  port_fails("99999999999999999999", 0,
             "port \"99999999999999999999\" is out of range 1..65535");
  port_fails("0", 0, "port \"0\" is out of range 1..65535");
  port_fails("-1", 0, "port \"-1\" is not an integer in 1..65535");
  port_fails("", 0, "port \"\" is not an integer in 1..65535");
  port_fails(" 80", 0, "port \" 80\" is not an integer in 1..65535");
  port_fails("+80", 0, "port \"+80\" is not an integer in 1..65535");
  port_fails("x", SK_ADDR_PORT_ZERO,
             "port \"x\" is not an integer in 0..65535");
}

/* Ports inside host:port carry the same messages. */
static void test_addr_port_errors(void **state) {
  (void)state;
  parse_fails("127.0.0.1:2333x", 0, SK_EPORT,
              "port \"2333x\" is not an integer in 1..65535");
  parse_fails("2333x", 0, SK_EPORT,
              "port \"2333x\" is not an integer in 1..65535");
  parse_fails("127.0.0.1:70000", 0, SK_EPORT,
              "port \"70000\" is out of range 1..65535");
  parse_fails("127.0.0.1:0", 0, SK_EPORT,
              "port \"0\" is out of range 1..65535");
  parse_fails("localhost:-1", 0, SK_EPORT,
              "port \"-1\" is not an integer in 1..65535");
  parse_fails("[::1]:http", 0, SK_EPORT,
              "port \"http\" is not an integer in 1..65535");
  parse_inet("127.0.0.1:0", SK_ADDR_PORT_ZERO, "127.0.0.1", 0);
  parse_inet("0", SK_ADDR_PORT_ZERO, "", 0);
}

/* host:port without the port, or with an empty one, is refused. */
static void test_addr_missing_port(void **state) {
  (void)state;
  parse_fails("127.0.0.1", 0, SK_EADDR, "missing port in \"127.0.0.1\"");
  parse_fails("127.0.0.1:", 0, SK_EADDR, "missing port in \"127.0.0.1:\"");
  parse_fails("localhost", 0, SK_EADDR, "missing port in \"localhost\"");
  parse_fails("", 0, SK_EADDR, "missing port in \"\"");
  parse_fails(":", 0, SK_EADDR, "missing port in \":\"");
}

/* IPv6 needs brackets; each broken bracket form names its mistake. */
static void test_addr_brackets(void **state) {
  (void)state;
  parse_inet("[::1]:2333", 0, "::1", 2333);
  parse_inet("[fe80::1%lo]:80", 0, "fe80::1%lo", 80);
  parse_fails("[::1]", 0, SK_EADDR, "missing port in \"[::1]\"");
  parse_fails("[::1]:", 0, SK_EADDR, "missing port in \"[::1]:\"");
  parse_fails("[::1", 0, SK_EADDR, "missing \"]\" in address \"[::1\"");
  parse_fails("[::1]2333", 0, SK_EADDR,
              "expected \":port\" after \"]\" in address \"[::1]2333\"");
  parse_fails("::1:80", 0, SK_EADDR,
              "IPv6 address in \"::1:80\" must be in brackets, as in "
              "[::1]:2333");
}

/* "port" and ":port" mean any host; host:port keeps the host. */
static void test_addr_inet_forms(void **state) {
  (void)state;
  parse_inet("2333", 0, "", 2333);
  parse_inet(":2333", 0, "", 2333);
  parse_inet("127.0.0.1:2333", 0, "127.0.0.1", 2333);
  parse_inet("localhost:80", 0, "localhost", 80);
  parse_inet("example.com:65535", 0, "example.com", 65535);
}

/* unix:/path and unix:@name; the path is required and bounded. */
static void test_addr_unix(void **state) {
  char err[SK_ERR_LEN] = "", text[SK_PATH_LEN + 16];
  sk_addr_t a;
  (void)state;
  assert_int_equal(sk_addr_parse(err, &a, "unix:/tmp/x", 0), 0);
  assert_int_equal(a.kind, SK_ADDR_UNIX);
  assert_string_equal(a.path, "/tmp/x");
  assert_false(a.abstract);
  assert_int_equal(sk_addr_parse(err, &a, "unix:@abstract", 0), 0);
  assert_int_equal(a.kind, SK_ADDR_UNIX);
  assert_string_equal(a.path, "abstract");
  assert_true(a.abstract);
  parse_fails("unix:", 0, SK_EADDR, "missing path in Unix address \"\"");
  parse_fails("unix:@", 0, SK_EADDR, "missing path in Unix address \"@\"");
  /* sun_path holds 107 bytes and a NUL. */
  memcpy(text, "unix:/", 6);
  memset(text + 6, 'p', SK_PATH_LEN - 2);
  text[6 + SK_PATH_LEN - 2] = '\0';
  assert_int_equal(sk_addr_parse(err, &a, text, 0), 0);
  assert_int_equal(strlen(a.path), SK_PATH_LEN - 1);
  strcat(text, "p");
  assert_int_equal(sk_addr_parse(err, &a, text, 0), SK_EADDR);
  assert_non_null(strstr(err, "is longer than 107 bytes"));
  assert_memory_equal(err, "Unix path \"/ppp", 15);
}

/* A host over 255 bytes is refused; the message quotes only 64 bytes. */
static void test_addr_long_host(void **state) {
  char text[400], want[SK_ERR_LEN];
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  (void)state;
  memset(text, 'h', 300);
  strcpy(text + 300, ":80");
  assert_int_equal(sk_addr_parse(err, &a, text, 0), SK_EADDR);
  snprintf(want, sizeof want, "host \"%.64s...\" is longer than 255 bytes",
           text);
  assert_string_equal(err, want);
  /* Exactly 255 bytes still fits. */
  strcpy(text + 255, ":80");
  assert_int_equal(sk_addr_parse(err, &a, text, 0), 0);
  assert_int_equal(strlen(a.host), 255);
}

/* Control bytes in the input are escaped, so a message stays one line. */
static void test_addr_message_escapes(void **state) {
  (void)state;
  parse_fails("a\nb", 0, SK_EADDR, "missing port in \"a\\x0ab\"");
  parse_fails("1:\x1b[2J", 0, SK_EPORT,
              "port \"\\x1b[2J\" is not an integer in 1..65535");
  parse_fails("h:\"\\", 0, SK_EPORT,
              "port \"\\x22\\x5c\" is not an integer in 1..65535");
}

/* sk_addr_set_inet takes host and port apart; "[::1]" loses brackets. */
static void test_addr_set_inet(void **state) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  (void)state;
  assert_int_equal(sk_addr_set_inet(err, &a, "[::1]", "2333", 0), 0);
  assert_int_equal(a.kind, SK_ADDR_INET);
  assert_string_equal(a.host, "::1");
  assert_int_equal(a.port, 2333);
  assert_int_equal(sk_addr_set_inet(err, &a, "::1", "80", 0), 0);
  assert_string_equal(a.host, "::1");
  assert_int_equal(sk_addr_set_inet(err, &a, NULL, "80", 0), 0);
  assert_string_equal(a.host, "");
  assert_int_equal(sk_addr_set_inet(err, &a, "", "0", SK_ADDR_PORT_ZERO), 0);
  assert_int_equal(a.port, 0);
  assert_int_equal(sk_addr_set_inet(err, &a, "::1", "0", 0), SK_EPORT);
  assert_string_equal(err, "port \"0\" is out of range 1..65535");
}

/* sk_addr_set_unix: '@' selects the abstract namespace. */
static void test_addr_set_unix(void **state) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  (void)state;
  assert_int_equal(sk_addr_set_unix(err, &a, "/run/x.sock"), 0);
  assert_string_equal(a.path, "/run/x.sock");
  assert_false(a.abstract);
  assert_int_equal(sk_addr_set_unix(err, &a, "@name"), 0);
  assert_string_equal(a.path, "name");
  assert_true(a.abstract);
  assert_int_equal(sk_addr_set_unix(err, &a, ""), SK_EADDR);
  assert_string_equal(err, "missing path in Unix address \"\"");
}

/* Parses text and formats it back. */
static void format_is(const char *text, const char *want) {
  char buf[SK_ADDRSTR_LEN];
  sk_addr_t a;
  assert_int_equal(sk_addr_parse(NULL, &a, text, SK_ADDR_PORT_ZERO), 0);
  sk_addr_format(&a, buf, sizeof buf);
  assert_string_equal(buf, want);
}

/* sk_addr_format writes every kind the way a user would type it. */
static void test_addr_format(void **state) {
  char small[8];
  sk_addr_t a;
  (void)state;
  format_is("127.0.0.1:2333", "127.0.0.1:2333");
  format_is("[::1]:2333", "[::1]:2333");
  format_is("2333", "*:2333");
  format_is(":0", "*:0");
  format_is("localhost:80", "localhost:80");
  format_is("unix:/tmp/x", "unix:/tmp/x");
  format_is("unix:@abstract", "unix:@abstract");
  /* A short buffer gets a cut but terminated string. */
  assert_int_equal(sk_addr_parse(NULL, &a, "127.0.0.1:2333", 0), 0);
  memset(small, 'X', sizeof small);
  sk_addr_format(&a, small, sizeof small);
  assert_string_equal(small, "127.0.0");
}

/* sk_sockaddr_format: IPv4, IPv6, Unix path, abstract, unnamed, other. */
static void test_sockaddr_format(void **state) {
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(2333)};
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  struct sockaddr other = {.sa_family = AF_APPLETALK};
  size_t base = offsetof(struct sockaddr_un, sun_path);
  char buf[SK_ADDRSTR_LEN];
  (void)state;
  inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
  sk_sockaddr_format((struct sockaddr *)&in, sizeof in, buf, sizeof buf);
  assert_string_equal(buf, "127.0.0.1:2333");
  inet_pton(AF_INET6, "::1", &in6.sin6_addr);
  sk_sockaddr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf);
  assert_string_equal(buf, "[::1]:80");
  strcpy(un.sun_path, "/tmp/x");
  sk_sockaddr_format((struct sockaddr *)&un, sizeof un, buf, sizeof buf);
  assert_string_equal(buf, "unix:/tmp/x");
  memcpy(un.sun_path, "\0name", 5);
  sk_sockaddr_format((struct sockaddr *)&un, (socklen_t)(base + 5), buf,
                     sizeof buf);
  assert_string_equal(buf, "unix:@name");
  sk_sockaddr_format((struct sockaddr *)&un, (socklen_t)base, buf, sizeof buf);
  assert_string_equal(buf, "unix:(unnamed)");
  sk_sockaddr_format(&other, sizeof other, buf, sizeof buf);
  assert_string_equal(buf, "?");
}

/* IPv4-mapped IPv6 peers (a dual-stack listener's IPv4 clients) are
 * shown as the IPv4 address; sk_sockaddr_host splits host and port. */
static void test_sockaddr_mapped(void **state) {
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(41)};
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  char buf[SK_ADDRSTR_LEN];
  (void)state;
  inet_pton(AF_INET6, "::ffff:1.2.3.4", &in6.sin6_addr);
  sk_sockaddr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf);
  assert_string_equal(buf, "1.2.3.4:41");
  assert_int_equal(sk_sockaddr_host((struct sockaddr *)&in6, buf, sizeof buf),
                   41);
  assert_string_equal(buf, "1.2.3.4");
  inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
  assert_int_equal(sk_sockaddr_host((struct sockaddr *)&in6, buf, sizeof buf),
                   41);
  assert_string_equal(buf, "2001:db8::1");
  assert_int_equal(sk_sockaddr_host((struct sockaddr *)&un, buf, sizeof buf),
                   -EAFNOSUPPORT);
  assert_string_equal(sk_strerror(-EAFNOSUPPORT),
                      "Address family not supported by protocol");
}

/* With SK_ADDR_SERVICE a port may be a service name; garbage, ranges of
 * text and SK_ADDR_NUMERIC still get the port rule. */
static void test_port_service_names(void **state) {
  (void)state;
  assert_int_equal(sk_port_parse(NULL, "http", SK_ADDR_SERVICE), 80);
  assert_int_equal(sk_port_parse(NULL, "ssh", SK_ADDR_SERVICE), 22);
  assert_int_equal(sk_port_parse(NULL, "2333", SK_ADDR_SERVICE), 2333);
  port_fails("http", 0, "port \"http\" is not an integer in 1..65535");
  port_fails("http", SK_ADDR_SERVICE | SK_ADDR_NUMERIC,
             "port \"http\" is not an integer in 1..65535");
  port_fails("no-such-service", SK_ADDR_SERVICE,
             "port \"no-such-service\" is not an integer in 1..65535");
  port_fails("70000", SK_ADDR_SERVICE,
             "port \"70000\" is out of range 1..65535");
  parse_inet("localhost:http", SK_ADDR_SERVICE, "localhost", 80);
  parse_inet("[::1]:ssh", SK_ADDR_SERVICE, "::1", 22);
}

/* SK_ADDR_NUMERIC: numeric hosts (and the any address) only; a name is
 * an error naming it, and resolution never asks DNS. */
static void test_addr_numeric(void **state) {
  char err[SK_ERR_LEN] = "";
  struct addrinfo *ai = NULL;
  sk_addr_t a;
  (void)state;
  parse_inet("127.0.0.1:80", SK_ADDR_NUMERIC, "127.0.0.1", 80);
  parse_inet("[::1]:80", SK_ADDR_NUMERIC, "::1", 80);
  parse_inet(":80", SK_ADDR_NUMERIC, "", 80);
  parse_fails("localhost:80", SK_ADDR_NUMERIC, SK_EADDR,
              "host \"localhost\" is not a numeric IP address, and name "
              "lookup is off (-n)");
  assert_int_equal(
      sk_addr_set_inet(err, &a, "example.com", "1", SK_ADDR_NUMERIC), SK_EADDR);
  /* A name slipped past the parser still never reaches DNS. */
  assert_int_equal(sk_addr_set_inet(NULL, &a, "localhost", "1", 0), 0);
  a.numeric = true;
  assert_int_equal(sk_addr_resolve(err, &a, AF_UNSPEC, SOCK_STREAM, false, &ai),
                   SK_ERESOLVE);
  assert_int_equal(sk_addr_set_inet(NULL, &a, "::1", "1", SK_ADDR_NUMERIC), 0);
  assert_true(a.numeric);
  assert_int_equal(sk_addr_resolve(err, &a, AF_UNSPEC, SOCK_STREAM, false, &ai),
                   0);
  freeaddrinfo(ai);
}

/* A name that cannot exist gives SK_ERESOLVE and the resolver's reason. */
static void test_addr_resolve_fails(void **state) {
  static const char want[] =
      "host \"no.such.host.invalid\" could not be resolved: ";
  char err[SK_ERR_LEN] = "";
  struct addrinfo *ai = (struct addrinfo *)&ai;
  sk_addr_t a;
  (void)state;
  assert_int_equal(sk_addr_parse(NULL, &a, "no.such.host.invalid:80", 0), 0);
  assert_int_equal(sk_addr_resolve(err, &a, AF_UNSPEC, SOCK_STREAM, false, &ai),
                   SK_ERESOLVE);
  assert_null(ai);
  assert_memory_equal(err, want, sizeof want - 1);
  assert_true(strlen(err) > sizeof want - 1);
  assert_null(strchr(err, '\n'));
}

/* Numeric hosts and the any address resolve without DNS. */
static void test_addr_resolve_numeric(void **state) {
  struct addrinfo *ai = NULL;
  sk_addr_t a;
  (void)state;
  assert_int_equal(sk_addr_parse(NULL, &a, "127.0.0.1:2333", 0), 0);
  assert_int_equal(sk_addr_resolve(NULL, &a, AF_INET, SOCK_STREAM, false, &ai),
                   0);
  assert_non_null(ai);
  assert_int_equal(ai->ai_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port), 2333);
  freeaddrinfo(ai);
  assert_int_equal(sk_addr_parse(NULL, &a, "80", 0), 0);
  assert_int_equal(sk_addr_resolve(NULL, &a, AF_INET6, SOCK_DGRAM, true, &ai),
                   0);
  assert_int_equal(ai->ai_family, AF_INET6);
  assert_true(IN6_IS_ADDR_UNSPECIFIED(
      &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr));
  freeaddrinfo(ai);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_valid),
      cmocka_unit_test(test_port_errors),
      cmocka_unit_test(test_addr_port_errors),
      cmocka_unit_test(test_addr_missing_port),
      cmocka_unit_test(test_addr_brackets),
      cmocka_unit_test(test_addr_inet_forms),
      cmocka_unit_test(test_addr_unix),
      cmocka_unit_test(test_addr_long_host),
      cmocka_unit_test(test_addr_message_escapes),
      cmocka_unit_test(test_addr_set_inet),
      cmocka_unit_test(test_addr_set_unix),
      cmocka_unit_test(test_addr_format),
      cmocka_unit_test(test_sockaddr_format),
      cmocka_unit_test(test_addr_resolve_fails),
      cmocka_unit_test(test_addr_resolve_numeric),
      cmocka_unit_test(test_sockaddr_mapped),
      cmocka_unit_test(test_port_service_names),
      cmocka_unit_test(test_addr_numeric),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
