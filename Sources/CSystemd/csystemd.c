#include "csystemd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// See csystemd.h: libsystemd is opened on first use, never linked.

#define SKIFF_LIBSYSTEMD "libsystemd.so.0"

#define SKIFF_SD_BUS_POINTER(type, name, params, args) static type(*pointer_##name) params;
SKIFF_SD_BUS_CALLS(SKIFF_SD_BUS_POINTER)
static void (*pointer_sd_bus_error_free)(sd_bus_error *e);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

static void load(void) {
    void *library = dlopen(SKIFF_LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(load_error, sizeof load_error, "dlopen %s", dlerror());
        return;
    }
#define SKIFF_SD_BUS_RESOLVE(type, name, params, args) \
    if ((*(void **)&pointer_##name = dlsym(library, #name)) == NULL) goto missing;
    SKIFF_SD_BUS_CALLS(SKIFF_SD_BUS_RESOLVE)
    if ((*(void **)&pointer_sd_bus_error_free = dlsym(library, "sd_bus_error_free")) == NULL) goto missing;
    return;
missing:
    // dlerror names the library and the symbol ("...: undefined symbol: sd_bus_match_signal").
    snprintf(load_error, sizeof load_error, "dlsym %s", dlerror());
}

const char *skiff_sd_bus_load(void) {
    pthread_once(&load_once, load);
    return load_error[0] != '\0' ? load_error : NULL;
}

#define SKIFF_SD_BUS_FORWARD(type, name, params, args) \
    type skiff_##name params { return pointer_##name args; }
SKIFF_SD_BUS_CALLS(SKIFF_SD_BUS_FORWARD)

void skiff_sd_bus_error_free(sd_bus_error *e) { pointer_sd_bus_error_free(e); }
