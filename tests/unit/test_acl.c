/* Unit tests for acl.c: --allow and --deny rules and peer checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "sockit/acl.h"
#include "sockit/error.h"

/* Whether a peer with the numeric address text may connect. */
static bool permits(const sk_acl_t *acl, const char *text) {
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(9)};
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
  if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
    return sk_acl_permits(acl, (struct sockaddr *)&in);
  assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
  return sk_acl_permits(acl, (struct sockaddr *)&in6);
}

/* Adds a rule that must be accepted. */
static void add_ok(sk_acl_t *acl, const char *text, bool allow) {
  char err[SK_ERR_LEN] = "";
  assert_int_equal(sk_acl_add(err, acl, text, allow), 0);
  assert_string_equal(err, "");
}

/* Adds a rule that must be refused with exactly msg. */
static void add_fails(const char *text, int code, const char *msg) {
  char err[SK_ERR_LEN] = "";
  sk_acl_t acl = {0};
  assert_int_equal(sk_acl_add(err, &acl, text, true), code);
  assert_string_equal(err, msg);
  assert_int_equal(acl.n_allow + acl.n_deny, 0);
}

/* No rules, or a NULL list, let everybody in. */
static void test_acl_empty(void **state) {
  sk_acl_t acl = {0};
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  (void)state;
  assert_true(permits(&acl, "10.1.2.3"));
  assert_true(permits(&acl, "2001:db8::1"));
  assert_true(sk_acl_permits(&acl, (struct sockaddr *)&un));
  assert_true(permits(NULL, "10.1.2.3"));
}

/* An allow list admits only what its IPv4 prefixes cover. */
static void test_acl_allow_v4(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "10.1.0.0/16", true);
  add_ok(&acl, "192.168.1.7", true);
  add_ok(&acl, "172.16.0.0/12", true);
  assert_true(permits(&acl, "10.1.255.255"));
  assert_false(permits(&acl, "10.2.0.1"));
  assert_true(permits(&acl, "192.168.1.7"));
  assert_false(permits(&acl, "192.168.1.8"));
  assert_true(permits(&acl, "172.31.0.1"));  /* inside the /12 */
  assert_false(permits(&acl, "172.32.0.1")); /* just past it */
  assert_false(permits(&acl, "::1"));
}

/* Deny rules win over allow rules; deny alone admits the rest. */
static void test_acl_deny_v4(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "10.0.0.0/8", false);
  assert_false(permits(&acl, "10.9.9.9"));
  assert_true(permits(&acl, "11.0.0.1"));
  assert_true(permits(&acl, "::1"));
  add_ok(&acl, "0.0.0.0/0", true);
  add_ok(&acl, "11.0.0.1/32", false);
  assert_false(permits(&acl, "10.9.9.9"));
  assert_false(permits(&acl, "11.0.0.1"));
  assert_true(permits(&acl, "11.0.0.2"));
  assert_false(permits(&acl, "::2")); /* /0 of IPv4 is not IPv6 */
}

/* IPv6 prefixes, including ones that end inside a byte. */
static void test_acl_v6(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "2001:db8::/32", true);
  add_ok(&acl, "fd00::/7", true);
  add_ok(&acl, "::1", true);
  add_ok(&acl, "2001:db8:dead::/48", false);
  assert_true(permits(&acl, "2001:db8:1::1"));
  assert_false(permits(&acl, "2001:db9::1"));
  assert_false(permits(&acl, "2001:db8:dead::1"));
  assert_true(permits(&acl, "fc00::1")); /* fd00::/7 covers fc00::/8 */
  assert_false(permits(&acl, "fe00::1"));
  assert_true(permits(&acl, "::1"));
  assert_false(permits(&acl, "::2"));
  assert_false(permits(&acl, "127.0.0.1"));
}

/* A dual-stack listener's ::ffff:a.b.c.d peers match IPv4 rules. */
static void test_acl_v4_mapped(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "127.0.0.0/8", true);
  add_ok(&acl, "127.0.0.9", false);
  assert_true(permits(&acl, "::ffff:127.0.0.1"));
  assert_false(permits(&acl, "::ffff:127.0.0.9"));
  assert_false(permits(&acl, "::ffff:10.0.0.1"));
  /* Only the mapped form is unwrapped, not an IPv4-compatible one. */
  assert_false(permits(&acl, "::127.0.0.1"));
}

/* A rule in ::ffff:a.b.c.d form matches the IPv4 peer, either form. */
static void test_acl_v4_mapped_rule(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "::ffff:127.0.0.0/104", true);
  add_ok(&acl, "::ffff:127.0.0.9", false);
  assert_int_equal(acl.allow[0].family, AF_INET);
  assert_int_equal(acl.allow[0].prefix, 8);
  assert_true(permits(&acl, "127.1.2.3"));
  assert_true(permits(&acl, "::ffff:127.1.2.3"));
  assert_false(permits(&acl, "127.0.0.9"));
  assert_false(permits(&acl, "::ffff:127.0.0.9"));
  assert_false(permits(&acl, "10.0.0.1"));
}

/* Unix peers carry no address: only an allow list can shut them out. */
static void test_acl_unix_peer(void **state) {
  sk_acl_t acl = {0};
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  (void)state;
  add_ok(&acl, "10.0.0.0/8", false);
  assert_true(sk_acl_permits(&acl, (struct sockaddr *)&un));
  add_ok(&acl, "127.0.0.1", true);
  assert_false(sk_acl_permits(&acl, (struct sockaddr *)&un));
}

/* Every malformed rule is refused with its own one-line message. */
static void test_acl_bad_rules(void **state) {
  (void)state;
  add_fails("10.0.0.0/33", SK_EADDR,
            "\"10.0.0.0/33\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..32");
  add_fails("::/129", SK_EADDR,
            "\"::/129\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..128");
  add_fails("10.0.0.0/-1", SK_EADDR,
            "\"10.0.0.0/-1\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..32");
  add_fails("10.0.0.0/", SK_EADDR,
            "\"10.0.0.0/\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..32");
  add_fails("10.0.0.0/8x", SK_EADDR,
            "\"10.0.0.0/8x\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..32");
  add_fails("localhost/8", SK_EADDR,
            "\"localhost/8\" is not ADDR/PREFIX with a numeric address "
            "and a prefix in 0..128");
  add_fails("", SK_EADDR, "address \"\" is not ADDR[/PREFIX]");
  add_fails("/8", SK_EADDR, "address \"/8\" is not ADDR[/PREFIX]");
}

/* Rule text is escaped in messages, so they stay on one line. */
static void test_acl_message_escapes(void **state) {
  (void)state;
  add_fails("10.0.0.0/8\n", SK_EADDR,
            "\"10.0.0.0/8\\x0a\" is not ADDR/PREFIX with a numeric "
            "address and a prefix in 0..32");
  add_fails("a\nb/8", SK_EADDR,
            "\"a\\x0ab/8\" is not ADDR/PREFIX with a numeric "
            "address and a prefix in 0..128");
}

/* The list holds SK_ACL_MAX rules of each kind, then says so. */
static void test_acl_full(void **state) {
  char err[SK_ERR_LEN] = "", text[32];
  sk_acl_t acl = {0};
  (void)state;
  for (int i = 0; i < SK_ACL_MAX; i++) {
    snprintf(text, sizeof text, "10.0.0.%d", i);
    add_ok(&acl, text, false);
  }
  assert_int_equal(sk_acl_add(err, &acl, "10.0.1.0", false), SK_EADDR);
  assert_string_equal(err, "more than 64 --deny rules");
  assert_int_equal(acl.n_deny, SK_ACL_MAX);
  add_ok(&acl, "127.0.0.1", true); /* the allow list is separate */
  assert_false(permits(&acl, "10.0.0.63"));
  assert_true(permits(&acl, "127.0.0.1"));
}

/* A host name adds each address it resolves to as a full-length rule. */
static void test_acl_host_name(void **state) {
  sk_acl_t acl = {0};
  (void)state;
  add_ok(&acl, "localhost", true);
  assert_true(acl.n_allow >= 1);
  assert_true(permits(&acl, "127.0.0.1"));
  assert_true(permits(&acl, "::ffff:127.0.0.1"));
  assert_false(permits(&acl, "127.0.0.2"));
  assert_false(permits(&acl, "10.0.0.1"));
}

/* A name that does not resolve is SK_ERESOLVE, naming the host. */
static void test_acl_unknown_name(void **state) {
  static const char want[] =
      "host \"no.such.host.invalid\" could not be resolved: ";
  char err[SK_ERR_LEN] = "";
  sk_acl_t acl = {0};
  (void)state;
  assert_int_equal(sk_acl_add(err, &acl, "no.such.host.invalid", false),
                   SK_ERESOLVE);
  assert_memory_equal(err, want, sizeof want - 1);
  assert_null(strchr(err, '\n'));
  assert_int_equal(acl.n_deny, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_acl_empty),
      cmocka_unit_test(test_acl_allow_v4),
      cmocka_unit_test(test_acl_deny_v4),
      cmocka_unit_test(test_acl_v6),
      cmocka_unit_test(test_acl_v4_mapped),
      cmocka_unit_test(test_acl_v4_mapped_rule),
      cmocka_unit_test(test_acl_unix_peer),
      cmocka_unit_test(test_acl_bad_rules),
      cmocka_unit_test(test_acl_message_escapes),
      cmocka_unit_test(test_acl_full),
      cmocka_unit_test(test_acl_host_name),
      cmocka_unit_test(test_acl_unknown_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
