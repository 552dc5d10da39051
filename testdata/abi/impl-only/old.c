/* OLD: plain implementation. */
int counter = 7;

int add(int a, int b) { return a + b; }

int scale(int x) { counter++; return x * 3; }
