// ALSA bridge for Swift: the header, plus helpers for what Swift cannot import
// (variadic callbacks, macros). Only the EarshotAudio target imports this module.
#ifndef EARSHOT_CALSA_SHIM_H
#define EARSHOT_CALSA_SHIM_H

#include <alsa/asoundlib.h>

// ALSA's default error handler prints "ALSA lib pcm.c:…" lines to stderr. Earshot turns every
// ALSA error into a typed Swift error instead, so the library's own printing is silenced.
static void calsa_silent_error_handler(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

/// Installs the silent error handler (snd_lib_error_set_handler takes a variadic callback).
static inline int calsa_silence_errors(void) {
    return snd_lib_error_set_handler(calsa_silent_error_handler);
}

/// Loads an extra configuration file on top of a copy of the global configuration tree,
/// for snd_pcm_open_lconf. Returns 0 and stores the tree in *out, or a negative errno.
static inline int calsa_config_with_file(const char *path, snd_config_t **out) {
    snd_config_t *top = NULL, *copy = NULL;
    snd_input_t *in = NULL;
    int err = snd_config_update_ref(&top);
    if (err < 0) return err;
    err = snd_config_copy(&copy, top);
    snd_config_unref(top);
    if (err < 0) return err;
    err = snd_input_stdio_open(&in, path, "r");
    if (err < 0) { snd_config_delete(copy); return err; }
    err = snd_config_load(copy, in);
    snd_input_close(in);
    if (err < 0) { snd_config_delete(copy); return err; }
    *out = copy;
    return 0;
}

#endif
