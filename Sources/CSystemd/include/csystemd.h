#ifndef SKIFF_CSYSTEMD_H
#define SKIFF_CSYSTEMD_H

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

// sd-bus for the systemd cgroup driver (Sources/SkiffCgroups/Systemd), loaded with dlopen
// the first time --systemd-cgroup asks for a bus: linked, libsystemd (and its own libraries)
// would be mapped and relocated on every exec of every skiff command and of each container's
// init, for a driver most runs never use. The header is libsystemd-dev's, so
// the types and signatures are the library's own; each call below is skiff_<sd-bus name>,
// which forwards to the symbol dlsym found.

/// Loads libsystemd.so.0 and resolves every call below, once per process. NULL when they are
/// all there; otherwise the failure, one line naming the library or the symbol
/// ("dlopen libsystemd.so.0: cannot open shared object file: No such file or directory").
const char *skiff_sd_bus_load(void);

// The sd-bus calls skiff makes, as X(return type, name, parameters, arguments): the one
// list the declarations, the pointers and the forwarding definitions are made from.
#define SKIFF_SD_BUS_CALLS(X) \
    X(int, sd_bus_new, (sd_bus **ret), (ret)) \
    X(int, sd_bus_set_address, (sd_bus *bus, const char *address), (bus, address)) \
    X(int, sd_bus_set_bus_client, (sd_bus *bus, int b), (bus, b)) \
    X(int, sd_bus_set_trusted, (sd_bus *bus, int b), (bus, b)) \
    X(int, sd_bus_start, (sd_bus *bus), (bus)) \
    X(sd_bus *, sd_bus_flush_close_unref, (sd_bus *bus), (bus)) \
    X(int, sd_bus_message_new_method_call, \
      (sd_bus *bus, sd_bus_message **m, const char *destination, const char *path, const char *interface, \
       const char *member), \
      (bus, m, destination, path, interface, member)) \
    X(sd_bus_message *, sd_bus_message_unref, (sd_bus_message *m), (m)) \
    X(int, sd_bus_call, (sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply), \
      (bus, m, usec, ret_error, reply)) \
    X(int, sd_bus_message_read_basic, (sd_bus_message *m, char type, void *p), (m, type, p)) \
    X(int, sd_bus_match_signal, \
      (sd_bus *bus, sd_bus_slot **ret, const char *sender, const char *path, const char *interface, \
       const char *member, sd_bus_message_handler_t callback, void *userdata), \
      (bus, ret, sender, path, interface, member, callback, userdata)) \
    X(sd_bus_slot *, sd_bus_slot_unref, (sd_bus_slot *slot), (slot)) \
    X(int, sd_bus_process, (sd_bus *bus, sd_bus_message **r), (bus, r)) \
    X(int, sd_bus_wait, (sd_bus *bus, uint64_t timeout_usec), (bus, timeout_usec)) \
    X(int, sd_bus_message_append_basic, (sd_bus_message *m, char type, const void *p), (m, type, p)) \
    X(int, sd_bus_message_append_array, (sd_bus_message *m, char type, const void *ptr, size_t size), \
      (m, type, ptr, size)) \
    X(int, sd_bus_message_open_container, (sd_bus_message *m, char type, const char *contents), (m, type, contents)) \
    X(int, sd_bus_message_close_container, (sd_bus_message *m), (m)) \
    X(int, sd_bus_message_enter_container, (sd_bus_message *m, char type, const char *contents), (m, type, contents)) \
    X(int, sd_bus_message_exit_container, (sd_bus_message *m), (m)) \
    X(int, sd_bus_message_skip, (sd_bus_message *m, const char *types), (m, types)) \
    X(int, sd_bus_path_encode, (const char *prefix, const char *external_id, char **ret_path), \
      (prefix, external_id, ret_path)) \
    X(int, sd_bus_get_property_string, \
      (sd_bus *bus, const char *destination, const char *path, const char *interface, const char *member, \
       sd_bus_error *ret_error, char **ret), \
      (bus, destination, path, interface, member, ret_error, ret))

#define SKIFF_SD_BUS_DECLARE(type, name, params, args) type skiff_##name params;
SKIFF_SD_BUS_CALLS(SKIFF_SD_BUS_DECLARE)
#undef SKIFF_SD_BUS_DECLARE

/// sd_bus_error_free (void, so outside the list).
void skiff_sd_bus_error_free(sd_bus_error *e);

/// SD_BUS_ERROR_NULL, a macro Swift cannot use.
static inline sd_bus_error skiff_sd_bus_error_null(void) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    return error;
}

#endif
