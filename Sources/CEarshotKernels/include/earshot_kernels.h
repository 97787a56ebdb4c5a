// Hand-vectorised inner loops for Earshot's fast int8 kernels (SSE2 on x86-64, NEON on arm64, scalar elsewhere).
// Every function returns exactly what its scalar definition returns: integer arithmetic, no rounding.
#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H
#include <stdint.h>
#include <stddef.h>

/// Σ a[i]·b[i] over `count` int8 pairs, as int32 (exact while |Σ| < 2^31: count < 131 072).
int32_t earshot_dot_i8(const int8_t *a, const int8_t *b, size_t count);

#endif
