// zlib bridge for Swift (gzip for sync batches). Only EarshotSync imports this module.
#ifndef EARSHOT_CZLIB_SHIM_H
#define EARSHOT_CZLIB_SHIM_H
#include <zlib.h>
#endif
