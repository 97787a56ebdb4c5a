#include "earshot_kernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>

int32_t earshot_dot_i8(const int8_t *a, const int8_t *b, size_t count) {
    __m128i sum = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(b + i));
        // Sign-extend bytes to 16 bits (unpack with the sign mask), then multiply pairs and add neighbours: pmaddwd.
        __m128i xs = _mm_cmplt_epi8(x, _mm_setzero_si128()), ys = _mm_cmplt_epi8(y, _mm_setzero_si128());
        __m128i xl = _mm_unpacklo_epi8(x, xs), xh = _mm_unpackhi_epi8(x, xs);
        __m128i yl = _mm_unpacklo_epi8(y, ys), yh = _mm_unpackhi_epi8(y, ys);
        sum = _mm_add_epi32(sum, _mm_madd_epi16(xl, yl));
        sum = _mm_add_epi32(sum, _mm_madd_epi16(xh, yh));
    }
    int32_t lanes[4];
    _mm_storeu_si128((__m128i *)lanes, sum);
    int32_t total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}

static inline __m128i widen8(const int8_t *p) {
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return _mm_unpacklo_epi8(v, _mm_cmplt_epi8(v, _mm_setzero_si128()));
}

void earshot_depthwise_row8(int32_t *acc, const int8_t *w, ptrdiff_t w_stride, const int8_t *x, ptrdiff_t x_stride,
                            int32_t offset, size_t count, int broadcast) {
    __m128i lo = _mm_loadu_si128((const __m128i *)acc), hi = _mm_loadu_si128((const __m128i *)(acc + 4));
    const __m128i off = _mm_set1_epi16((int16_t)offset);
    const ptrdiff_t n = (ptrdiff_t)count;
    ptrdiff_t t = 0;
    // Two taps at a time: interleave their weights (and values) so pmaddwd computes w0·v0 + w1·v1 per channel.
    for (; t + 2 <= n; t += 2) {
        __m128i w0 = widen8(w + t * w_stride), w1 = widen8(w + (t + 1) * w_stride);
        __m128i wl = _mm_unpacklo_epi16(w0, w1), wh = _mm_unpackhi_epi16(w0, w1);
        if (broadcast) {
            int32_t v0 = (int32_t)x[t * x_stride] + offset, v1 = (int32_t)x[(t + 1) * x_stride] + offset;
            __m128i pair = _mm_set1_epi32((int32_t)((uint32_t)(uint16_t)v0 | ((uint32_t)(uint16_t)v1 << 16)));
            lo = _mm_add_epi32(lo, _mm_madd_epi16(wl, pair));
            hi = _mm_add_epi32(hi, _mm_madd_epi16(wh, pair));
        } else {
            __m128i v0 = _mm_add_epi16(widen8(x + t * x_stride), off), v1 = _mm_add_epi16(widen8(x + (t + 1) * x_stride), off);
            lo = _mm_add_epi32(lo, _mm_madd_epi16(wl, _mm_unpacklo_epi16(v0, v1)));
            hi = _mm_add_epi32(hi, _mm_madd_epi16(wh, _mm_unpackhi_epi16(v0, v1)));
        }
    }
    if (t < n) {
        // Odd tap left over: pair it with a zero weight.
        __m128i w0 = widen8(w + t * w_stride), zero = _mm_setzero_si128();
        __m128i wl = _mm_unpacklo_epi16(w0, zero), wh = _mm_unpackhi_epi16(w0, zero);
        __m128i v0 = broadcast ? _mm_set1_epi16((int16_t)((int32_t)x[t * x_stride] + offset))
                               : _mm_add_epi16(widen8(x + t * x_stride), off);
        lo = _mm_add_epi32(lo, _mm_madd_epi16(wl, _mm_unpacklo_epi16(v0, zero)));
        hi = _mm_add_epi32(hi, _mm_madd_epi16(wh, _mm_unpackhi_epi16(v0, zero)));
    }
    _mm_storeu_si128((__m128i *)acc, lo);
    _mm_storeu_si128((__m128i *)(acc + 4), hi);
}

#elif defined(__ARM_NEON)
#include <arm_neon.h>

int32_t earshot_dot_i8(const int8_t *a, const int8_t *b, size_t count) {
    int32x4_t sum = vdupq_n_s32(0);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        int8x16_t x = vld1q_s8(a + i), y = vld1q_s8(b + i);
        int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(y));
        int16x8_t hi = vmull_s8(vget_high_s8(x), vget_high_s8(y));
        sum = vpadalq_s16(sum, lo);
        sum = vpadalq_s16(sum, hi);
    }
    int32_t total = vaddvq_s32(sum);
    for (; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}

#else

int32_t earshot_dot_i8(const int8_t *a, const int8_t *b, size_t count) {
    int32_t total = 0;
    for (size_t i = 0; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}

#endif

void earshot_depthwise_row8_portable(int32_t *acc, const int8_t *w, ptrdiff_t w_stride, const int8_t *x,
                                     ptrdiff_t x_stride, int32_t offset, size_t count, int broadcast) {
    for (ptrdiff_t t = 0; t < (ptrdiff_t)count; t++) {
        for (int k = 0; k < 8; k++) {
            int32_t v = (int32_t)x[t * x_stride + (broadcast ? 0 : k)] + offset;
            acc[k] += (int32_t)w[t * w_stride + k] * v;
        }
    }
}

#if !defined(__SSE2__)
// NEON and scalar builds: the plain loop (NEON has 32-bit lane multiplies, and the compiler vectorises it well).
void earshot_depthwise_row8(int32_t *acc, const int8_t *w, ptrdiff_t w_stride, const int8_t *x, ptrdiff_t x_stride,
                            int32_t offset, size_t count, int broadcast) {
    earshot_depthwise_row8_portable(acc, w, w_stride, x, x_stride, offset, count, broadcast);
}
#endif
