"""A streaming PDF writer for long documents of wrapped text (the report and the protocol).

Each page is compressed and written to the file as soon as it is full, so memory holds one page
whatever the number of rows. Text is written as UTF-16 code units (a CID is the character's code
point, mapped to the glyph by a CIDToGIDMap), so encoding a line is one C call; the font (Roboto, with
Cyrillic) is embedded once at the end, reduced to the glyphs used, with a ToUnicode map so the text
can be searched, copied and extracted. Lines are
measured with the font's advance widths and wrapped at spaces (a word longer than the line is cut).
Only what the report needs: left-aligned text in two faces on A4 pages.
"""
from __future__ import annotations

import io
import logging
import zlib
from functools import lru_cache

# imported with the module (when the service starts), not during the first request that renders
from fontTools import subset
from fontTools.ttLib import TTFont

MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
MARGIN, BOTTOM = 10 * MM, 15 * MM


class _Widths(dict):
    """character → advance width in 1/1000 of the font size."""

    def __missing__(self, key):
        return 500


class Face:
    """One TrueType face: glyph ids and widths per character, the metrics a PDF font needs."""

    def __init__(self, path: str):
        self.path = path
        font = TTFont(path)
        upm = font["head"].unitsPerEm
        scale = 1000 / upm
        hmtx = font["hmtx"]
        glyph_id = {name: i for i, name in enumerate(font.getGlyphOrder())}
        self.gid: dict[str, int] = {}
        self.width = _Widths()
        self.advance: dict[int, int] = {}
        for cp, name in font.getBestCmap().items():
            ch, g = chr(cp), glyph_id[name]
            self.gid[ch] = g
            self.width[ch] = hmtx[name][0] * scale
            self.advance[g] = round(hmtx[name][0] * scale)
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        self.bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.ascent, self.descent = round(hhea.ascent * scale), round(hhea.descent * scale)
        self.cap_height = round(getattr(os2, "sCapHeight", hhea.ascent) * scale)
        self.name = font["name"].getDebugName(6) or "Roboto"

    def subset(self, used: set[str]) -> bytes:
        """The font file with only the glyphs of ``used`` (glyph ids kept, so the text stays valid)."""
        logging.getLogger("fontTools").setLevel(logging.WARNING)  # a line per table otherwise
        options = subset.Options()
        options.retain_gids = True
        options.notdef_outline = True
        options.layout_features = []
        options.name_IDs = ["*"]
        font = TTFont(self.path)
        for table in ("GSUB", "GPOS", "GDEF", "kern"):  # no shaping here, and decoding them is slow
            if table in font:
                del font[table]
        sub = subset.Subsetter(options)
        sub.populate(unicodes={ord(c) for c in used if c in self.gid})
        sub.subset(font)
        out = io.BytesIO()
        font.save(out)
        return out.getvalue()


@lru_cache(maxsize=4)
def face(path: str) -> Face:
    return Face(path)


def _literal_utf16(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


class Writer:
    """``text()`` paragraphs one after the other; ``close()`` writes the fonts, the page tree and
    the cross-reference table."""

    def __init__(self, path: str, regular: str, bold: str, title: str = ""):
        self.f = open(path, "wb")
        self.faces = [face(regular), face(bold)]
        self.used: list[set[str]] = [set(), set()]
        self.title = title
        self.offsets: dict[int, int] = {}
        self.next_obj = 6  # 1 catalog, 2 page tree, 3 and 4 the fonts, 5 info
        self.pages: list[int] = []
        self.ops: list[str] = []
        self.y = MARGIN
        self.f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    # ---- objects --------------------------------------------------------------------------------
    def _obj(self, body: bytes, num: int | None = None) -> int:
        if num is None:
            num, self.next_obj = self.next_obj, self.next_obj + 1
        self.offsets[num] = self.f.tell()
        self.f.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
        return num

    def _stream(self, data: bytes, extra: str = "", num: int | None = None, compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data, 6)
            extra += " /Filter /FlateDecode"
        return self._obj(f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream", num)

    # ---- pages ----------------------------------------------------------------------------------
    def _end_page(self) -> None:
        if not self.ops:
            return
        content = self._stream("".join(self.ops).encode("ascii"))
        self.pages.append(self._obj(
            (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W:.2f} {PAGE_H:.2f}] "
             f"/Resources << /Font << /F0 3 0 R /F1 4 0 R >> >> /Contents {content} 0 R >>").encode()))
        self.ops = []
        self.y = MARGIN

    def _wrap(self, text: str, fi: int, size: float) -> list[str]:
        widths = self.faces[fi].width
        limit = (PAGE_W - 2 * MARGIN) * 1000 / size
        space = widths[" "]
        out: list[str] = []
        for para in text.replace("\r", "").split("\n"):
            if sum(map(widths.__getitem__, para)) <= limit:
                out.append(para)
                continue
            line: list[str] = []
            used = 0.0
            for word in para.split(" "):
                w = sum(map(widths.__getitem__, word))
                if line and used + space + w > limit:
                    out.append(" ".join(line))
                    line, used = [], 0.0
                while w > limit:  # a word wider than the line: cut it
                    cut, acc = 0, 0.0
                    for cut, ch in enumerate(word):
                        acc += widths[ch]
                        if acc > limit:
                            break
                    cut = max(cut, 1)
                    if line:
                        out.append(" ".join(line))
                        line, used = [], 0.0
                    out.append(word[:cut])
                    word = word[cut:]
                    w = sum(map(widths.__getitem__, word))
                used += (space if line else 0) + w
                line.append(word)
            out.append(" ".join(line))
        return out

    def text(self, text: str, size: float, bold: bool = False, before: float = 0) -> None:
        """A paragraph at ``size`` points, wrapped to the page width; ``before``: space above in mm."""
        fi = 1 if bold else 0
        lead = size * 0.5 * MM  # the line height the documents have always used: half the size in mm
        self.y += before * MM
        used = self.used[fi]
        for line in self._wrap(text or " ", fi, size):
            if self.y + lead > PAGE_H - BOTTOM:
                self._end_page()
            base = PAGE_H - self.y - lead * 0.78
            used.update(line)
            self.ops.append(f"BT /F{fi} {size:g} Tf {MARGIN:.2f} {base:.2f} Td <{line.encode('utf-16-be', 'replace').hex()}> Tj ET\n")
            self.y += lead

    # ---- the end --------------------------------------------------------------------------------
    def _font(self, fi: int, num: int) -> None:
        fc, used = self.faces[fi], self.used[fi]
        tag = "ECONS" + "AB"[fi]
        base = f"{tag}+{fc.name.replace(' ', '')}"
        data = fc.subset(used)
        file_obj = self._stream(data, f" /Length1 {len(data)}")
        descriptor = self._obj((
            f"<< /Type /FontDescriptor /FontName /{base} /Flags 32 /FontBBox [{' '.join(map(str, fc.bbox))}] "
            f"/ItalicAngle 0 /Ascent {fc.ascent} /Descent {fc.descent} /CapHeight {fc.cap_height} "
            f"/StemV {120 if fi else 80} /FontFile2 {file_obj} 0 R >>").encode())
        chars = sorted(c for c in used if c in fc.gid and ord(c) < 0xD800)
        widths = " ".join(f"{ord(c)} [{fc.advance[fc.gid[c]]}]" for c in chars)
        cid_to_gid = bytearray(2 * (ord(chars[-1]) + 1 if chars else 1))
        for c in chars:
            cid_to_gid[2 * ord(c):2 * ord(c) + 2] = fc.gid[c].to_bytes(2, "big")
        gid_map = self._stream(bytes(cid_to_gid))
        cid = self._obj((
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base} "
            f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {descriptor} 0 R /DW 500 /W [{widths}] /CIDToGIDMap {gid_map} 0 R >>").encode())
        pairs = [(ord(c), c) for c in chars]
        lines = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
                 "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
                 "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
                 "1 begincodespacerange <0000> <FFFF> endcodespacerange"]
        for i in range(0, len(pairs), 100):
            chunk = pairs[i:i + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines += [f"<{g:04X}> <{c.encode('utf-16-be').hex().upper()}>" for g, c in chunk]
            lines.append("endbfchar")
        lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
        to_unicode = self._stream("\n".join(lines).encode("ascii"))
        self._obj((f"<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /Identity-H "
                   f"/DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>").encode(), num)

    def close(self) -> None:
        self._end_page()
        if not self.pages:
            self.text(" ", 10)
            self._end_page()
        self._font(0, 3)
        self._font(1, 4)
        kids = " ".join(f"{p} 0 R" for p in self.pages)
        self._obj(f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode(), 2)
        self._obj(b"<< /Type /Catalog /Pages 2 0 R >>", 1)
        self._obj(f"<< /Title {_literal_utf16(self.title)} /Producer (econsult) >>".encode(), 5)
        xref = self.f.tell()
        size = self.next_obj
        rows = ["xref", f"0 {size}", "0000000000 65535 f "]
        rows += [f"{self.offsets[n]:010d} 00000 n " if n in self.offsets else "0000000000 65535 f "
                 for n in range(1, size)]
        self.f.write(("\n".join(rows) + f"\ntrailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R >>\n"
                      f"startxref\n{xref}\n%%EOF\n").encode())
        self.f.close()
