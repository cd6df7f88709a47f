#!/usr/bin/env python3
"""Writes fhir-edge(1) in roff from `fhir-edge --experimental-dump-help` (ArgumentParser's
description of every command), so the man page says what the binary parses and nothing else.
Usage: manpage.py DUMP.json VERSION DATE > fhir-edge.1
"""
import json
import sys


def roff(text):
    """Escapes text for roff: backslashes, leading dots/quotes, and hyphens as minus signs."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def synopsis_name(argument):
    name = argument.get("preferredName")
    if argument["kind"] == "positional":
        return "<" + argument["valueName"] + ">"
    flag = ("--" if name["kind"] == "long" else "-") + name["name"]
    if argument["kind"] == "option":
        flag += " <" + argument["valueName"] + ">"
    return flag


def usage(command, path):
    parts = [" ".join(path)]
    for argument in command.get("arguments", []):
        if not argument.get("shouldDisplay", True) or argument.get("valueName") == "help":
            continue
        item = synopsis_name(argument)
        if argument.get("isRepeating"):
            item += " ..."
        parts.append("[" + item + "]" if argument.get("isOptional") else item)
    if command.get("subcommands"):
        parts.append("<subcommand>")
    return " ".join(parts)


def argument_lines(argument):
    if argument["kind"] == "positional":
        label = "\\fI" + roff(argument["valueName"]) + "\\fR"
    else:
        names = sorted(argument.get("names", []), key=lambda n: n["kind"] != "short")
        flags = [("\\-\\-" if n["kind"].startswith("long") else "\\-") + roff(n["name"]) for n in names]
        label = ", ".join("\\fB" + f + "\\fR" for f in flags)
        if argument["kind"] == "option":
            label += " \\fI" + roff(argument["valueName"]) + "\\fR"
    text = argument.get("abstract", "")
    if argument.get("allValues"):
        text += " (one of: " + ", ".join(argument["allValues"]) + ")"
    if "defaultValue" in argument:
        text += " (default: " + argument["defaultValue"] + ")"
    out = [".TP", label]
    if text:
        out.append(roff(text.strip()))
    if argument.get("discussion"):
        out.append(roff(str(argument["discussion"]).strip()))
    return out


def command_section(command, path, out):
    shown = [a for a in command.get("arguments", []) if a.get("shouldDisplay", True) and a.get("valueName") != "help"]
    out.append(".SS " + roff(" ".join(path)))
    out.append(".B " + roff(usage(command, path)))
    out.append(".PP")
    if command.get("abstract"):
        out.append(roff(command["abstract"].strip()))
    if command.get("discussion"):
        out.append(".PP")
        out.append(roff(command["discussion"].strip()))
    if shown:
        out.append(".RS")
        for argument in shown:
            out += argument_lines(argument)
        out.append(".RE")
    for sub in command.get("subcommands", []):
        if sub.get("shouldDisplay", True) and sub["commandName"] != "help":
            command_section(sub, path + [sub["commandName"]], out)


def main():
    dump, version, date = sys.argv[1], sys.argv[2], sys.argv[3]
    root = json.load(open(dump))["command"]
    name = root["commandName"]
    out = [
        '.TH "%s" "1" "%s" "%s %s" "User Commands"' % (name.upper(), date, name, version),
        ".SH NAME",
        name + " \\- " + roff(root.get("abstract", "").rstrip(".")),
        ".SH SYNOPSIS",
        ".B " + name,
        "\\fIsubcommand\\fR [\\fIoptions\\fR]",
        ".SH DESCRIPTION",
        roff(root.get("discussion", root.get("abstract", "")).strip()),
        ".SH COMMANDS",
    ]
    for sub in root.get("subcommands", []):
        if sub.get("shouldDisplay", True) and sub["commandName"] != "help":
            command_section(sub, [name, sub["commandName"]], out)
    out += [
        ".SH FILES",
        ".TP", "\\fI/etc/fhir\\-edge/config.yaml\\fR",
        "The service's configuration; check it with \\fBfhir\\-edge config check\\fR.",
        ".TP", "\\fI/var/lib/fhir\\-edge/\\fR",
        "The store, its key (unless configured elsewhere) and the audit journal; mode 0700, owned by the fhir\\-edge user.",
        ".TP", "\\fI/usr/share/fhir\\-edge/device\\-profiles/\\fR",
        "The bundled device profiles.",
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fI/usr/share/doc/fhir\\-edge/\\fR",
    ]
    print("\n".join(out))


main()
