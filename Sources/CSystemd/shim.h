#include <systemd/sd-bus.h>

// sd-bus for the systemd cgroup driver (Sources/SkiffCgroups/Systemd). Messages are built and
// read with the non-variadic calls (append_basic, open_container…), which Swift can call; only
// the error initializer, a macro, is spelled out here.

static inline sd_bus_error skiff_sd_bus_error_null(void) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    return error;
}
