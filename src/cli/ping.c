/*
 * sockit ping HOST: ICMP echo over IPv4 and IPv6 with the options and the
 * output of iputils ping, on an ICMP datagram socket where
 * net.ipv4.ping_group_range allows it and a raw socket otherwise. A plain
 * ppoll loop: one socket, one timer, nothing for libuv to add.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h" /* enum sk_exit */
#include "ping.h"
#include "sockit/sockit.h"

#define US_PER_S 1000000LL
#define FLOOD_WAIT_US 10000       /* -f: next request after a reply or 10 ms */
#define USER_MIN_INTERVAL_US 2000 /* iputils: users may not go below 2 ms */
/* As iputils: a payload shorter than a struct timeval carries no time. */
#define TIMED_MIN 16

typedef struct ping_opts {
  int family;
  long count;            /* -c; 0 for no limit */
  long long interval_us; /* -i */
  long long linger_us;   /* -W: wait for a reply when none came; 0: ever */
  size_t size;           /* -s: payload bytes */
  bool quiet, flood, verbose;
  const char *host;
} ping_opts_t;

typedef struct ping_run {
  ping_opts_t o;
  sk_icmp_sock_t s;
  struct sockaddr_storage to;
  socklen_t tolen;
  char where[NI_MAXHOST];
  struct sockaddr_storage last_from; /* cache of from_format's lookup */
  char last_name[2 * NI_MAXHOST + 4];
  long sent, received, dups, corrupt, errors;
  long long tmin, tmax, tsum, ewma; /* microseconds */
  double tsum2;
  long timed; /* round trips measured */
  int pipe;   /* most requests out at once, seen at an answer (iputils) */
  long long start, exit_at, next_send, last_send;
  bool wait_forever; /* -W 0 and no reply: until the replies or a signal */
  uint8_t seen[65536 / 8]; /* which sequence numbers came back */
  uint8_t pkt[8 + SK_ICMP_DATA_MAX6];
  uint8_t rbuf[65536 + 60];
} ping_run_t;

static volatile sig_atomic_t stop_signal;

static void on_stop(int signum) {
  stop_signal = signum;
}

static long long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * US_PER_S + t.tv_nsec / 1000;
}

static const char ping_usage[] =
    "usage: sockit ping [-46fqv] [-c COUNT] [-i SECS] [-W SECS] [-s SIZE] "
    "HOST\n"
    "  -c COUNT  stop after COUNT replies or COUNT requests and the wait\n"
    "  -i SECS   between requests (default 1; fractions allowed)\n"
    "  -W SECS   wait this long for a reply when none came (default 10)\n"
    "  -s SIZE   payload bytes (default 56)\n"
    "  -f        flood: next request at each reply or every 10 ms (root)\n"
    "  -q        only the summary;  -4, -6  IPv4 or IPv6 only\n"
    "  -v        name the kind of ICMP socket on stderr\n"
    "exit: 0 a reply came, 1 none came, 2 usage or socket error\n";

static int usage_fail(const char *fmt, const char *arg) {
  fputs("sockit ping: ", stderr);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return SK_EXIT_USAGE;
}

/* "0.2", "1", "10" seconds within [min_us, 86400 s]; -1 if not. */
static long long seconds_parse(const char *text, long long min_us) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || !(v >= 0 && v <= 86400))
    return -1;
  long long us = llround(v * US_PER_S);
  return us < min_us ? -1 : us;
}

static long long integer_parse(const char *text, long long max) {
  char *end;
  long long v = strtoll(text, &end, 10);
  return end == text || *end || text[0] == '-' || v > max ? -1 : v;
}

/* Applies one option; returns 0 or an exit code. */
static int option_apply(ping_opts_t *o, int opt, const char *arg) {
  long long v;
  switch (opt) {
  case '4':
  case '6':
    if (o->family)
      return usage_fail("cannot use -4 with -6%s", "");
    o->family = opt == '4' ? AF_INET : AF_INET6;
    return 0;
  case 'c':
    if ((v = integer_parse(arg, 1000000000)) < 1)
      return usage_fail("count \"%.32s\" is not an integer in 1..1000000000",
                        arg);
    o->count = (long)v;
    return 0;
  case 'i':
    if ((o->interval_us = seconds_parse(arg, 0)) < 0)
      return usage_fail("interval \"%.32s\" is not a number of seconds in "
                        "0..86400",
                        arg);
    return 0;
  case 'W':
    if ((o->linger_us = seconds_parse(arg, 0)) < 0)
      return usage_fail("timeout \"%.32s\" is not a number of seconds in "
                        "0..86400 (0: no limit)",
                        arg);
    return 0;
  case 's':
    if ((v = integer_parse(arg, SK_ICMP_DATA_MAX6)) < 0)
      return usage_fail("size \"%.32s\" is not an integer in 0..65527", arg);
    o->size = (size_t)v;
    return 0;
  case 'f':
    o->flood = true;
    return 0;
  case 'q':
    o->quiet = true;
    return 0;
  case 'v':
    o->verbose = true;
    return 0;
  default:
    return fputs(ping_usage, stdout) < 0 ? 1 : -1; /* -h */
  }
}

/* Parses argv; returns 0, or an exit code (-1: help printed, exit 0). */
static int opts_parse(ping_opts_t *o, int argc, char **argv) {
  static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  int opt, rc;
  bool interval_set = false;
  *o = (ping_opts_t){
      .interval_us = US_PER_S, .linger_us = 10 * US_PER_S, .size = 56};
  opterr = 0;
  optind = 1;
  while ((opt = getopt_long(argc, argv, ":46c:fhi:qs:vW:", longs, NULL)) !=
         -1) {
    if (opt == ':')
      return usage_fail("option \"%.32s\" needs a value", argv[optind - 1]);
    if (opt == '?') {
      char name[3] = {'-', (char)optopt, '\0'};
      return usage_fail("unknown option \"%.32s\"; see sockit ping -h",
                        optopt ? name : argv[optind - 1]);
    }
    if ((rc = option_apply(o, opt, optarg)))
      return rc;
    interval_set |= opt == 'i';
  }
  if (argc - optind != 1)
    return usage_fail(argc == optind ? "missing host; usage: sockit ping "
                                       "[options] HOST%s"
                                     : "one host only, not \"%.64s\"",
                      argc == optind ? "" : argv[optind + 1]);
  o->host = argv[optind];
  if (o->flood && geteuid() != 0)
    return usage_fail("cannot flood: -f needs root%s", "");
  if (o->flood && !interval_set)
    o->interval_us = 0;
  if (geteuid() != 0 && o->interval_us < USER_MIN_INTERVAL_US)
    return usage_fail("interval below 2 ms needs root (as iputils)%s", "");
  return 0;
}

/* Resolves the host for o->family; returns 0 or an exit code. */
static int target_resolve(ping_run_t *r) {
  struct addrinfo hints = {.ai_family = r->o.family, .ai_socktype = SOCK_DGRAM},
                  *ai;
  int rc = getaddrinfo(r->o.host, NULL, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "sockit ping: %.64s: %s\n", r->o.host, gai_strerror(rc));
    return SK_EXIT_USAGE;
  }
  memcpy(&r->to, ai->ai_addr, ai->ai_addrlen);
  r->tolen = ai->ai_addrlen;
  r->o.family = ai->ai_family;
  freeaddrinfo(ai);
  getnameinfo((struct sockaddr *)&r->to, r->tolen, r->where, sizeof r->where,
              NULL, 0, NI_NUMERICHOST);
  if (r->o.family == AF_INET && r->o.size > SK_ICMP_DATA_MAX4)
    return usage_fail("size over 65507, the IPv4 limit%s", "");
  return 0;
}

/* One request: a timestamp (when it fits, as iputils) then i & 0xff. */
static void request_send(ping_run_t *r, long long now) {
  char err[SK_ERR_LEN];
  uint8_t *data = r->pkt + 8;
  uint16_t seq = (uint16_t)(r->sent + 1);
  for (size_t i = 0; i < r->o.size; i++)
    data[i] = (uint8_t)i;
  if (r->o.size >= TIMED_MIN)
    memcpy(data, &now, sizeof now);
  size_t len = sk_icmp_echo_build(r->pkt, sizeof r->pkt, r->o.family,
                                  r->s.ident, seq, data, r->o.size);
  r->seen[seq / 8] &= (uint8_t) ~(1U << (seq % 8));
  r->sent++;
  if (sk_icmp_send(err, &r->s, r->pkt, len, (struct sockaddr *)&r->to,
                   r->tolen) < 0 &&
      !r->o.quiet)
    fprintf(stderr, "sockit ping: %s\n", err);
  if (r->o.flood && !r->o.quiet)
    fputc('.', stdout);
}

/* iputils' rtt text: about three significant digits, rounded. */
static void rtt_format(char *out, size_t cap, long long us) {
  if (us >= 100000)
    snprintf(out, cap, "%lld", (us + 500) / 1000);
  else if (us >= 10000)
    snprintf(out, cap, "%lld.%01lld", (us + 50) / 1000, (us + 50) % 1000 / 100);
  else if (us >= 1000)
    snprintf(out, cap, "%lld.%02lld", (us + 5) / 1000, (us + 5) % 1000 / 10);
  else
    snprintf(out, cap, "%lld.%03lld", us / 1000, us % 1000);
}

/* As iputils, duplicates' round trips count in min/avg/max/mdev too;
 * ewma is iputils' smoothed rtt, times 8. */
static void rtt_add(ping_run_t *r, long long rtt) {
  if (r->timed++ == 0 || rtt < r->tmin)
    r->tmin = rtt;
  if (rtt > r->tmax)
    r->tmax = rtt;
  r->tsum += rtt;
  r->tsum2 += (double)rtt * (double)rtt;
  r->ewma = r->ewma ? r->ewma + rtt - r->ewma / 8 : rtt * 8;
}

/* iputils checks the payload after the time stamp against what it sent
 * (byte i is i) and dumps it at the first difference. */
static void payload_check(const ping_run_t *r, const sk_icmp_echo_t *e) {
  for (size_t i = TIMED_MIN; i < r->o.size; i++) {
    if (e->data[i] == (uint8_t)i)
      continue;
    printf("\nwrong data byte #%zu should be 0x%x but was 0x%x", i,
           (unsigned)(uint8_t)i, (unsigned)e->data[i]);
    for (i = TIMED_MIN; i < r->o.size; i++) {
      if (i % 32 == TIMED_MIN)
        printf("\n#%zu\t", i);
      printf("%x ", (unsigned)e->data[i]);
    }
    return;
  }
}

static void reply_print(const ping_run_t *r, const sk_icmp_echo_t *e,
                        const char *from, long long rtt, bool dup,
                        bool corrupt) {
  char time[32];
  printf("%zu bytes from %s: icmp_seq=%u", e->data_len + 8, from, e->seq);
  if (e->ttl >= 0)
    printf(" ttl=%d", e->ttl);
  if (e->data_len < r->o.size) {
    puts(" (truncated)");
    return;
  }
  if (rtt >= 0) {
    rtt_format(time, sizeof time, rtt);
    printf(" time=%s ms", time);
  }
  printf("%s%s", dup ? " (DUP!)" : "", corrupt ? " (BAD CHECKSUM!)" : "");
  payload_check(r, e);
  putchar('\n');
}

/* An answer to seq (reply or error): how many requests were out then. */
static void acknowledge(ping_run_t *r, uint16_t seq) {
  uint16_t out = (uint16_t)((uint16_t)r->sent - seq);
  if (out <= 0x7fff && out + 1 > r->pipe)
    r->pipe = out + 1;
}

/* Counts one reply and prints its line, as iputils: a sequence number
 * already seen is a duplicate, a bad checksum is "corrupted"; neither
 * counts as received. */
static void reply_take(ping_run_t *r, const sk_icmp_echo_t *e, const char *from,
                       long long now, bool corrupt) {
  bool dup = !corrupt && (r->seen[e->seq / 8] & (1U << (e->seq % 8)));
  long long sent_at, rtt = -1;
  if (r->o.size >= TIMED_MIN && e->data_len >= TIMED_MIN) {
    memcpy(&sent_at, e->data, sizeof sent_at);
    rtt = sent_at > now ? 0 : now - sent_at; /* a forged stamp: no < 0 */
  }
  if (corrupt) {
    r->corrupt++;
  } else {
    acknowledge(r, e->seq);
    if (dup)
      r->dups++;
    else
      r->received++;
    r->seen[e->seq / 8] |= (uint8_t)(1U << (e->seq % 8));
    if (rtt >= 0)
      rtt_add(r, rtt);
  }
  if (r->o.quiet)
    return;
  if (r->o.flood)
    fputs(corrupt ? "\bC" : "\b \b", stdout);
  else
    reply_print(r, e, from, rtt, dup, corrupt);
}

/* The sender as iputils names it: "name (address)" when the host was
 * given as a name, the address alone otherwise; one lookup per sender. */
static const char *from_format(ping_run_t *r, struct sockaddr_storage *from,
                               socklen_t len) {
  char num[NI_MAXHOST], name[NI_MAXHOST];
  if (r->last_name[0] && memcmp(&r->last_from, from, len) == 0)
    return r->last_name;
  getnameinfo((struct sockaddr *)from, len, num, sizeof num, NULL, 0,
              NI_NUMERICHOST);
  if (strcmp(r->o.host, r->where) != 0 &&
      getnameinfo((struct sockaddr *)from, len, name, sizeof name, NULL, 0,
                  NI_NAMEREQD) == 0)
    snprintf(r->last_name, sizeof r->last_name, "%s (%s)", name, num);
  else
    snprintf(r->last_name, sizeof r->last_name, "%s", num);
  memcpy(&r->last_from, from, len);
  return r->last_name;
}

static bool addr_equal(const struct sockaddr_storage *a,
                       const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* One error about our request seq, shown as iputils does: "From ROUTER
 * icmp_seq=N Destination Host Unreachable", "\bE" in a flood. */
static void error_take(ping_run_t *r, sk_icmp_error_t *e) {
  char text[96];
  socklen_t len = e->from.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
  r->errors++;
  if (!e->local)
    acknowledge(r, e->seq);
  sk_icmp_error_text(e, r->o.family, text, sizeof text);
  if (r->o.quiet)
    return;
  if (r->o.flood)
    fputs(e->local ? "E" : "\bE", stdout);
  else if (e->local || e->from.ss_family == AF_UNSPEC)
    fprintf(stderr, "sockit ping: icmp_seq=%u %s\n", e->seq, text);
  else
    printf("From %s icmp_seq=%u %s\n", from_format(r, &e->from, len), e->seq,
           text);
}

/* Reads the error queue: ICMP errors about our requests to the target
 * (and local send errors); other entries are dropped. */
static void errors_drain(ping_run_t *r) {
  sk_icmp_error_t e;
  int rc;
  while ((rc = sk_icmp_error_recv(&r->s, &e)) >= 0)
    if (rc == 1 && (e.local || addr_equal(&e.dest, &r->to)))
      error_take(r, &e);
}

/* Reads every waiting packet; returns the number of replies taken. */
static int replies_drain(ping_run_t *r) {
  struct sockaddr_storage from;
  socklen_t fromlen;
  sk_icmp_echo_t e;
  int ttl, taken = 0;
  ssize_t n;
  while ((n = sk_icmp_recv(&r->s, r->rbuf, sizeof r->rbuf, &from, &fromlen,
                           &ttl)) >= 0) {
    e.ttl = ttl;
    sk_icmp_kind_t k = sk_icmp_echo_parse(&r->s, r->rbuf, (size_t)n, &e);
    if (k == SK_ICMP_OTHER)
      continue;
    reply_take(r, &e, from_format(r, &from, fromlen), now_us(),
               k == SK_ICMP_CORRUPT);
    /* Flood: send the next request at once; ppoll reports what is left
     * (saves the recvmsg that would only say EAGAIN). */
    taken++;
    if (r->o.flood)
      break;
  }
  return taken;
}

/* iputils' rtt line: integer average, mdev over replies and duplicates;
 * "pipe N" when answers came with N requests out; with -f or -i 0 also
 * the gap between requests and the smoothed rtt. */
static void rtt_print(const ping_run_t *r, long long elapsed) {
  const char *comma = "";
  if (r->received && r->o.size >= TIMED_MIN && r->timed) {
    long long avg = r->tsum / r->timed;
    long long var = (long long)(r->tsum2 / (double)r->timed) - avg * avg;
    long long mdev = var > 0 ? llround(sqrt((double)var)) : 0;
    printf("rtt min/avg/max/mdev = %lld.%03lld/%lld.%03lld/%lld.%03lld/"
           "%lld.%03lld ms",
           r->tmin / 1000, r->tmin % 1000, avg / 1000, avg % 1000,
           r->tmax / 1000, r->tmax % 1000, mdev / 1000, mdev % 1000);
    comma = ", ";
  }
  if (r->pipe > 1) {
    printf("%spipe %d", comma, r->pipe);
    comma = ", ";
  }
  if (r->received && (r->o.interval_us == 0 || r->o.flood) && r->sent > 1) {
    long long ipg = elapsed / (r->sent - 1), ewma = r->ewma / 8;
    printf("%sipg/ewma %lld.%03lld/%lld.%03lld ms", comma, ipg / 1000,
           ipg % 1000, ewma / 1000, ewma % 1000);
  }
  putchar('\n'); /* an empty line when neither applies, as iputils */
}

/* The summary; "time" runs from the first request to the last one. */
static void stats_print(const ping_run_t *r) {
  long long elapsed = r->sent ? r->last_send - r->start : 0;
  printf("\n--- %s ping statistics ---\n", r->o.host);
  printf("%ld packets transmitted, %ld received", r->sent, r->received);
  if (r->dups)
    printf(", +%ld duplicates", r->dups);
  if (r->corrupt)
    printf(", +%ld corrupted", r->corrupt);
  if (r->errors)
    printf(", +%ld errors", r->errors);
  if (r->sent)
    printf(", %g%% packet loss, time %lldms",
           (float)((r->sent - r->received) * 100.0 / r->sent),
           (elapsed + 500) / 1000);
  putchar('\n');
  rtt_print(r, elapsed);
}

/* As iputils: after the last request, wait two round trips (at least one
 * interval) when replies came, the -W time when none did (-1: -W 0, no
 * limit). */
static long long exit_wait(const ping_run_t *r) {
  if (!r->received)
    return r->o.linger_us ? r->o.linger_us : -1;
  return 2 * r->tmax > r->o.interval_us ? 2 * r->tmax : r->o.interval_us;
}

static bool run_done(ping_run_t *r, long long now) {
  if (stop_signal || ferror(stdout))
    return true; /* a signal, or nowhere left to write */
  if (!r->o.count || r->sent < r->o.count)
    return false;
  if (r->received + r->errors >= r->o.count)
    return true; /* as iputils: an error answers a request too */
  if (!r->exit_at && !r->wait_forever) {
    long long wait = exit_wait(r);
    r->wait_forever = wait < 0;
    r->exit_at = wait < 0 ? 0 : now + wait;
  }
  return r->exit_at && now >= r->exit_at;
}

/* How long ppoll may sleep: until the next request, or the end of the
 * final wait; NULL for as long as it takes (-W 0). */
static struct timespec *wait_time(const ping_run_t *r, long long now,
                                  struct timespec *ts) {
  bool sending = !r->o.count || r->sent < r->o.count;
  long long until = sending ? r->next_send : r->exit_at;
  if (!sending && !r->exit_at)
    return NULL;
  until = until > now ? until - now : 0;
  *ts = (struct timespec){.tv_sec = until / US_PER_S,
                          .tv_nsec = until % US_PER_S * 1000};
  return ts;
}

/* The loop: send when due, read replies, until -c is met or a signal. */
static void run_loop(ping_run_t *r, const sigset_t *waitmask) {
  struct pollfd p = {.fd = r->s.fd, .events = POLLIN};
  long long now = r->start = r->next_send = now_us();
  while (!run_done(r, now)) {
    if ((!r->o.count || r->sent < r->o.count) && now >= r->next_send) {
      request_send(r, now);
      r->last_send = now;
      r->next_send = now + (r->o.flood && r->o.interval_us < FLOOD_WAIT_US
                                ? FLOOD_WAIT_US
                                : r->o.interval_us);
      continue;
    }
    struct timespec ts;
    if (r->o.flood)
      fflush(stdout);
    int ready = ppoll(&p, 1, wait_time(r, now, &ts), waitmask);
    if (ready > 0 && (p.revents & POLLERR))
      errors_drain(r);
    if (ready > 0 && replies_drain(r) > 0 && r->o.flood &&
        r->last_send + r->o.interval_us < r->next_send)
      r->next_send = r->last_send + r->o.interval_us; /* at each reply */
    now = now_us();
  }
}

static void header_print(const ping_run_t *r) {
  if (r->o.family == AF_INET)
    printf("PING %s (%s) %zu(%zu) bytes of data.\n", r->o.host, r->where,
           r->o.size, r->o.size + 28);
  else
    printf("PING %s(%s) %zu data bytes\n", r->o.host, r->where, r->o.size);
  if (r->o.verbose)
    fprintf(stderr, "sockit ping: %s socket, identifier %u\n",
            r->s.raw ? "raw ICMP (SOCK_RAW)" : "ICMP datagram (SOCK_DGRAM)",
            r->s.ident);
}

/* `sockit ping host | head`: the reader went away, so we end quietly,
 * as other filters do; any other failed write is an error. */
static bool reader_gone(void) {
  struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int ping_main(int argc, char **argv) {
  char err[SK_ERR_LEN];
  struct sigaction on = {.sa_handler = on_stop};
  sigset_t stops, orig;
  ping_run_t *r = calloc(1, sizeof *r);
  int rc = r ? opts_parse(&r->o, argc, argv) : SK_EXIT_ERROR;
  if (rc || (rc = target_resolve(r)))
    goto out;
  if (sk_icmp_open(err, r->o.family, &r->s) < 0) {
    fprintf(stderr, "sockit ping: %s\n", err);
    rc = SK_EXIT_USAGE;
    goto out;
  }
  signal(SIGPIPE, SIG_IGN); /* main's policy: the library sets none */
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigprocmask(SIG_BLOCK, &stops, &orig); /* delivered only inside ppoll */
  sigaction(SIGINT, &on, NULL);
  sigaction(SIGTERM, &on, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0); /* a line per reply, also in a pipe */
  header_print(r);
  run_loop(r, &orig);
  if (!ferror(stdout))
    stats_print(r);
  close(r->s.fd);
  /* As iputils, Ctrl-C ends with the summary and the reply rule. */
  rc = stop_signal == SIGTERM ? SK_EXIT_SIGTERM : r->received ? 0 : 1;
  if ((fflush(stdout) != 0 || ferror(stdout)) && !reader_gone()) {
    fprintf(stderr, "sockit ping: write to stdout failed\n");
    rc = SK_EXIT_ERROR;
  }
out:
  free(r);
  return rc < 0 ? 0 : rc;
}
