/*
 * ping: the tutorial's raw-socket program, a minimal ping for IPv4.
 *
 *   ping [host [count]]        (default 127.0.0.1, 4 requests)
 *
 * A SOCK_RAW socket with IPPROTO_ICMP lets us write the ICMP header
 * ourselves and read whole IP packets back; it needs root (or
 * CAP_NET_RAW). Without that privilege we fall back to the "ICMP
 * datagram" socket (SOCK_DGRAM, IPPROTO_ICMP) that Linux gives to the
 * groups in net.ipv4.ping_group_range: there the kernel chooses the
 * identifier and hands us the ICMP message without its IP header.
 *
 * Each second we send an echo request (type 8) and wait up to a second
 * for the echo reply (type 0) carrying our identifier and sequence
 * number. `sockit ping` is the full program: IPv6, options, statistics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockit/icmp.h" /* sk_icmp_checksum: RFC 1071, as sockit ping */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Sends echo request seq: type 8, code 0, checksum, identifier,
 * sequence number, then 56 bytes of data (zeros here). */
static ssize_t echo_send(int fd, const struct sockaddr_in *to, uint16_t id,
                         uint16_t seq) {
  uint8_t pkt[64] = {8, 0};
  uint16_t n_id = htons(id), n_seq = htons(seq), sum;
  memcpy(pkt + 4, &n_id, 2);
  memcpy(pkt + 6, &n_seq, 2);
  sum = sk_icmp_checksum(pkt, sizeof pkt); /* computed with the field at zero */
  memcpy(pkt + 2, &sum, 2);
  return sendto(fd, pkt, sizeof pkt, 0, (const struct sockaddr *)to,
                sizeof *to);
}

/* Opens the raw socket, or the datagram one when we may not. */
static int icmp_socket(int *is_raw) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  *is_raw = fd >= 0;
  if (fd < 0 && (errno == EPERM || errno == EACCES))
    fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  return fd;
}

/* Waits up to deadline for our reply; returns its TTL (0 when the
 * socket does not show it), or -1 when none came. */
static int reply_wait(int fd, int is_raw, uint16_t id, uint16_t seq,
                      double deadline) {
  uint8_t buf[1500];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  double left;
  while ((left = deadline - now_ms()) > 0 && poll(&p, 1, (int)left + 1) > 0) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    /* A raw socket gives the IP header first: its length is in the low
     * four bits of the first byte, in 32-bit words. */
    size_t ip_len = is_raw && n > 0 ? (size_t)(buf[0] & 0x0f) * 4 : 0;
    if (n < (ssize_t)(ip_len + 8))
      continue;
    uint8_t *icmp = buf + ip_len;
    uint16_t r_id, r_seq;
    memcpy(&r_id, icmp + 4, 2);
    memcpy(&r_seq, icmp + 6, 2);
    /* A raw socket sees every ICMP packet: keep only our replies. */
    if (icmp[0] != 0 || ntohs(r_seq) != seq || (is_raw && ntohs(r_id) != id))
      continue;
    if (sk_icmp_checksum(icmp, (size_t)n - ip_len) != 0)
      continue;                 /* damaged on the way */
    return is_raw ? buf[8] : 0; /* the TTL is in the IP header we lack */
  }
  return -1;
}

int main(int argc, char **argv) {
  const char *host = argc > 1 ? argv[1] : "127.0.0.1";
  int count = argc > 2 ? atoi(argv[2]) : 4, is_raw, received = 0;
  struct addrinfo hints = {.ai_family = AF_INET}, *ai;
  if (argc > 3 || (argc > 1 && argv[1][0] == '-') || count < 1) {
    fprintf(stderr, "usage: ping [host [count]]   (IPv4; count >= 1)\n");
    return argc > 1 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help");
  }
  if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
    fprintf(stderr, "ping: cannot resolve %s\n", host);
    return 2;
  }
  struct sockaddr_in to; /* an IPv4 address: the first one is enough */
  memcpy(&to, ai->ai_addr, sizeof to);
  freeaddrinfo(ai);
  int fd = icmp_socket(&is_raw);
  if (fd < 0) {
    perror("ping: socket (needs root, CAP_NET_RAW or ping_group_range)");
    return 2;
  }
  uint16_t id = (uint16_t)getpid();
  printf("PING %s with a %s socket\n", host,
         is_raw ? "SOCK_RAW" : "SOCK_DGRAM");
  for (int seq = 1; seq <= count; seq++) {
    double sent = now_ms();
    if (echo_send(fd, &to, id, (uint16_t)seq) < 0) {
      perror("ping: sendto");
      continue;
    }
    int ttl = reply_wait(fd, is_raw, id, (uint16_t)seq, sent + 1000);
    if (ttl < 0) {
      printf("no reply for icmp_seq=%d\n", seq);
      continue;
    }
    received++;
    printf("reply from %s: icmp_seq=%d", host, seq);
    if (ttl > 0)
      printf(" ttl=%d", ttl);
    printf(" time=%.3f ms\n", now_ms() - sent);
    double pause_ms = sent + 1000 - now_ms(); /* one request a second */
    if (seq < count && pause_ms > 0)
      usleep((useconds_t)(pause_ms * 1000));
  }
  printf("%d sent, %d received\n", count, received);
  close(fd);
  return received ? 0 : 1;
}
