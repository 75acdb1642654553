/* sockit's chat client: a relay mode for --chat without -l. */
#ifndef SOCKIT_CHAT_CLIENT_H
#define SOCKIT_CHAT_CLIENT_H

#include "engine.h"

/*
 * Prints every line from the connected socket fd while the user types,
 * marks the user's own lines, sends each typed line; on e's loop until
 * the server closes, the input ends or sk_engine_stop(e) asks. Returns 0
 * or a negative code with one line in err, like sk_relay_run.
 */
int sk_chat_client_run(sk_engine_t *e, char *err, int fd, int in_fd,
                       int out_fd);

#endif
