// libsndfile bridge for Swift. Only the EarshotAudio target imports this module.
#ifndef EARSHOT_CSNDFILE_SHIM_H
#define EARSHOT_CSNDFILE_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <sndfile.h>

/// An anonymous in-memory file (Linux memfd), so uploaded audio is decoded by the same checked path as files on disk
/// without ever being written to storage. Returns -1 with errno set on failure.
static inline int earshot_memory_file(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
#endif
