/*
 * fwdprobe: the machine's own limit for scenario 9's connection rate, as
 * zcprobe is for bytes per second: the least a correct TCP forwarder can
 * do per connection, so that "sockit ÷ fwdprobe" says how much of the
 * machine sockit leaves unused, and "fwdprobe ÷ socat" what ratio any
 * forwarder could reach against socat on it.
 *
 *   fwdprobe HOST PORT THOST TPORT   forward HOST:PORT to THOST:TPORT
 *
 * Correct, because a cheaper wrong one would prove nothing: every byte
 * passed in both directions, a FIN passed on as shutdown(SHUT_WR), the
 * pair closed only when both directions have ended (rinetd closes both
 * on the first FIN). Least: one epoll set, each socket added once, edge
 * triggered, and never changed; accept4 and socket make them non-
 * blocking; read/write through a buffer per direction. Not a product:
 * no limits, no logging, no timeouts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 16384

typedef struct pair pair_t;
typedef struct {  /* one direction: bytes read from `from`, for `to` */
  int from, to;
  char buf[BUF_SIZE];
  size_t off, len;
  bool ended;     /* EOF read and passed on */
} half_t;
typedef struct { /* what an epoll event points at: a socket's pair */
  pair_t *pair;
} side_t;
struct pair {
  half_t up, down; /* client -> target, target -> client */
  side_t side[2];  /* the client's and the target's event data */
  bool dead;
  pair_t *next_dead;
};

static void die(const char *what) {
  fprintf(stderr, "fwdprobe: %s: %s\n", what, strerror(errno));
  exit(1);
}

static struct addrinfo *addr_get(const char *host, const char *port) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0) {
    errno = EINVAL;
    die("address");
  }
  return ai;
}

/* Moves what it can; false when the pair must close (an error). A short
 * read means the socket was empty when read: under EPOLLET the next
 * arrival is a new event, so there is no need to read on to EAGAIN. */
static bool half_pump(half_t *h) {
  for (;;) {
    while (h->len > 0) {
      ssize_t w = write(h->to, h->buf + h->off, h->len);
      if (w < 0)
        return errno == EAGAIN; /* EPOLLOUT on `to` calls again */
      h->off += (size_t)w;
      h->len -= (size_t)w;
    }
    if (h->ended)
      return true;
    ssize_t r = read(h->from, h->buf, BUF_SIZE);
    if (r == 0) {
      h->ended = true;
      return shutdown(h->to, SHUT_WR) == 0 || errno == ENOTCONN;
    }
    if (r < 0)
      return errno == EAGAIN;
    h->off = 0;
    h->len = (size_t)r;
    if (r < BUF_SIZE) { /* drained: write it, then wait */
      ssize_t w = write(h->to, h->buf, h->len);
      if (w > 0) {
        h->off = (size_t)w;
        h->len -= (size_t)w;
      } else if (errno != EAGAIN) {
        return false;
      }
      return true;
    }
  }
}

static void pair_close(pair_t *p, pair_t **dead) {
  close(p->up.from); /* leaves the epoll set with its only descriptor */
  close(p->up.to);
  p->dead = true;
  p->next_dead = *dead; /* freed after this batch of events */
  *dead = p;
}

static void pair_open(int ep, int client, const struct addrinfo *tgt) {
  int t = socket(tgt->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (t < 0 || (connect(t, tgt->ai_addr, tgt->ai_addrlen) < 0 &&
                errno != EINPROGRESS)) {
    if (t >= 0)
      close(t);
    close(client);
    return;
  }
  pair_t *p = calloc(1, sizeof *p);
  if (!p)
    die("calloc");
  p->up.from = p->down.to = client;
  p->up.to = p->down.from = t;
  p->side[0].pair = p->side[1].pair = p;
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
  e.data.ptr = &p->side[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, client, &e);
  e.data.ptr = &p->side[1];
  epoll_ctl(ep, EPOLL_CTL_ADD, t, &e);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: fwdprobe HOST PORT THOST TPORT\n");
    return 2;
  }
  struct addrinfo *la = addr_get(argv[1], argv[2]);
  struct addrinfo *ta = addr_get(argv[3], argv[4]);
  int l = socket(la->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  if (l < 0)
    die("socket");
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, la->ai_addr, la->ai_addrlen) < 0 || listen(l, 4096) < 0)
    die("listen");
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL}, ev[256];
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &e) < 0)
    die("epoll");
  for (;;) {
    int n = epoll_wait(ep, ev, 256, -1);
    if (n < 0 && errno != EINTR)
      die("epoll_wait");
    pair_t *dead = NULL;
    for (int i = 0; i < n; i++) {
      side_t *s = ev[i].data.ptr;
      if (!s) {
        int c;
        while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0)
          pair_open(ep, c, ta);
        continue;
      }
      pair_t *p = s->pair;
      if (p->dead)
        continue;
      /* bytes from this socket when it has some; bytes waiting for it
       * when it has room (then on to what their source holds) */
      bool client = s == &p->side[0], ok = true;
      half_t *from = client ? &p->up : &p->down;
      half_t *to = client ? &p->down : &p->up;
      if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        ok = half_pump(from);
      if (ok && (ev[i].events & EPOLLOUT) && to->len)
        ok = half_pump(to);
      if (!ok || (p->up.ended && p->down.ended && !p->up.len && !p->down.len))
        pair_close(p, &dead);
    }
    while (dead) {
      pair_t *next = dead->next_dead;
      free(dead);
      dead = next;
    }
  }
}
