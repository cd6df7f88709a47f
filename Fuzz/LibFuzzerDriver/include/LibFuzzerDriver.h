#ifndef FHIR_EDGE_LIBFUZZER_DRIVER_H
#define FHIR_EDGE_LIBFUZZER_DRIVER_H

/// Runs libFuzzer over the target's LLVMFuzzerTestOneInput (which the Swift target exports).
/// SwiftPM names an executable's entry point `<Target>_main` and links `main` to it, so
/// libFuzzer's own main is never linked; each target's `<Target>_main` calls this instead.
int fhir_edge_fuzz_main(int argc, char **argv);

#endif
