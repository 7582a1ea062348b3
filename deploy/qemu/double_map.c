/* What .NET's W^X does to emitted code, in 40 lines: one memfd mapped twice, writable and
 * executable; code is written through the writable view, the instruction cache is flushed for the
 * executable view (as the Arm architecture requires), and the code is run. Then it is rewritten
 * in place and run again. Real arm64 hardware runs the new code; an emulator that only watches
 * writes to the pages it translated (qemu-user) may run the stale translation.
 * With 'single', one read-write-execute mapping instead (what .NET does with W^X off): the control.
 * Prints what each call returned. Usage: double_map [rounds] [single] */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5, stale = 0;
  int fd = memfd_create("doublemapper", 0);
  if (fd < 0 || ftruncate(fd, 4096) != 0) { perror("memfd"); return 2; }
  int single = argc > 2 && strcmp(argv[2], "single") == 0;
  uint32_t *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE | (single ? PROT_EXEC : 0), MAP_SHARED, fd, 0);
  void *rx = single ? (void *)rw : mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  if (rw == MAP_FAILED || rx == MAP_FAILED) { perror("mmap"); return 2; }
  int (*function)(void) = (int (*)(void))rx;
  for (int i = 1; i <= rounds; i++) {
    rw[0] = 0x52800000u | ((uint32_t)i << 5); /* movz w0, #i */
    rw[1] = 0xd65f03c0u;                      /* ret */
    __builtin___clear_cache((char *)rx, (char *)rx + 8);
    int got = function();
    printf("round %d: the code returns %d, expected %d%s\n", i, got, i, got == i ? "" : "  <- stale code ran");
    stale += got != i;
  }
  printf("%d of %d rounds ran stale code\n", stale, rounds);
  return stale > 0;
}
