__thread long t[2];
long *slot(int i) { return &t[i]; }
