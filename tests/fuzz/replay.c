/*
 * Runs LLVMFuzzerTestOneInput over every file in the directories (or the
 * files) given as arguments, for builds without libFuzzer: CTest replays
 * the seed corpus this way with any compiler. Exits 1 when an argument
 * cannot be read or holds no input at all, so an empty corpus fails.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (1 << 20) /* libFuzzer's own default is far smaller */

/* Runs one file; returns 0, or -1 when it cannot be read. */
static int run_file(const char *path) {
  static uint8_t buf[REPLAY_MAX];
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t n = fread(buf, 1, sizeof buf, f);
  int bad = ferror(f) || !feof(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: read error or over %d bytes\n", path, REPLAY_MAX);
    return -1;
  }
  /* A copy of the exact size lets ASan see reads past the input. */
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy)
    return -1;
  memcpy(copy, buf, n);
  LLVMFuzzerTestOneInput(copy, n);
  free(copy);
  return 0;
}

/* Runs every regular file in dir; returns the count, or -1. */
static long run_dir(const char *dir) {
  char path[4096];
  struct dirent *e;
  struct stat st;
  long count = 0;
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return -1;
  }
  while ((e = readdir(d)) != NULL && count >= 0) {
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
      continue;
    count = run_file(path) < 0 ? -1 : count + 1;
  }
  closedir(d);
  return count;
}

int main(int argc, char **argv) {
  struct stat st;
  long total = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    long n = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)
                 ? run_dir(argv[i])
                 : (run_file(argv[i]) < 0 ? -1 : 1);
    if (n <= 0) {
      fprintf(stderr, "%s: no input was run\n", argv[i]);
      return 1;
    }
    total += n;
  }
  printf("replayed %ld inputs\n", total);
  return 0;
}
