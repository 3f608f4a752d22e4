/* Writes the numbers 0..N-1, one a line, to stdout: the head of a shell pipeline. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  for (long i = 0; i < n; i++) printf("%ld\n", i);
  return 0;
}
