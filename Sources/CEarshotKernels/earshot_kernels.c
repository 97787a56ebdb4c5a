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
