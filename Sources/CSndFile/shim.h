// libsndfile bridge for Swift. Only the EarshotAudio target imports this module.
#ifndef EARSHOT_CSNDFILE_SHIM_H
#define EARSHOT_CSNDFILE_SHIM_H
#include <sndfile.h>

// memfd_create (glibc ≥ 2.27) is declared only under _GNU_SOURCE, and defining that here would change how this
// module sees the system headers it shares with the others (fd_set's fields differ), so it is declared by hand.
extern int memfd_create(const char *name, unsigned int flags);
#define EARSHOT_MFD_CLOEXEC 0x0001U

/// An anonymous in-memory file (Linux memfd), so uploaded audio is decoded by the same checked path as files on disk
/// without ever being written to storage. Returns -1 with errno set on failure.
static inline int earshot_memory_file(const char *name) { return memfd_create(name, EARSHOT_MFD_CLOEXEC); }
#endif
