"""Receiving uploaded files: a streaming multipart parser that writes each file straight to the
job's folder under a name the server chooses, with the count and size limits checked as bytes arrive.

The browser's file name is kept for display only (`Upload.name`): it never becomes part of a path.
Each file is stored as ``<index><ext>``, the extension taken from the file's first bytes (JPEG,
PNG, MP4, ...) or, failing that, from a known image/video extension of its name; a file recognised
by neither is stored as ``<index>.bin`` and still analysed, so `analyze` reports it as it would on
the command line (``unreadable_image``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from facebehavior.inference.inputs import IMAGE_EXTENSIONS
from facebehavior.inference.video import VIDEO_EXTENSIONS

FIELD = "files"  # the form field the page sends files in
MAX_NAME = 200   # characters of a browser file name kept for display
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


class UploadRejected(Exception):
    """The whole upload is refused; `status` is the HTTP status, the message says why and what to do."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    index: int
    name: str          # as the browser sent it, for display only
    path: Path         # where the server stored it: <folder>/<index><ext>
    size: int
    media: str | None  # "image", "video", or None when neither the bytes nor the name say

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "size": self.size, "media": self.media}


def sniff(head: bytes) -> tuple[str, str] | None:
    """(media, extension) from a file's first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", ".png"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image", ".bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", ".webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", ".tif"
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "image", ".jp2"
    if head[:2] in (b"P5", b"P6") and head[2:3].isspace():
        return "image", ".ppm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
            return "image", ".heic"  # an image format OpenCV cannot decode: analyze reports it
        return "video", ".mov" if brand == b"qt  " else ".mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", ".webm" if b"webm" in head[:64] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video", ".mpg"
    if head[:16] == _ASF:
        return "video", ".wmv"
    return None


def media_and_extension(head: bytes, name: str) -> tuple[str | None, str]:
    """What a file is and the extension it is stored with: by content, else by a known extension."""
    found = sniff(head)
    if found:
        return found
    suffix = Path(name).suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix or "."):
        if suffix in VIDEO_EXTENSIONS:
            return "video", suffix
        if suffix in IMAGE_EXTENSIONS:
            return "image", suffix
    return None, ".bin"


def display_name(raw: str) -> str:
    """The browser's name, reduced to its last component (for display), without control characters."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or "unnamed")[:MAX_NAME]


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


class UploadReceiver:
    """Parses one multipart request body into files under `folder`, enforcing the limits."""

    def __init__(self, folder: Path, max_files: int, max_bytes: int):
        self.folder, self.max_files, self.max_bytes = Path(folder), max_files, max_bytes
        self.uploads: list[Upload] = []
        self.error: UploadRejected | None = None
        self.files_seen = 0
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._file = None
        self._current: dict | None = None
        self._written: list[Path] = []

    # ---- python-multipart callbacks -------------------------------------------------------------------

    def on_part_begin(self):
        self._headers = {}
        self._current = None

    def on_header_field(self, data: bytes, start: int, end: int):
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int):
        self._value += data[start:end]

    def on_header_end(self):
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self):
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != FIELD.encode() or b"filename" not in options:
            return  # another form field: ignored (its bytes are discarded)
        raw = options[b"filename"].decode("utf-8", "replace")
        self._current = {"name": display_name(raw), "size": 0, "head": b"", "empty_name": raw == ""}
        self.files_seen += 1
        if self.error is not None:
            return
        if self.files_seen > self.max_files:
            self._fail(413, "")  # the message is made once the whole count is known
            return
        path = self.folder / f"{len(self.uploads)}.part"
        self._file = path.open("wb")
        self._written.append(path)

    def on_part_data(self, data: bytes, start: int, end: int):
        part = self._current
        if part is None:
            return
        n = end - start
        part["size"] += n
        if len(part["head"]) < 64:
            part["head"] += data[start:min(end, start + 64 - len(part["head"]))]
        if self._file is None:
            return
        if part["size"] > self.max_bytes:
            self._fail(413, f"{part['name']} is larger than the limit of {megabytes(self.max_bytes)} per file "
                            "(the server's --max-upload-mb)")
            return
        self._file.write(data[start:end])

    def on_part_end(self):
        part = self._current
        self._current = None
        if part is None:
            return
        if part["empty_name"] and part["size"] == 0:  # a file input with nothing chosen
            self.files_seen -= 1
            self._close_file(delete=True)
            return
        if self._file is None:
            return
        path = Path(self._file.name)
        self._close_file()
        media, ext = media_and_extension(part["head"], part["name"])
        index = len(self.uploads)
        final = self.folder / f"{index}{ext}"
        path.replace(final)
        self._written[-1] = final
        self.uploads.append(Upload(index, part["name"], final, part["size"], media))

    # ---- driving the parser -----------------------------------------------------------------------------

    def _fail(self, status: int, message: str):
        if self.error is None:
            self.error = UploadRejected(status, message)
        self._close_file(delete=True)

    def _close_file(self, delete: bool = False):
        if self._file is not None:
            self._file.close()
            if delete:
                Path(self._file.name).unlink(missing_ok=True)
            self._file = None

    def discard(self):
        """Delete every file written so far."""
        self._close_file(delete=True)
        for path in self._written:
            path.unlink(missing_ok=True)

    async def receive(self, headers, stream, drain_limit: int) -> list[Upload]:
        """Read the request body from `stream` (async bytes); returns the uploads or raises UploadRejected.

        After a limit is crossed the rest of the body is still read (and dropped) up to `drain_limit`
        bytes, so the browser gets the answer instead of a broken connection.
        """
        from python_multipart.multipart import MultipartParser, parse_options_header

        kind, params = parse_options_header(headers.get("content-type", ""))
        if kind != b"multipart/form-data" or b"boundary" not in params:
            raise UploadRejected(400, "send the files as multipart/form-data in the field 'files'")
        self.folder.mkdir(parents=True, exist_ok=True)
        callbacks = {name: getattr(self, name) for name in (
            "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished")}
        parser = MultipartParser(params[b"boundary"], callbacks)
        received = 0
        try:
            async for chunk in stream:
                received += len(chunk)
                if self.error is not None and received > drain_limit:
                    break
                parser.write(chunk)
            if self.error is None:
                parser.finalize()
        except UploadRejected:
            raise
        except Exception as exc:  # a malformed body or a client that went away
            self.discard()
            raise UploadRejected(400, f"the upload could not be read ({type(exc).__name__}: {exc}); try again")
        finally:
            self._close_file(delete=self.error is not None)
        if self.error is not None:
            self.discard()
            if not str(self.error):
                self.error = UploadRejected(413, f"too many files: {self.files_seen} at once; at most "
                                                 f"{self.max_files} per upload (the server's --max-files)")
            raise self.error
        if not self.uploads:
            raise UploadRejected(400, "no file in the upload: choose photos or a video first")
        if all(u.media is None for u in self.uploads):
            names = ", ".join(u.name for u in self.uploads[:5]) + (" ..." if len(self.uploads) > 5 else "")
            self.discard()
            raise UploadRejected(415, f"not an image or a video: {names}. Upload photos (JPEG, PNG, BMP, WebP, "
                                      "TIFF) or videos (MP4, MOV, AVI, MKV, WebM)")
        return self.uploads
