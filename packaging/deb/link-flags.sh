# Sourced by packaging/deb/build-deb.sh, scripts/bench-footprint.sh and scripts/symbol-order.sh:
# how the packaged binary is compiled and linked, beyond `-c release --static-swift-stdlib`.
# - lld, with -z relro/now (full RELRO, which lintian's hardening check expects of a network
#   daemon) and packed relative relocations (DT_RELR, glibc >= 2.36 as in Debian 12): the
#   static-pie's 2.2 MB of R_X86_64_RELATIVE entries become 19 KB, which the loader no longer reads.
# - Every Swift function in a section of its own, laid out in the order of symbol-order.txt (the
#   functions the idle daemon and its status page run, from scripts/symbol-order.sh) ahead of the
#   rest, so that the code the daemon keeps using after start-up is one contiguous stretch; names
#   the code no longer has are ignored.
# - No exported symbols (the Swift driver asks for --export-dynamic): 3.7 MB of names that nothing
#   on the box reads (the runtime's backtracer is off in a static binary and its helper is not
#   installed), and the functions kept only because they were exported; 4.3 MB in all. The names
#   go to the -dbgsym package instead, found by the build id.
# - No unwind tables (no-unwind-tables.ld, and so no .eh_frame_hdr): 5.3 MB that only C++
#   exceptions and a DWARF unwinder would read; the file says why nothing here needs them.
package_link_flags=(-Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections
    -Xlinker "--symbol-ordering-file=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/symbol-order.txt"
    -Xlinker --no-warn-symbol-ordering
    -Xlinker --no-export-dynamic -Xlinker --build-id=sha1
    -Xlinker -T -Xlinker "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/no-unwind-tables.ld" -Xlinker --no-eh-frame-hdr
    -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now -Xlinker -z -Xlinker pack-relative-relocs)
