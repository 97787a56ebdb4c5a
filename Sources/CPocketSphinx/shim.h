// PocketSphinx (Debian's libpocketsphinx-dev, 5prealpha API) for Swift. Only the EarshotSphinx target imports this.
#ifndef EARSHOT_CPOCKETSPHINX_SHIM_H
#define EARSHOT_CPOCKETSPHINX_SHIM_H
#include <stdio.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/cmd_ln.h>

/// Silences the library's own logging on stderr (it otherwise prints every setting and every utterance).
static inline void earshot_sphinx_quiet(void) { err_set_logfp(NULL); }
#endif
