"""A minimal XLSX writer that streams: one worksheet of text and numbers, written row by row
into a ZIP that is itself written as it goes (no seek), so 100,000 rows never sit in memory.

Why not a library: the well-kept writers (XlsxWriter, openpyxl's write-only mode) need a
seekable file (XlsxWriter's constant_memory mode still assembles the ZIP at close); a response
body is not one. The format needed here is small: shared styles are not, strings are inline.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from xml.sax.saxutils import escape

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"

Cell = str | int | float | datetime | None


def _workbook(sheet_name: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(sheet_name[:31])}" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    )


def _cell(value: Cell) -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, bool):
        value = "oui" if value else "non"
    if isinstance(value, int | float):
        return f"<c><v>{value}</v></c>"
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    # An inline string is text for the spreadsheet, never a formula.
    text = escape(_ILLEGAL_XML.sub("", value))
    return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def row_xml(values: Iterable[Cell]) -> str:
    return "<row>" + "".join(_cell(v) for v in values) + "</row>"


class _Chunks:
    """A write-only, unseekable file whose writes are collected for the caller to send."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class XlsxStream:
    """Feed rows, take the bytes produced so far; `close` returns the last ones."""

    def __init__(self, sheet_name: str, *, flush_rows: int = 500) -> None:
        self._out = _Chunks()
        self._zip = zipfile.ZipFile(self._out, "w", compression=zipfile.ZIP_DEFLATED)
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", _workbook(sheet_name)),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ):
            self._zip.writestr(name, text)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._sheet.write(_SHEET_START.encode())
        self._buffer: list[str] = []
        self._flush_rows = flush_rows

    def add(self, values: Iterable[Cell]) -> bytes:
        self._buffer.append(row_xml(values))
        if len(self._buffer) >= self._flush_rows:
            self._sheet.write("".join(self._buffer).encode())
            self._buffer = []
        return self._out.take()

    def close(self) -> bytes:
        self._sheet.write(("".join(self._buffer) + _SHEET_END).encode())
        self._sheet.close()
        self._zip.close()
        return self._out.take()


def write_all(sheet_name: str, rows: Iterable[Iterable[Cell]]) -> Iterator[bytes]:
    stream = XlsxStream(sheet_name)
    for row in rows:
        if chunk := stream.add(row):
            yield chunk
    yield stream.close()
