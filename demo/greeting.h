/* libgreeting: a second library, built on libdemo. */
#ifndef GREETING_H
#define GREETING_H
/* "*** Hello, NAME! *** (libgreeting 1.0 on libdemo V)" */
const char *greeting_banner(const char *name);
#endif
