#ifndef FHIR_EDGE_CMODBUS_SHIM_H
#define FHIR_EDGE_CMODBUS_SHIM_H
#include <errno.h>
#include <string.h>
#include <modbus.h>

/* Swift's Clang importer drops the EMBX* / EMB* macros (built from an enum constant), so they are
 * re-exported as plain constants. */
static const int CMB_EMBXILFUN = EMBXILFUN;
static const int CMB_EMBXILADD = EMBXILADD;
static const int CMB_EMBXILVAL = EMBXILVAL;
static const int CMB_EMBXSFAIL = EMBXSFAIL;
static const int CMB_EMBXACK = EMBXACK;
static const int CMB_EMBXSBUSY = EMBXSBUSY;
static const int CMB_EMBXNACK = EMBXNACK;
static const int CMB_EMBXMEMPAR = EMBXMEMPAR;
static const int CMB_EMBXGPATH = EMBXGPATH;
static const int CMB_EMBXGTAR = EMBXGTAR;
static const int CMB_EMBBADCRC = EMBBADCRC;
static const int CMB_EMBBADDATA = EMBBADDATA;
static const int CMB_EMBBADEXC = EMBBADEXC;
static const int CMB_EMBUNKEXC = EMBUNKEXC;
static const int CMB_EMBMDATA = EMBMDATA;
static const int CMB_EMBBADSLAVE = EMBBADSLAVE;

/* errno is read in C right after each call, so nothing the Swift runtime does in between can
 * overwrite it; `*err` is 0 when the call succeeded (libmodbus leaves stale errno values then). */
static inline modbus_t *cmb_new_tcp(const char *node, const char *service, int *err) {
    errno = 0;
    modbus_t *ctx = modbus_new_tcp_pi(node, service);
    *err = ctx == NULL ? (errno != 0 ? errno : EINVAL) : 0;
    return ctx;
}

static inline modbus_t *cmb_new_rtu(const char *device, int baud, char parity, int data_bit, int stop_bit, int *err) {
    errno = 0;
    modbus_t *ctx = modbus_new_rtu(device, baud, parity, data_bit, stop_bit);
    *err = ctx == NULL ? (errno != 0 ? errno : EINVAL) : 0;
    return ctx;
}

static inline int cmb_connect(modbus_t *ctx, int *err) {
    /* 3.1.6 leaves errno unset when a TCP connect times out: a zero errno then means a timeout. */
    errno = 0;
    int rc = modbus_connect(ctx);
    *err = rc == -1 ? (errno != 0 ? errno : ETIMEDOUT) : 0;
    return rc;
}

static inline int cmb_set_slave(modbus_t *ctx, int slave, int *err) {
    int rc = modbus_set_slave(ctx, slave);
    *err = rc == -1 ? errno : 0;
    return rc;
}

static inline int cmb_set_timeouts(modbus_t *ctx, uint32_t response_usec, uint32_t byte_usec, int *err) {
    int rc = modbus_set_response_timeout(ctx, response_usec / 1000000, response_usec % 1000000);
    if (rc == 0) rc = modbus_set_byte_timeout(ctx, byte_usec / 1000000, byte_usec % 1000000);
    *err = rc == -1 ? errno : 0;
    return rc;
}

static inline int cmb_read_registers(modbus_t *ctx, int addr, int nb, uint16_t *dest, int *err) {
    errno = 0;
    int rc = modbus_read_registers(ctx, addr, nb, dest);
    *err = rc == -1 ? errno : 0;
    return rc;
}

static inline int cmb_read_input_registers(modbus_t *ctx, int addr, int nb, uint16_t *dest, int *err) {
    errno = 0;
    int rc = modbus_read_input_registers(ctx, addr, nb, dest);
    *err = rc == -1 ? errno : 0;
    return rc;
}

static inline int cmb_read_bits(modbus_t *ctx, int addr, int nb, uint8_t *dest, int *err) {
    errno = 0;
    int rc = modbus_read_bits(ctx, addr, nb, dest);
    *err = rc == -1 ? errno : 0;
    return rc;
}

static inline int cmb_read_input_bits(modbus_t *ctx, int addr, int nb, uint8_t *dest, int *err) {
    errno = 0;
    int rc = modbus_read_input_bits(ctx, addr, nb, dest);
    *err = rc == -1 ? errno : 0;
    return rc;
}

/* Text for an error code: libmodbus' own strings for its codes, strerror (thread-safe in glibc
 * >= 2.32) for system ones, so modbus_strerror's MT-unsafe fallback is never reached. */
static inline const char *cmb_error_text(int err) {
    if (err >= MODBUS_ENOBASE) return modbus_strerror(err);
    return strerror(err);
}
#endif
