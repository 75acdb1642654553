/*
 * tcp_server: the tutorial's TCP server, without its flaws.
 *
 *   tcp_server [host [port]]        (default 127.0.0.1 2333)
 *
 * A thread accepts clients one after another and prints each message a
 * client sends, whole, as it arrives: a line, or bytes without newline
 * once the client has sent nothing more for 200 ms (what the tutorial's
 * client sends; see common.h). Each line typed here is sent as a reply
 * to the client connected now. A client that leaves, cleanly or not, is
 * reported and the next one is served.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define MESSAGE_MAX 65536

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
static int client_fd = -1; /* the client replies go to, or -1 */
static char line_out[MESSAGE_MAX];

static void client_set(int fd) {
  pthread_mutex_lock(&client_lock);
  client_fd = fd;
  pthread_mutex_unlock(&client_lock);
}

/* Prints one client's messages until it leaves; says why it left. */
static void client_serve(ex_reader_t *reader, const char *name) {
  char prefix[SK_ADDRSTR_LEN + 2];
  const char *msg;
  ssize_t n;
  snprintf(prefix, sizeof prefix, "%s: ", name);
  while ((n = ex_reader_next(reader, &msg)) != 0) {
    if (n == SK_ETOOLONG) {
      printf("%s sent a message over %d bytes; dropped\n", name,
             MESSAGE_MAX - 2);
    } else if (n < 0) {
      printf("%s: connection lost: %s\n", name, sk_strerror((int)n));
      return;
    } else {
      sk_utf8_print_line(stdout, prefix, msg, ex_message_strip(msg, (size_t)n));
    }
  }
  printf("%s left\n", name);
}

static void *accept_loop(void *arg) {
  int listener = *(int *)arg;
  char err[SK_ERR_LEN], name[SK_ADDRSTR_LEN];
  struct sockaddr_storage peer;
  socklen_t peer_len;
  for (;;) {
    int fd = sk_accept(err, listener, &peer, &peer_len);
    if (fd < 0) {
      fprintf(stderr, "tcp_server: %s\n", err);
      sleep(1); /* out of descriptors, say: try again later */
      continue;
    }
    sk_sockaddr_format((struct sockaddr *)&peer, peer_len, name, sizeof name);
    ex_reader_t *reader = ex_reader_new(fd, MESSAGE_MAX - 2);
    client_set(fd); /* before the notice: a reply typed after it goes out */
    printf("connected by %s\n", name);
    if (reader)
      client_serve(reader, name);
    else
      printf("%s: out of memory; connection closed\n", name);
    free(reader);
    pthread_mutex_lock(&client_lock); /* no reply is being sent now */
    client_fd = -1;
    close(fd);
    pthread_mutex_unlock(&client_lock);
  }
  return NULL;
}

/* Sends one typed line to the current client, if there is one. */
static void reply_send(const char *line, size_t len) {
  pthread_mutex_lock(&client_lock);
  if (client_fd < 0)
    fprintf(stderr, "no client is connected; reply not sent\n");
  else if (sk_send_all(client_fd, line, len) < 0)
    fprintf(stderr, "the client is gone; reply not sent\n");
  pthread_mutex_unlock(&client_lock);
}

int main(int argc, char **argv) {
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  const char *host, *port;
  pthread_t acceptor;
  int rc = ex_args_parse(argc, argv, "tcp_server",
                         "Prints what TCP clients send, one client at a "
                         "time; sends each line typed to the client.",
                         &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
    fprintf(stderr, "tcp_server: %s\n", err);
    return 2;
  }
  int listener = sk_tcp_listen(err, &addr, NULL);
  if (listener < 0) {
    fprintf(stderr, "tcp_server: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("listening on %s:%s\n", host, port);
  pthread_create(&acceptor, NULL, accept_loop, &listener);

  sk_line_reader_t input;
  ssize_t n;
  sk_line_reader_init(&input, STDIN_FILENO);
  while ((n = sk_line_read(&input, line_out, sizeof line_out)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line_out, (size_t)n)) > 0) {
      line_out[n++] = '\n';
      reply_send(line_out, (size_t)n);
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65534 bytes" : "empty");
    }
  }

  pthread_join(acceptor, NULL); /* no more replies; keep listening */
  return 0;
}
