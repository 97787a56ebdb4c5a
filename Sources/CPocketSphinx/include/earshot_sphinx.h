// PocketSphinx for Swift, loaded at run time: `earshot` links nothing of it (it would pull BLAS, LAPACK and gfortran
// into every edge process), and `earshot serve --pocketsphinx…` opens Debian's libpocketsphinx.so.3 only when asked.
// Handles are opaque pointers; only the EarshotSphinx target uses this.
#ifndef EARSHOT_SPHINX_H
#define EARSHOT_SPHINX_H
#include <stddef.h>
#include <stdint.h>

/// Opens the libraries and resolves every function; 0 on success, else -1 with a message in `error`.
int earshot_sphinx_load(char *error, int capacity);

/// A decoder configuration from command-line style arguments (argv[0] is ignored); NULL when they are refused.
void *earshot_sphinx_config(int argc, char **argv);
void earshot_sphinx_config_free(void *config);
void *earshot_sphinx_init(void *config);
void earshot_sphinx_free(void *decoder);
/// 1 when the dictionary has `word`.
int earshot_sphinx_has_word(void *decoder, const char *word);
/// Compiles a JSGF grammar as search `name` and makes it the active search; 0 on success.
int earshot_sphinx_set_jsgf(void *decoder, const char *name, const char *jsgf);
/// Decodes `count` samples as one utterance; 0 on success.
int earshot_sphinx_decode(void *decoder, const int16_t *samples, size_t count);
/// The best hypothesis of the last utterance (NULL when none).
const char *earshot_sphinx_hypothesis(void *decoder);
/// Its posterior probability, linear.
double earshot_sphinx_probability(void *decoder);
/// Word segments of the last utterance: the first, then the next (NULL at the end; the iterator frees itself).
void *earshot_sphinx_segments(void *decoder);
void *earshot_sphinx_segment_next(void *segment);
const char *earshot_sphinx_segment_word(void *segment);
void earshot_sphinx_segment_frames(void *segment, int *start, int *end);
/// A segment's posterior probability, linear.
double earshot_sphinx_segment_probability(void *decoder, void *segment);
#endif
