// Run-time binding of Debian's PocketSphinx 5prealpha (libpocketsphinx.so.3, libsphinxbase.so.3). The prototypes are
// the libraries' own (pocketsphinx.h, ps_search.h, cmd_ln.h, logmath.h, err.h), written with opaque pointers so no
// development headers are needed to build Earshot.
#include "earshot_sphinx.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static struct {
    int loaded;
    const void *(*ps_args)(void);
    void *(*cmd_ln_parse_r)(void *, const void *, int32_t, char **, int32_t);
    int (*cmd_ln_free_r)(void *);
    void *(*ps_init)(void *);
    int (*ps_free)(void *);
    char *(*ps_lookup_word)(void *, const char *);
    int (*ps_set_jsgf_string)(void *, const char *, const char *);
    int (*ps_set_search)(void *, const char *);
    int (*ps_start_utt)(void *);
    int (*ps_process_raw)(void *, const int16_t *, size_t, int, int);
    int (*ps_end_utt)(void *);
    const char *(*ps_get_hyp)(void *, int32_t *);
    int32_t (*ps_get_prob)(void *);
    void *(*ps_get_logmath)(void *);
    void *(*ps_seg_iter)(void *);
    void *(*ps_seg_next)(void *);
    const char *(*ps_seg_word)(void *);
    void (*ps_seg_frames)(void *, int *, int *);
    int32_t (*ps_seg_prob)(void *, int32_t *, int32_t *, int32_t *);
    double (*logmath_exp)(void *, int);
    void (*err_set_logfp)(FILE *);
} api;

#define RESOLVE(handle, name) \
    do { \
        *(void **)(&api.name) = dlsym(handle, #name); \
        if (!api.name) { snprintf(error, (size_t)capacity, "%s is missing from PocketSphinx's libraries", #name); return -1; } \
    } while (0)

int earshot_sphinx_load(char *error, int capacity) {
    if (api.loaded) return 0;
    void *base = dlopen("libsphinxbase.so.3", RTLD_NOW | RTLD_GLOBAL);
    void *ps = base ? dlopen("libpocketsphinx.so.3", RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (!ps) {
        snprintf(error, (size_t)capacity, "PocketSphinx's library cannot be loaded (install libpocketsphinx3): %s", dlerror());
        return -1;
    }
    RESOLVE(ps, ps_args); RESOLVE(base, cmd_ln_parse_r); RESOLVE(base, cmd_ln_free_r); RESOLVE(ps, ps_init);
    RESOLVE(ps, ps_free); RESOLVE(ps, ps_lookup_word); RESOLVE(ps, ps_set_jsgf_string); RESOLVE(ps, ps_set_search);
    RESOLVE(ps, ps_start_utt); RESOLVE(ps, ps_process_raw); RESOLVE(ps, ps_end_utt); RESOLVE(ps, ps_get_hyp);
    RESOLVE(ps, ps_get_prob); RESOLVE(ps, ps_get_logmath); RESOLVE(ps, ps_seg_iter); RESOLVE(ps, ps_seg_next);
    RESOLVE(ps, ps_seg_word); RESOLVE(ps, ps_seg_frames); RESOLVE(ps, ps_seg_prob); RESOLVE(base, logmath_exp);
    RESOLVE(base, err_set_logfp);
    api.err_set_logfp(NULL);      // the library logs every setting and utterance to stderr otherwise
    api.loaded = 1;
    return 0;
}

void *earshot_sphinx_config(int argc, char **argv) { return api.cmd_ln_parse_r(NULL, api.ps_args(), argc, argv, 1); }
void earshot_sphinx_config_free(void *config) { if (config) api.cmd_ln_free_r(config); }
void *earshot_sphinx_init(void *config) { return api.ps_init(config); }
void earshot_sphinx_free(void *decoder) { if (decoder) api.ps_free(decoder); }
int earshot_sphinx_has_word(void *decoder, const char *word) { return api.ps_lookup_word(decoder, word) != NULL; }

int earshot_sphinx_set_jsgf(void *decoder, const char *name, const char *jsgf) {
    if (api.ps_set_jsgf_string(decoder, name, jsgf) != 0) return -1;
    return api.ps_set_search(decoder, name);
}

int earshot_sphinx_decode(void *decoder, const int16_t *samples, size_t count) {
    if (api.ps_start_utt(decoder) != 0) return -1;
    if (api.ps_process_raw(decoder, samples, count, 0, 1) < 0) { api.ps_end_utt(decoder); return -1; }
    return api.ps_end_utt(decoder);
}

const char *earshot_sphinx_hypothesis(void *decoder) { int32_t score = 0; return api.ps_get_hyp(decoder, &score); }
double earshot_sphinx_probability(void *decoder) { return api.logmath_exp(api.ps_get_logmath(decoder), api.ps_get_prob(decoder)); }
void *earshot_sphinx_segments(void *decoder) { return api.ps_seg_iter(decoder); }
void *earshot_sphinx_segment_next(void *segment) { return api.ps_seg_next(segment); }
const char *earshot_sphinx_segment_word(void *segment) { return api.ps_seg_word(segment); }
void earshot_sphinx_segment_frames(void *segment, int *start, int *end) { api.ps_seg_frames(segment, start, end); }

double earshot_sphinx_segment_probability(void *decoder, void *segment) {
    int32_t acoustic = 0, language = 0, backoff = 0;
    return api.logmath_exp(api.ps_get_logmath(decoder), api.ps_seg_prob(segment, &acoustic, &language, &backoff));
}
