// libsamplerate (Secret Rabbit Code) bridge for Swift. Only EarshotAudio imports this module.
#ifndef EARSHOT_CSAMPLERATE_SHIM_H
#define EARSHOT_CSAMPLERATE_SHIM_H
#include <samplerate.h>
#endif
