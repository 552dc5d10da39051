/* The types libstubby.c and prog.c share (sizes 16, 24 and 40, alignments 16 and 8). */
struct s16 { _Alignas(16) long v[2]; };
struct s24 { long v[3]; };
struct s40 { long v[5]; };
