/* quickstart: connect, send one line, stop at the first error.
 *   cc quickstart.c $(pkg-config --cflags --libs sockit) -o quickstart
 *   ./quickstart 127.0.0.1:2333                (or [::1]:2333) */
#include <stdio.h>
#include <unistd.h>

#include <sockit/sockit.h>

int main(int argc, char **argv) {
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  const char *where = argc > 1 ? argv[1] : "127.0.0.1:2333";
  if (sk_addr_parse(err, &addr, where, 0) < 0) {
    /* port "2333x" is not an integer in 1..65535 */
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  /* Tries every address the name resolves to, each for up to 5 s. */
  sk_sock_opts_t opts = {.timeout_ms = 5000};
  int fd = sk_tcp_connect(err, &addr, &opts);
  if (fd < 0) {
    /* connect 127.0.0.1:2333: Connection refused */
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  /* Loops over partial writes; never raises SIGPIPE. */
  ssize_t n = sk_send_all(fd, "hello\n", 6);
  if (n < 0) {
    fprintf(stderr, "send: %s\n", sk_strerror((int)n));
    return 1;
  }
  return close(fd) < 0 ? 1 : 0;
}
