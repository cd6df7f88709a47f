#ifndef FHIR_EDGE_CYAML_SHIM_H
#define FHIR_EDGE_CYAML_SHIM_H
/* libyaml's event parser; Gateway's YAML loader builds its own nodes from the events. */
#include <yaml.h>
#endif
