/* sockit's chat client: a relay mode for --chat without -l. */
#ifndef SOCKIT_CHAT_CLIENT_H
#define SOCKIT_CHAT_CLIENT_H

#include "engine.h"

struct sk_tls;

/*
 * Prints every line from the connected socket fd while the user types,
 * marks the user's own lines, sends each typed line; on e's loop until
 * the server closes, the input ends or sk_engine_stop(e) asks. tls: a
 * session on fd (the caller's, freed by it) or NULL; its handshake runs
 * on the loop, a refusal ends the run with its line, and so does a
 * handshake not done within handshake_ms (-w; 0: no bound). Returns 0 or a
 * negative code with one line in err, like sk_relay_run.
 */
int sk_chat_client_run(sk_engine_t *e, char *err, int fd, struct sk_tls *tls,
                       int in_fd, int out_fd, int handshake_ms);

/* The caller saw SIGCONT (the user's fg after Ctrl-Z): the line editor
 * takes the terminal back from the shell and redraws its input line. */
void sk_chat_client_resumed(void);

#endif
