// The FHIR R4 resources the gateway writes and reads.
