int shared_counter = 1;
int bump(void) { return ++shared_counter; }
