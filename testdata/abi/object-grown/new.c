int table[16] = {1, 2, 3, 4, 5, 6, 7, 8};
int get(int i) { return table[i]; }
