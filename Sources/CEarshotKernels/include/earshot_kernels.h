// Hand-vectorised inner loops for Earshot's fast int8 kernels (SSE2 on x86-64, NEON on arm64, scalar elsewhere).
// Every function returns exactly what its scalar definition returns: integer arithmetic, no rounding.
#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H
#include <stdint.h>
#include <stddef.h>

/// Σ a[i]·b[i] over `count` int8 pairs, as int32 (exact while |Σ| < 2^31: count < 131 072).
int32_t earshot_dot_i8(const int8_t *a, const int8_t *b, size_t count);

/// Depthwise convolution along one line (row or column) of the filter window, for a block of 8 output channels:
/// acc[k] += Σ_{t < count} w[t·w_stride + k] · v_t[k] for k in 0..<8, with v_t[k] = x[t·x_stride] + offset when
/// `broadcast` (the 8 channels share one input channel: depth multiplier ≥ 8) or x[t·x_stride + k] + offset otherwise.
/// Inputs are int8 with |x + offset| ≤ 255, so every product fits in 16 bits and the sums are exact.
void earshot_depthwise_row8(int32_t *acc, const int8_t *w, ptrdiff_t w_stride, const int8_t *x, ptrdiff_t x_stride,
                            int32_t offset, size_t count, int broadcast);

/// The same computation as a plain loop: what non-SSE2 builds run, and the x86 kernel's in-process oracle in tests.
void earshot_depthwise_row8_portable(int32_t *acc, const int8_t *w, ptrdiff_t w_stride, const int8_t *x,
                                     ptrdiff_t x_stride, int32_t offset, size_t count, int broadcast);

#endif
