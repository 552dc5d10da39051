int a = 1;
extern int b __attribute__((alias("a"))); /* second name, same address */
int get(void) { return a; }
