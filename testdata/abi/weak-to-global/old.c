__attribute__((weak)) int hook(int x) { return x + 1; }
int other(void) { return 0; }
