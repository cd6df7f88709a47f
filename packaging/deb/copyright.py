#!/usr/bin/env python3
"""Writes debian/copyright (DEP-5) for the binary package: fhir-edge itself, every Swift package
whose modules are linked into the binary (from Package.resolved, the checkouts' license and
NOTICE files, and the link's object list), the C libraries those packages carry inside them
(llhttp in SwiftNIO, BoringSSL in swift-crypto and swift-nio-ssl), and the
Swift runtime and FoundationEssentials that --static-swift-stdlib links in (no Foundation, no ICU:
packaging/deb/build-deb.sh refuses a binary that carries them).
Usage: copyright.py PACKAGE_ROOT LINK_FILE_LIST SWIFT_LICENSE > copyright
"""
import json
import os
import re
import sys

root, link_list, swift_license = sys.argv[1], sys.argv[2], sys.argv[3]
checkouts = os.path.join(root, ".build", "checkouts")


def paragraph_text(text):
    """A license text as a DEP-5 continuation: one leading space, blank lines as ' .'."""
    lines = []
    for line in text.strip("\n").split("\n"):
        line = line.rstrip().replace("\t", "    ")
        lines.append(" " + line if line else " .")
    return "\n".join(lines)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()


def first(directory, names):
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def kind(text):
    if "Apache License" in text and "Version 2.0" in text:
        return "Apache-2.0"
    if "Permission is hereby granted, free of charge" in text:
        return "Expat"
    raise SystemExit("copyright.py: unrecognised license text (%s...); add it to copyright.py" % text[:60].strip())


def header_copyright(directory):
    """The copyright line of the package's own source headers, for licenses that carry none."""
    for base, _, files in sorted(os.walk(os.path.join(directory, "Sources"))):
        for name in sorted(files):
            if name.endswith(".swift"):
                for line in read(os.path.join(base, name)).split("\n")[:20]:
                    match = re.search(r"Copyright \(c\) (\d{4}.*)", line)
                    if match:
                        return match.group(1).strip().rstrip(".")
    return None


def copyrights(text, fallback):
    found = []
    for line in text.split("\n"):
        match = re.match(r"\s*Copyright\s*(\(c\)|©)?\s*(.+)", line, re.IGNORECASE)
        if match and re.search(r"\d{4}", match.group(2)) and "notice" not in line.lower():
            holder = match.group(2).strip().rstrip(".")
            if holder not in found:
                found.append(holder)
    return found or [fallback]


# Which modules the binary links: `<Module>.build/…o` in SwiftPM's object list.
linked = set()
for line in read(link_list).split("\n"):
    match = re.search(r"/([^/]+)\.build/", line)
    if match:
        linked.add(match.group(1))

resolved = json.loads(read(os.path.join(root, "Package.resolved")))["pins"]
directories = {name.lower(): name for name in os.listdir(checkouts)}
stanzas = []
bundled_c = {
    # module: (description, copyright, license kind, license file within the checkout or None)
    "CNIOLLHTTP": ("llhttp, as carried by SwiftNIO", ["2018 Fedor Indutny"], "Expat", "Sources/CNIOLLHTTP/LICENSE"),
}
for pin in sorted(resolved, key=lambda p: p["identity"]):
    directory = os.path.join(checkouts, directories.get(pin["identity"].lower(), pin["identity"]))
    sources = os.path.join(directory, "Sources")
    modules = set(os.listdir(sources)) if os.path.isdir(sources) else set()
    used = sorted(modules & linked)
    if not used:
        continue
    license_file = first(directory, ["LICENSE.txt", "LICENSE", "LICENSE.md", "COPYING"])
    if license_file is None:
        raise SystemExit("copyright.py: %s has no license file" % pin["identity"])
    text = read(license_file)
    license_kind = kind(text)
    version = pin["state"].get("version") or pin["state"].get("revision", "")[:12]
    stanza = [
        "Files: vendor/%s/*" % pin["identity"],
        "Copyright: " + "\n ".join(copyrights(text, header_copyright(directory) or "the %s authors" % pin["identity"])),
        "License: " + license_kind,
        "Comment: %s %s (%s), statically linked into /usr/bin/fhir-edge: modules %s."
        % (pin["identity"], version, pin["location"], ", ".join(used)),
    ]
    notice = first(directory, ["NOTICE.txt", "NOTICE"])
    if notice:
        stanza.append(" .\n NOTICE:\n .\n" + paragraph_text(read(notice)))
    stanzas.append("\n".join(stanza))
    for module in used:
        if module in bundled_c:
            description, holders, c_kind, c_file = bundled_c[module]
            if c_file:
                holders = copyrights(read(os.path.join(directory, c_file)), holders[0])
            stanzas.append("\n".join([
                "Files: vendor/%s/Sources/%s/*" % (pin["identity"], module),
                "Copyright: " + "\n ".join(holders),
                "License: " + c_kind,
                "Comment: %s, compiled into the %s module." % (description, module),
            ]))
        if module.endswith("BoringSSL") and module.startswith("C"):
            # BoringSSL: Apache-2.0 upstream since 2024, older parts under the OpenSSL and ISC terms,
            # which the package's NOTICE and its own LICENSE text above carry.
            stanzas.append("\n".join([
                "Files: vendor/%s/Sources/%s/*" % (pin["identity"], module),
                "Copyright: 1998-2011 The OpenSSL Project\n 1995-1998 Eric Young\n 2014-2025 Google Inc.",
                "License: Apache-2.0",
                "Comment: BoringSSL, compiled into the %s module of %s." % (module, pin["identity"]),
            ]))

runtime = [
    "Files: vendor/swift-runtime/*",
    "Copyright: 2014-2026 Apple Inc. and the Swift project authors",
    "License: Apache-2.0-with-Swift-exception",
    "Comment: The Swift standard library, Concurrency, Dispatch, FoundationEssentials (swift-foundation)\n"
    " and their C support, linked statically by --static-swift-stdlib.",
]

swift_text = read(swift_license)
exception = swift_text[swift_text.index("## Runtime Library Exception"):]

out = [
    "\n".join([
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        "Upstream-Name: fhir-edge",
        "Comment: The binary /usr/bin/fhir-edge is one statically linked Swift program; every",
        " package whose code it carries is listed below by the path its sources have in a build",
        " (.build/checkouts/<package>, here shown as vendor/<package>).",
    ]),
    "\n".join([
        "Files: *",
        "Copyright: the fhir-edge authors",
        "License: Apache-2.0",
        "Comment: The source tree's LICENSE file.",
    ]),
]
out += stanzas
out.append("\n".join(runtime))
out.append("\n".join([
    "License: Apache-2.0",
    " Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use",
    " this file except in compliance with the License. You may obtain a copy of the",
    " License at https://www.apache.org/licenses/LICENSE-2.0",
    " .",
    " On Debian systems, the complete text of the Apache License, Version 2.0 can be",
    " found in /usr/share/common-licenses/Apache-2.0.",
]))
out.append("\n".join([
    "License: Apache-2.0-with-Swift-exception",
    " Apache License, Version 2.0 (on Debian systems in /usr/share/common-licenses/Apache-2.0),",
    " with the Runtime Library Exception:",
    " .",
    paragraph_text(exception),
]))
out.append("\n".join([
    "License: Expat",
    paragraph_text("""Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in the
Software without restriction, including without limitation the rights to use, copy,
modify, merge, publish, distribute, sublicense, and/or sell copies of the Software,
and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE
OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""),
]))
out.append("\n".join([
    "License: Unicode-3.0",
    paragraph_text("""UNICODE LICENSE V3

COPYRIGHT AND PERMISSION NOTICE

Copyright © 2016-2024 Unicode, Inc.

NOTICE TO USER: Carefully read the following legal agreement. BY
DOWNLOADING, INSTALLING, COPYING OR OTHERWISE USING DATA FILES, AND/OR
SOFTWARE, YOU UNEQUIVOCALLY ACCEPT, AND AGREE TO BE BOUND BY, ALL OF THE
TERMS AND CONDITIONS OF THIS AGREEMENT. IF YOU DO NOT AGREE, DO NOT
DOWNLOAD, INSTALL, COPY, DISTRIBUTE OR USE THE DATA FILES OR SOFTWARE.

Permission is hereby granted, free of charge, to any person obtaining a
copy of data files and any associated documentation (the "Data Files") or
software and any associated documentation (the "Software") to deal in the
Data Files or Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, and/or sell
copies of the Data Files or Software, and to permit persons to whom the
Data Files or Software are furnished to do so, provided that either (a)
this copyright and permission notice appear with all copies of the Data
Files or Software, or (b) this copyright and permission notice appear in
associated Documentation.

THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY
KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF
THIRD PARTY RIGHTS.

IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE
BE LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES,
OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS,
WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION,
ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THE DATA
FILES OR SOFTWARE.

Except as contained in this notice, the name of a copyright holder shall
not be used in advertising or otherwise to promote the sale, use or other
dealings in these Data Files or Software without prior written
authorization of the copyright holder."""),
]))
print("\n\n".join(out))
