"""An independent check of the resources the gateway writes: FHIR R4B models (PyPI fhir.resources)
plus the Vital Signs, PHD and referential rules a clinical reviewer looks for.

Usage: fhir_validate.py FILE.ndjson   (one resource per line; '-' reads standard input)
Prints one JSON summary line {"checked": N, "byType": {...}, "problems": [...]}; exits 1 on any problem.
"""
import json
import re
import sys

from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

MODELS = {"Observation": Observation, "Device": Device, "Patient": Patient}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITAL_SIGNS = ("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")
PHD = ("http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories", "phd")
EUI48 = "http://hl7.org/fhir/sid/eui-48/bluetooth"
ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
VALUE_KEYS = ("valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger",
              "valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod")


def codings(concept):
    return [(c.get("system"), c.get("code")) for c in (concept or {}).get("coding", [])]


def has_category(observation, pair):
    return any(pair in codings(category) for category in observation.get("category", []))


def check_quantity(quantity, where, problems):
    if quantity.get("system") != UCUM or not quantity.get("code"):
        problems.append(f"{where}: a Quantity needs a UCUM system and code")
    if "value" not in quantity:
        problems.append(f"{where}: a Quantity without a value")


STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}


def check_observation(o, where, problems, known):
    if o.get("status") not in STATUSES:
        problems.append(f"{where}: status {o.get('status')!r} is not an Observation status")
    if not codings(o.get("code")):
        problems.append(f"{where}: a code without a coding")
    values = [k for k in VALUE_KEYS if k in o]
    if len(values) > 1:
        problems.append(f"{where}: more than one value[x]: {values}")
    if not values and not o.get("component") and "dataAbsentReason" not in o:
        problems.append(f"{where}: neither a value, components nor a dataAbsentReason (vs-2)")
    if values and "dataAbsentReason" in o:
        problems.append(f"{where}: a value and a dataAbsentReason together (obs-6)")
    if not any(k in o for k in ("effectiveDateTime", "effectivePeriod", "effectiveInstant")):
        problems.append(f"{where}: no effective time")
    period = o.get("effectivePeriod")
    if period:
        for bound in ("start", "end"):
            if bound in period and not INSTANT.match(period[bound]):
                problems.append(f"{where}: effectivePeriod.{bound} is not a full instant: {period[bound]}")
        if period.get("start") and period.get("end") and period["end"] < period["start"]:
            problems.append(f"{where}: effectivePeriod ends before it starts")
    if "valueQuantity" in o:
        check_quantity(o["valueQuantity"], where + ".valueQuantity", problems)
    for index, component in enumerate(o.get("component", [])):
        cwhere = f"{where}.component[{index}]"
        cvalues = [k for k in VALUE_KEYS if k in component]
        if not cvalues and "dataAbsentReason" not in component:
            problems.append(f"{cwhere}: neither a value nor a dataAbsentReason")
        if "valueQuantity" in component:
            check_quantity(component["valueQuantity"], cwhere + ".valueQuantity", problems)
    if has_category(o, VITAL_SIGNS):
        if not any(system == LOINC for system, _ in codings(o.get("code"))):
            problems.append(f"{where}: a vital-signs Observation needs a LOINC code")
        subject = (o.get("subject") or {}).get("reference", "")
        if not subject.startswith("Patient/"):
            problems.append(f"{where}: a vital-signs Observation needs a Patient subject, has {subject or 'none'}")
    for field in ("subject", "device"):
        reference = (o.get(field) or {}).get("reference")
        if reference and not reference.startswith("Patient/lookup:") and not reference.startswith("Device/lookup:") \
                and reference not in known:
            problems.append(f"{where}: {field} {reference} is not among the exported resources")
    if has_category(o, PHD) and not (o.get("device") or {}).get("reference"):
        problems.append(f"{where}: a PHD Observation names its Device")


def check_device(d, where, problems):
    identifiers = d.get("identifier", [])
    if not identifiers:
        problems.append(f"{where}: a Device without an identifier")
    for identifier in identifiers:
        if identifier.get("system") == EUI48:
            if not re.match(r"^([0-9A-F]{2}-){5}[0-9A-F]{2}$", identifier.get("value", "")):
                problems.append(f"{where}: an EUI-48 identifier is upper-case hex with dashes, not {identifier.get('value')}")


def main():
    source = sys.stdin if len(sys.argv) < 2 or sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8")
    resources = [json.loads(line) for line in source if line.strip()]
    known = {f"{r.get('resourceType')}/{r.get('id')}" for r in resources}
    problems, by_type, seen_ids = [], {}, set()
    for index, resource in enumerate(resources):
        kind = resource.get("resourceType", "?")
        where = f"line {index + 1} ({kind}/{resource.get('id')})"
        by_type[kind] = by_type.get(kind, 0) + 1
        model = MODELS.get(kind)
        if model is None:
            problems.append(f"{where}: an unexpected resource type")
            continue
        try:
            model.model_validate(resource)
        except Exception as error:  # the model's own message says which element and why
            problems.append(f"{where}: not valid R4B: {str(error).splitlines()[0:3]}")
        if not ID.match(resource.get("id", "")):
            problems.append(f"{where}: id is not a FHIR id")
        key = f"{kind}/{resource.get('id')}"
        if key in seen_ids:
            problems.append(f"{where}: the id is exported twice")
        seen_ids.add(key)
        if kind == "Observation":
            check_observation(resource, where, problems, known)
        elif kind == "Device":
            check_device(resource, where, problems)
        elif kind == "Patient" and not resource.get("identifier"):
            problems.append(f"{where}: a Patient without an identifier")
    print(json.dumps({"checked": len(resources), "byType": by_type, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
