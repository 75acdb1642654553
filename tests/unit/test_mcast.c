/* Unit tests for sock.c's UDP extras: multicast and broadcast options,
 * and the UDP port probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/sockit.h"

static void group_fails(const char *text, const char *msg) {
  char err[SK_ERR_LEN] = "";
  struct sockaddr_storage g;
  unsigned ifindex;
  assert_int_equal(sk_mcast_group_parse(err, text, &g, &ifindex), SK_EADDR);
  assert_string_equal(err, msg);
}

/* Groups of both families, with and without an interface. */
static void test_group_parse(void **state) {
  struct sockaddr_storage g;
  unsigned ifindex = 99;
  (void)state;
  assert_int_equal(sk_mcast_group_parse(NULL, "239.1.2.3", &g, &ifindex), 0);
  assert_int_equal(g.ss_family, AF_INET);
  assert_int_equal(ifindex, 0);
  assert_int_equal(sk_mcast_group_parse(NULL, "ff02::42,lo", &g, &ifindex), 0);
  assert_int_equal(g.ss_family, AF_INET6);
  assert_int_equal(ifindex, 1); /* lo */
  group_fails("10.1.2.3", "\"10.1.2.3\" is not a multicast group "
                          "(224.0.0.0/4 or ff00::/8)");
  group_fails("::1", "\"::1\" is not a multicast group (224.0.0.0/4 or "
                     "ff00::/8)");
  group_fails("example.org", "multicast group \"example.org\" is not a "
                             "numeric IPv4 or IPv6 address");
  group_fails("239.1.2.3,nosuch0", "no network interface \"nosuch0\"");
}

static int udp_socket(int family) {
  int fd = socket(family, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  return fd;
}

static int int_opt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

/* TTL, loop and broadcast reach the socket; unset ones keep defaults. */
static void test_apply_options(void **state) {
  sk_mcast_t m = {.ttl_set = true,
                  .ttl = 7,
                  .loop_set = true,
                  .loop = false,
                  .broadcast = true};
  sk_mcast_t none = {0};
  int fd = udp_socket(AF_INET), fd6 = udp_socket(AF_INET6);
  (void)state;
  assert_int_equal(sk_mcast_apply(NULL, fd, AF_INET, &m), 0);
  assert_int_equal(int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL), 7);
  assert_int_equal(int_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP), 0);
  assert_int_equal(int_opt(fd, SOL_SOCKET, SO_BROADCAST), 1);
  assert_int_equal(sk_mcast_apply(NULL, fd6, AF_INET6, &m), 0);
  assert_int_equal(int_opt(fd6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 7);
  assert_int_equal(int_opt(fd6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 0);
  close(fd);
  fd = udp_socket(AF_INET);
  assert_int_equal(sk_mcast_apply(NULL, fd, AF_INET, &none), 0);
  assert_int_equal(int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL), 1);
  assert_int_equal(int_opt(fd, SOL_SOCKET, SO_BROADCAST), 0);
  close(fd);
  close(fd6);
}

/* --mcast-if: the interface index on an IPv6 socket; a name that is no
 * interface is refused. */
static void test_apply_iface(void **state) {
  char err[SK_ERR_LEN] = "";
  sk_mcast_t lo = {.iface = "lo"}, none = {.iface = "nosuch0"};
  int fd6 = udp_socket(AF_INET6), fd = udp_socket(AF_INET);
  (void)state;
  assert_int_equal(sk_mcast_apply(NULL, fd6, AF_INET6, &lo), 0);
  assert_int_equal(int_opt(fd6, IPPROTO_IPV6, IPV6_MULTICAST_IF), 1);
  assert_int_equal(sk_mcast_apply(NULL, fd, AF_INET, &lo), 0);
  assert_int_equal(sk_mcast_apply(err, fd, AF_INET, &none), SK_EADDR);
  assert_string_equal(err, "no network interface \"nosuch0\"");
  close(fd);
  close(fd6);
}

/* A group of the other family is refused in one line. */
static void test_join_family_mismatch(void **state) {
  char err[SK_ERR_LEN] = "";
  sk_mcast_t m = {.join = "ff02::42"};
  int fd = udp_socket(AF_INET);
  (void)state;
  assert_int_equal(sk_mcast_apply(err, fd, AF_INET, &m), SK_EADDR);
  assert_string_equal(err, "cannot join group \"ff02::42\" on an IPv4 "
                           "socket");
  close(fd);
}

static int bound_udp(uint16_t *port) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = udp_socket(AF_INET);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static sk_addr_t target(uint16_t port) {
  char text[32];
  sk_addr_t a;
  snprintf(text, sizeof text, "127.0.0.1:%u", port);
  assert_int_equal(sk_addr_parse(NULL, &a, text, 0), 0);
  return a;
}

/* Nothing bound: ICMP port unreachable, closed. Bound and silent:
 * open|filtered after the wait. */
static void test_probe_closed_and_silent(void **state) {
  uint16_t port;
  int fd = bound_udp(&port);
  (void)state;
  sk_addr_t a = target(port);
  assert_int_equal(sk_udp_probe(NULL, &a, NULL, 200), SK_UDP_OPEN_FILTERED);
  char probe[4];
  assert_int_equal(recv(fd, probe, sizeof probe, MSG_DONTWAIT), 1);
  assert_int_equal(probe[0], 'X');
  close(fd);
  assert_int_equal(sk_udp_probe(NULL, &a, NULL, 2000), SK_UDP_CLOSED);
}

typedef struct seen {
  int n, ports[8], states[8];
} seen_t;

static void on_probe(void *ctx, int port, int state) {
  seen_t *s = ctx;
  assert_true(s->n < 8);
  s->ports[s->n] = port;
  s->states[s->n++] = state;
}

/* The callback gets each port of the range with its verdict. */
static void test_probe_range(void **state) {
  uint16_t port;
  int fd = bound_udp(&port);
  seen_t s = {0};
  (void)state;
  sk_addr_t a = target(port);
  sk_udp_probe_range(&a, port, port, NULL, 200, on_probe, &s);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.ports[0], port);
  assert_int_equal(s.states[0], SK_UDP_OPEN_FILTERED);
  close(fd);
  s.n = 0;
  sk_udp_probe_range(&a, port, port, NULL, 2000, on_probe, &s);
  assert_int_equal(s.states[0], SK_UDP_CLOSED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_parse),
      cmocka_unit_test(test_apply_options),
      cmocka_unit_test(test_apply_iface),
      cmocka_unit_test(test_join_family_mismatch),
      cmocka_unit_test(test_probe_closed_and_silent),
      cmocka_unit_test(test_probe_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
