#ifndef FHIR_EDGE_CMODBUS_SHIM_H
#define FHIR_EDGE_CMODBUS_SHIM_H
#include <errno.h>
#include <modbus.h>
#endif
