/* The child-process endpoint: spawn, environment, our socket ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "child.h"
#include "sockit/addr.h"

#define ENV_VARS 15
#define ENV_LEN 320

extern char **environ;

/* The names the connection sets; inherited values of them are dropped. */
static const char *const env_names[ENV_VARS] = {"SOCKIT_REMOTE_ADDR",
                                                "SOCKIT_REMOTE_PORT",
                                                "SOCKIT_LOCAL_ADDR",
                                                "SOCKIT_LOCAL_PORT",
                                                "SOCKIT_PROTO",
                                                "NCAT_REMOTE_ADDR",
                                                "NCAT_REMOTE_PORT",
                                                "NCAT_LOCAL_ADDR",
                                                "NCAT_LOCAL_PORT",
                                                "NCAT_PROTO",
                                                "PROTO",
                                                "TCPREMOTEIP",
                                                "TCPREMOTEPORT",
                                                "TCPLOCALIP",
                                                "TCPLOCALPORT"};

typedef struct child_env {
  char vars[ENV_VARS][ENV_LEN];
  size_t n;
} child_env_t;

static void env_add(child_env_t *v, const char *name, const char *value) {
  snprintf(v->vars[v->n++], ENV_LEN, "%s=%s", name, value);
}

/* One end of the connection (remote or local): its numeric address and
 * port under the three spellings; false for a Unix socket. */
static bool env_side(child_env_t *v, int cfd, bool remote) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[SK_ADDRSTR_LEN], port[16];
  int rc = remote ? getpeername(cfd, (struct sockaddr *)&ss, &len)
                  : getsockname(cfd, (struct sockaddr *)&ss, &len);
  int p = rc == 0 ? sk_sockaddr_host((struct sockaddr *)&ss, host, sizeof host)
                  : -1;
  if (p < 0)
    return false;
  snprintf(port, sizeof port, "%d", p);
  const char *side = remote ? "REMOTE" : "LOCAL";
  char name[32];
  snprintf(name, sizeof name, "SOCKIT_%s_ADDR", side);
  env_add(v, name, host);
  snprintf(name, sizeof name, "SOCKIT_%s_PORT", side);
  env_add(v, name, port);
  snprintf(name, sizeof name, "NCAT_%s_ADDR", side);
  env_add(v, name, host);
  snprintf(name, sizeof name, "NCAT_%s_PORT", side);
  env_add(v, name, port);
  env_add(v, remote ? "TCPREMOTEIP" : "TCPLOCALIP", host);
  env_add(v, remote ? "TCPREMOTEPORT" : "TCPLOCALPORT", port);
  return true;
}

static bool env_ours(const char *entry) {
  for (size_t i = 0; i < ENV_VARS; i++) {
    size_t n = strlen(env_names[i]);
    if (strncmp(entry, env_names[i], n) == 0 && entry[n] == '=')
      return true;
  }
  return false;
}

/* Our environment without the connection's names, then its values. */
static char **env_build(child_env_t *v, int cfd) {
  size_t n = 0, at = 0;
  bool tcp = env_side(v, cfd, true) && env_side(v, cfd, false);
  if (!tcp)
    v->n = 0; /* a Unix socket: only the protocol */
  env_add(v, "SOCKIT_PROTO", tcp ? "TCP" : "UNIX");
  env_add(v, "NCAT_PROTO", tcp ? "TCP" : "UNIX");
  if (tcp)
    env_add(v, "PROTO", "TCP");
  while (environ[n])
    n++;
  char **env = malloc((n + v->n + 1) * sizeof *env);
  if (!env)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (!env_ours(environ[i]))
      env[at++] = environ[i];
  for (size_t i = 0; i < v->n; i++)
    env[at++] = v->vars[i];
  env[at] = NULL;
  return env;
}

int sk__child_spawn(sk__child_t *c, uv_loop_t *loop, const char *file,
                    char *const *argv, int cfd, uv_exit_cb exit_cb) {
  int in[2], out[2], rc;
  child_env_t vars = {.n = 0};
  c->in_fd = c->out_fd = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
    return -errno;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0) {
    rc = -errno;
    close(in[0]);
    close(in[1]);
    return rc;
  }
  /* Each pair carries one direction: the other is shut at once. */
  shutdown(in[0], SHUT_RD);
  shutdown(out[0], SHUT_WR);
  char **env = env_build(&vars, cfd);
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_INHERIT_FD, .data.fd = in[1]},
      {.flags = UV_INHERIT_FD, .data.fd = out[1]},
      {.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO}};
  uv_process_options_t o = {.exit_cb = exit_cb,
                            .file = file,
                            .args = (char **)argv,
                            .env = env,
                            .stdio_count = 3,
                            .stdio = stdio};
  rc = env ? uv_spawn(loop, &c->proc, &o) : -ENOMEM;
  free(env);
  close(in[1]);
  close(out[1]);
  if (rc < 0) {
    close(in[0]);
    close(out[0]);
    return rc;
  }
  c->in_fd = in[0];
  c->out_fd = out[0];
  return 0;
}

void sk__child_close_fds(sk__child_t *c) {
  if (c->in_fd >= 0)
    close(c->in_fd);
  if (c->out_fd >= 0)
    close(c->out_fd);
  c->in_fd = c->out_fd = -1;
}
