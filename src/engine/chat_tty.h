/*
 * The chat client's terminal: a line editor (libedit through its
 * readline-compatible callback interface) on a terminal stdin and
 * stdout. The caller polls stdin and calls sk__tty_read when it is
 * readable; lines from the server are printed above the input line,
 * which is redrawn intact. libedit is one per process: so is this.
 */
#ifndef SOCKIT_CHAT_TTY_H
#define SOCKIT_CHAT_TTY_H

#include <stdbool.h>
#include <stddef.h>

/* A typed line (without its newline), or NULL for end of input;
 * returns true to go on editing, false when input is over. */
typedef bool (*sk__tty_line_cb)(void *ctx, const char *line);

/* Takes the terminal: saves its termios, starts the editor with the
 * prompt. colour: the user's own name in colour (the server's lines come
 * coloured by the client's filter). Returns 0 or -errno. */
int sk__tty_open(int in_fd, int out_fd, bool colour, sk__tty_line_cb cb,
                 void *ctx);

/* stdin is readable: lets the editor take what was typed. */
void sk__tty_read(void);

/* Prints one line from the server (made terminal-safe, coloured if
 * wanted, with its newline) above the input line. */
void sk__tty_show(const char *line, size_t len);

/* Prints the user's line in place of the editor's copy of it. */
void sk__tty_show_own(const char *line, size_t len, size_t typed_width);

/* The process was stopped and continued (Ctrl-Z, fg): the shell has set
 * the terminal to its own mode meanwhile; takes it back and redraws. */
void sk__tty_resume(void);

/* Display columns of a UTF-8 text (the locale's wcwidth). */
size_t sk__tty_width(const char *text, size_t len);

/* Input is over (/quit, Ctrl-D): no prompt any more; what is shown
 * from now on starts a fresh line. */
void sk__tty_done_editing(void);

/* Clears the input line, stops the editor and gives the terminal its
 * termios back. Safe to call twice. */
void sk__tty_close(void);

#endif
