/* Unit tests for icmp.c: checksum, echo requests and reply parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <string.h>

#include "sockit/icmp.h"

static const sk_icmp_sock_t dgram4 = {
    .fd = -1, .family = AF_INET, .ident = 0x1234};
static const sk_icmp_sock_t raw4 = {
    .fd = -1, .family = AF_INET, .raw = true, .ident = 0x1234};
static const sk_icmp_sock_t dgram6 = {
    .fd = -1, .family = AF_INET6, .ident = 0x1234};

/* RFC 1071's worked example: the sum of 0001 f203 f4f5 f6f7 is ddf2. */
static void test_checksum_rfc1071(void **state) {
  static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  (void)state;
  assert_int_equal(ntohs(sk_icmp_checksum(b, sizeof b)), 0xffff - 0xddf2);
  /* An odd length pads with a zero byte. */
  assert_int_equal(ntohs(sk_icmp_checksum(b, 1)), 0xffff);
}

/* An IPv4 request carries type 8, our id and seq, and sums to zero. */
static void test_build_ipv4(void **state) {
  uint8_t pkt[64], data[56];
  (void)state;
  memset(data, 0xab, sizeof data);
  assert_int_equal(sk_icmp_echo_build(pkt, sizeof pkt, AF_INET, 0x1234, 7, data,
                                      sizeof data),
                   64);
  assert_int_equal(pkt[0], ICMP_ECHO);
  assert_int_equal(pkt[4] << 8 | pkt[5], 0x1234);
  assert_int_equal(pkt[6] << 8 | pkt[7], 7);
  assert_memory_equal(pkt + 8, data, sizeof data);
  assert_int_equal(sk_icmp_checksum(pkt, 64), 0);
}

/* IPv6: type 128, the checksum left to the kernel; too small a buffer
 * builds nothing. */
static void test_build_ipv6_and_cap(void **state) {
  uint8_t pkt[16];
  (void)state;
  assert_int_equal(
      sk_icmp_echo_build(pkt, sizeof pkt, AF_INET6, 1, 2, "abcdefgh", 8), 16);
  assert_int_equal(pkt[0], ICMP6_ECHO_REQUEST);
  assert_int_equal(pkt[2] | pkt[3], 0);
  assert_int_equal(
      sk_icmp_echo_build(pkt, sizeof pkt, AF_INET6, 1, 2, "abcdefghi", 9), 0);
  assert_int_equal(sk_icmp_echo_build(pkt, 7, AF_INET, 1, 2, NULL, 0), 0);
}

/* A reply built as the peer would: type 0 (or 129), same id and data. */
static size_t reply_make(uint8_t *pkt, int family, uint16_t id, uint16_t seq) {
  size_t n = sk_icmp_echo_build(pkt, 64, family, id, seq, "0123456789", 10);
  pkt[0] = family == AF_INET6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
  memset(pkt + 2, 0, 2);
  uint16_t sum = sk_icmp_checksum(pkt, n);
  memcpy(pkt + 2, &sum, 2);
  return n;
}

static void test_parse_reply(void **state) {
  uint8_t pkt[64];
  sk_icmp_echo_t e = {.ttl = 64};
  size_t n = reply_make(pkt, AF_INET, 0x1234, 9);
  (void)state;
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, n, &e), SK_ICMP_REPLY);
  assert_int_equal(e.seq, 9);
  assert_int_equal(e.ident, 0x1234);
  assert_int_equal(e.data_len, 10);
  assert_memory_equal(e.data, "0123456789", 10);
  assert_int_equal(e.ttl, 64); /* a datagram socket's TTL comes apart */
}

/* Another identifier, a request, a short packet: not ours to count. */
static void test_parse_other(void **state) {
  uint8_t pkt[64];
  sk_icmp_echo_t e;
  size_t n = reply_make(pkt, AF_INET, 0x4321, 1);
  (void)state;
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, n, &e), SK_ICMP_OTHER);
  n = sk_icmp_echo_build(pkt, sizeof pkt, AF_INET, 0x1234, 1, NULL, 0);
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, n, &e), SK_ICMP_OTHER);
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, 7, &e), SK_ICMP_OTHER);
  n = reply_make(pkt, AF_INET6, 0x1234, 1);
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, n, &e), SK_ICMP_OTHER);
}

/* A bad IPv4 checksum is our reply, corrupt, with its fields filled. */
static void test_parse_bad_checksum(void **state) {
  uint8_t pkt[64];
  sk_icmp_echo_t e;
  size_t n = reply_make(pkt, AF_INET, 0x1234, 3);
  (void)state;
  pkt[9] ^= 0x40;
  assert_int_equal(sk_icmp_echo_parse(&dgram4, pkt, n, &e), SK_ICMP_CORRUPT);
  assert_int_equal(e.seq, 3);
  /* ICMPv6's checksum covers addresses we do not see: not checked. */
  n = reply_make(pkt, AF_INET6, 0x1234, 3);
  pkt[9] ^= 0x40;
  assert_int_equal(sk_icmp_echo_parse(&dgram6, pkt, n, &e), SK_ICMP_REPLY);
}

/* A raw IPv4 socket hands over the IP header: skipped, TTL read. */
static void test_parse_raw_ipv4(void **state) {
  uint8_t pkt[24 + 64] = {0x46}; /* version 4, a 24-byte header */
  sk_icmp_echo_t e = {.ttl = -1};
  size_t n = reply_make(pkt + 24, AF_INET, 0x1234, 5);
  (void)state;
  pkt[8] = 57;
  assert_int_equal(sk_icmp_echo_parse(&raw4, pkt, 24 + n, &e), SK_ICMP_REPLY);
  assert_int_equal(e.ttl, 57);
  assert_int_equal(e.seq, 5);
  assert_int_equal(sk_icmp_echo_parse(&raw4, pkt, 24 + 7, &e), SK_ICMP_OTHER);
  pkt[0] = 0x44; /* a header under 20 bytes is nonsense */
  assert_int_equal(sk_icmp_echo_parse(&raw4, pkt, 24 + n, &e), SK_ICMP_OTHER);
}

static void error_is(const sk_icmp_error_t *e, int family, const char *t) {
  char out[96];
  sk_icmp_error_text(e, family, out, sizeof out);
  assert_string_equal(out, t);
}

/* iputils' words, which scripts grep for. */
static void test_error_text(void **state) {
  sk_icmp_error_t e = {.type = ICMP_DEST_UNREACH, .code = 1};
  (void)state;
  error_is(&e, AF_INET, "Destination Host Unreachable");
  e.code = ICMP_FRAG_NEEDED;
  e.info = 1400;
  error_is(&e, AF_INET, "Frag needed and DF set (mtu = 1400)");
  e.code = 99;
  error_is(&e, AF_INET, "Dest Unreachable, Bad Code: 99");
  e = (sk_icmp_error_t){.type = ICMP_TIME_EXCEEDED};
  error_is(&e, AF_INET, "Time to live exceeded");
  e = (sk_icmp_error_t){.type = ICMP6_DST_UNREACH, .code = 3};
  error_is(&e, AF_INET6, "Destination unreachable: Address unreachable");
  e = (sk_icmp_error_t){.type = ICMP6_PACKET_TOO_BIG, .info = 1280};
  error_is(&e, AF_INET6, "Packet too big: mtu=1280");
  e = (sk_icmp_error_t){.type = ICMP6_TIME_EXCEEDED};
  error_is(&e, AF_INET6, "Time exceeded: Hop limit");
  e = (sk_icmp_error_t){.local = true, .err = EMSGSIZE};
  error_is(&e, AF_INET, "local error: Message too long");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checksum_rfc1071),
      cmocka_unit_test(test_build_ipv4),
      cmocka_unit_test(test_build_ipv6_and_cap),
      cmocka_unit_test(test_parse_reply),
      cmocka_unit_test(test_parse_other),
      cmocka_unit_test(test_parse_bad_checksum),
      cmocka_unit_test(test_parse_raw_ipv4),
      cmocka_unit_test(test_error_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
