/*
 * The chat client's terminal, on libedit's readline-compatible callback
 * interface. Three libedit habits shape it:
 *  - after a line, rl_callback_read_char leaves the editor buffered (the
 *    next call would block until Enter): the line handler installs the
 *    handler again, which puts it back to one key per call;
 *  - arrow keys are bound from terminfo's application-mode sequences
 *    only (ESC O A), while terminals send ESC [ A: both are bound;
 *  - it would install signal handlers: rl_catch_signals = 0 (main owns
 *    signals), and its edit mode clears ISIG: `setty -d +isig` keeps
 *    Ctrl-C a SIGINT for main's watcher.
 * Lines from the server go above the input: the input's rows are
 * cleared, the line printed, and libedit redraws prompt and input.
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>

#include "chat_tty.h"

#define PROMPT "> "
#define OWN_NAME "<me>"
#define COLOUR_OWN "\033[1;32m"
#define COLOUR_OFF "\033[0m"

static struct {
  bool open, colour, saved;
  bool editing; /* the editor shows a prompt and takes keys */
  int in_fd, out_fd;
  FILE *in, *out;
  struct termios termios;
  sk__tty_line_cb cb;
  void *ctx;
} T;

size_t sk__tty_width(const char *text, size_t len) {
  mbstate_t st;
  size_t cols = 0, i = 0;
  memset(&st, 0, sizeof st);
  while (i < len) {
    wchar_t wc;
    size_t n = mbrtowc(&wc, text + i, len - i, &st);
    if (n == (size_t)-1 || n == (size_t)-2) { /* libedit shows \ooo */
      memset(&st, 0, sizeof st);
      cols += 4;
      i++;
      continue;
    }
    if (n == 0)
      n = 1;
    int w = wcwidth(wc);
    cols += w >= 0 ? (size_t)w : 2; /* a control shows as ^X */
    i += n;
  }
  return cols;
}

static size_t term_cols(void) {
  struct winsize ws;
  if (ioctl(T.out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

/* Clears the rows the prompt and input take, the cursor on the first. */
static void erase_input(size_t width_before_cursor) {
  size_t up = width_before_cursor / term_cols();
  fputs("\r", T.out);
  if (up > 0)
    fprintf(T.out, "\033[%zuA", up);
  fputs("\033[J", T.out);
}

static size_t input_width(void) {
  return sk__tty_width(PROMPT, sizeof PROMPT - 1) +
         sk__tty_width(rl_line_buffer ? rl_line_buffer : "",
                       rl_line_buffer ? (size_t)rl_point : 0);
}

static void line_handler(char *line) {
  if (line && *line)
    add_history(line);
  bool more = T.cb(T.ctx, line);
  free(line);
  if (T.open && more) /* back to one key per call (see the top) */
    rl_callback_handler_install(PROMPT, line_handler);
  else
    T.editing = false;
}

static void bind_keys(void) {
  /* ^[ is ESC to `bind`; a backslash would be eaten by the tokenizer
   * first, binding "e[A" and so swallowing every typed "e". */
  static const char *const binds[] = {
      "bind ^[[A ed-prev-history", "bind ^[[B ed-next-history",
      "bind ^[[C ed-next-char",    "bind ^[[D ed-prev-char",
      "bind ^[[H ed-move-to-beg",  "bind ^[[F ed-move-to-end",
      "bind ^[[3~ ed-delete-next-char",
  };
  for (size_t i = 0; i < sizeof binds / sizeof *binds; i++)
    rl_parse_and_bind(binds[i]);
  /* Ctrl-C stays the terminal's: SIGINT, which main turns into a stop
   * (libedit's edit mode would take it as a key and do nothing). */
  rl_parse_and_bind("setty -d +isig");
}

int sk__tty_open(int in_fd, int out_fd, bool colour, sk__tty_line_cb cb,
                 void *ctx) {
  T.in_fd = in_fd;
  T.out_fd = out_fd;
  T.colour = colour;
  T.cb = cb;
  T.ctx = ctx;
  T.saved = tcgetattr(in_fd, &T.termios) == 0;
  T.in = fdopen(dup(in_fd), "r");
  T.out = fdopen(dup(out_fd), "w");
  if (!T.in || !T.out) {
    int e = errno;
    if (T.in)
      fclose(T.in);
    if (T.out)
      fclose(T.out);
    T.in = T.out = NULL;
    return -e;
  }
  rl_instream = T.in;
  rl_outstream = T.out;
  rl_catch_signals = 0;
  T.open = T.editing = true;
  rl_callback_handler_install(PROMPT, line_handler);
  bind_keys();
  fflush(T.out);
  return 0;
}

void sk__tty_read(void) {
  if (!T.open || !T.editing)
    return;
  rl_callback_read_char();
  fflush(T.out);
}

void sk__tty_resume(void) {
  if (!T.open || !T.editing)
    return;
  /* libedit believes it is still in its edit mode: out of it first, or
   * prep does nothing. The edit mode keeps +isig as bound. */
  rl_deprep_terminal();
  rl_prep_terminal(1);
  fputs("\r\033[J", T.out);
  rl_forced_update_display();
  fflush(T.out);
}

void sk__tty_show(const char *line, size_t len) {
  if (!T.open || len == 0)
    return;
  if (!T.editing) { /* no input line: the cursor starts a fresh line */
    fwrite(line, 1, len, T.out);
    fflush(T.out);
    return;
  }
  erase_input(input_width());
  fwrite(line, 1, len, T.out);
  rl_forced_update_display(); /* prompt and input, intact, below */
  fflush(T.out);
}

void sk__tty_show_own(const char *line, size_t len, size_t typed_width) {
  if (!T.open)
    return;
  /* libedit left the line it echoed, then a newline: go back over it. */
  size_t rows = (sk__tty_width(PROMPT, sizeof PROMPT - 1) + typed_width) /
                    term_cols() + 1;
  fprintf(T.out, "\r\033[%zuA\033[J", rows);
  fputs(T.colour ? COLOUR_OWN OWN_NAME COLOUR_OFF " " : OWN_NAME " ", T.out);
  fwrite(line, 1, len, T.out);
  fflush(T.out);
}

void sk__tty_done_editing(void) {
  if (!T.open || !T.editing)
    return;
  T.editing = false;
  fputs("\r\033[J", T.out); /* Ctrl-D's "^D", or the empty row below */
  fflush(T.out);
}

void sk__tty_close(void) {
  if (!T.open)
    return;
  T.open = false;
  if (T.editing)
    erase_input(input_width());
  T.editing = false;
  rl_callback_handler_remove();
  fflush(T.out);
  if (T.saved) /* as it was, whatever libedit left */
    tcsetattr(T.in_fd, TCSADRAIN, &T.termios);
  rl_instream = rl_outstream = NULL;
  fclose(T.in);
  fclose(T.out);
  T.in = T.out = NULL;
}
