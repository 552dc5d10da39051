int table[4] = {1, 2, 3, 4};
int get(int i) { return table[i]; }
