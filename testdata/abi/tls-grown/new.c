__thread long t[3];
long *slot(int i) { return &t[i]; }
