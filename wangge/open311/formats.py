"""Open311 GeoReport v2 output: XML (required by the spec) and JSON (the Spark convention mapping).

XML is built with xml.etree (escaping done by the library), UTF-8 with the XML declaration; lists become
a wrapper element holding one element per item (services/service, service_requests/request, ...).
Booleans are written true/false, None as an empty element (JSON: null), datetimes are already strings.

Text must reach an XML client as it reaches a JSON one. An XML parser turns a raw carriage return into a
line feed (end-of-line handling, XML 1.0 §2.11), so CR is written as the reference &#13;. Tabs and line
feeds in element content are kept by parsers as they are. Control characters that XML 1.0 cannot carry
at all, not even as a reference, would make the whole document unreadable; they become U+FFFD.
"""

import json
import re
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - used only to build documents, never to parse input

from django.http import HttpResponse

FORMATS = ("xml", "json")
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

# Wrapper element -> item element (the spec's names, and mySociety's for request updates).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


# Characters XML 1.0 does not allow anywhere (§2.2): C0 controls but TAB, LF, CR; lone surrogates; U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(parent: ET.Element, value: Any, tag: str) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            el = ET.SubElement(parent, key)
            _fill(el, child, key)
    elif isinstance(value, list | tuple):
        item_tag = ITEM_TAGS.get(tag, "item")
        for child in value:
            el = ET.SubElement(parent, item_tag)
            _fill(el, child, item_tag)
    else:
        parent.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """`data` (a list for list documents, a dict for one object) as a UTF-8 XML document under `root`."""
    element = ET.Element(root)
    _fill(element, data, root)
    # ElementTree writes CR raw, and a parser would read it back as LF: written as a reference instead.
    # No CR can appear in the output but inside text (no attributes, no pretty-printing).
    body = ET.tostring(element, encoding="unicode").replace("\r", "&#13;")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(fmt: str, root: str, data: Any, status: int = 200) -> HttpResponse:
    """One Open311 document in the requested format (`fmt` must be one of FORMATS)."""
    body = to_json(data) if fmt == "json" else to_xml(root, data)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt if fmt in FORMATS else "xml"])


def render_errors(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    """The spec's error document: a list of {code, description}; code = the HTTP status."""
    fmt = fmt if fmt in FORMATS else "xml"  # an unknown extension is answered in the required format
    return render(fmt, "errors", [{"code": status, "description": d} for d in descriptions], status=status)
