/* An i386 program run under qemu-i386 through a table's elf32-i386 interpreter and libc. */
#include <stdio.h>
#include <math.h>
int main(int argc, char **argv) { (void)argv; printf("hello from i386 %.3f\n", cos((double)argc)); return 0; }
