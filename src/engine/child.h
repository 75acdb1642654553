/*
 * The child-process endpoint (-e, -c): a program whose stdin and stdout
 * are our ends of two socketpairs (as libuv's own stdio pipes are), its
 * stderr the operator's. Spawned with uv_spawn on the engine's loop:
 * the loop reaps it and calls back with its status. Sockets rather than
 * pipes because a socket can be half-closed (shutdown) and spliced to
 * the client socket like any other.
 */
#ifndef SOCKIT_CHILD_H
#define SOCKIT_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct sk__child {
  uv_process_t proc; /* proc.data: the caller's */
  int in_fd;         /* ours: writes become the child's stdin */
  int out_fd;        /* ours: the child's stdout */
} sk__child_t;

/* Spawns file with argv; env adds the connection's variables (from the
 * client socket cfd: SOCKIT_*, NCAT_*, and for TCP ucspi-tcp's) to
 * ours. Returns 0 (exit_cb is called when it ends; close proc there)
 * or a negative libuv/errno code; nothing is left open on failure. */
int sk__child_spawn(sk__child_t *c, uv_loop_t *loop, const char *file,
                    char *const *argv, int cfd, uv_exit_cb exit_cb);

/* Closes our ends (after the relay is over). */
void sk__child_close_fds(sk__child_t *c);

#endif
