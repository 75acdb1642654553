/* sockit ping: ICMP echo as iputils ping does it. */
#ifndef SOCKIT_PING_H
#define SOCKIT_PING_H

/* argv[0] is "ping". Returns the exit code: 0 if any reply came, 1 if
 * none, 2 on a usage or socket error, 143 after SIGTERM. */
int ping_main(int argc, char **argv);

#endif
