"""Tesseract as a library (libtesseract's C API through ctypes): the model is loaded once per thread.

The CLI pays ~0.15 s of CPU per call just to start and load the English model, as much as the whole
per-frame budget of the region reader; in-process the engine stays loaded and a call costs only the
recognition itself. Same package as the CLI (Debian's tesseract-ocr ships libtesseract.so.5), so nothing
new to install. Each thread gets its own engine (the API object is not thread-safe); ctypes releases the
GIL during the call, so OCR threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

import numpy as np

from .ocr import OcrError

# Tesseract's LSTM uses OpenMP; on a busy worker its threads spin and cost more CPU than they save (the
# summarizer runs OCR for several sessions in parallel anyway). libgomp reads this when it is loaded.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

PSM_SINGLE_BLOCK = 6
_LIB_NAMES = ("libtesseract.so.5", "libtesseract.so", ctypes.util.find_library("tesseract") or "")


class TessLibError(OcrError):
    """libtesseract is missing or its English model cannot be loaded."""


_lib = None
_lib_lock = threading.Lock()
_local = threading.local()


def _load():
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        for name in filter(None, _LIB_NAMES):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError as exc:
                errors.append(str(exc))
        else:
            raise TessLibError("libtesseract not found (apt-get install tesseract-ocr tesseract-ocr-eng): "
                               + "; ".join(errors))
        vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.TessBaseAPICreate.restype = vp
        lib.TessBaseAPIInit3.argtypes = [vp, cp, cp]
        lib.TessBaseAPIInit3.restype = i
        lib.TessBaseAPISetVariable.argtypes = [vp, cp, cp]
        lib.TessBaseAPISetPageSegMode.argtypes = [vp, i]
        lib.TessBaseAPISetImage.argtypes = [vp, cp, i, i, i, i]
        lib.TessBaseAPISetSourceResolution.argtypes = [vp, i]
        lib.TessBaseAPIRecognize.argtypes = [vp, vp]
        lib.TessBaseAPIRecognize.restype = i
        lib.TessBaseAPIGetTsvText.argtypes = [vp, i]
        lib.TessBaseAPIGetTsvText.restype = vp
        lib.TessDeleteText.argtypes = [vp]
        lib.TessBaseAPIClear.argtypes = [vp]
        _lib = lib
        return lib


def _engine() -> int:
    handle = getattr(_local, "handle", None)
    if handle is None:
        lib = _load()
        handle = lib.TessBaseAPICreate()
        if not handle or lib.TessBaseAPIInit3(handle, None, b"eng") != 0:
            raise TessLibError("libtesseract could not load its English model (tesseract-ocr-eng)")
        # We normalise polarity per text line ourselves, so the second pass on inverted text is wasted work.
        lib.TessBaseAPISetVariable(handle, b"tessedit_do_invert", b"0")
        lib.TessBaseAPISetVariable(handle, b"debug_file", b"/dev/null")
        _local.handle = handle
    return handle


def available() -> bool:
    try:
        _engine()
    except TessLibError:
        return False
    return True


def recognize_tsv(gray: np.ndarray, psm: int = PSM_SINGLE_BLOCK, ppi: int = 150) -> str:
    """TSV (tesseract's column layout) of an 8-bit grayscale image."""
    lib = _load()
    handle = _engine()
    img = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = img.shape
    lib.TessBaseAPISetPageSegMode(handle, psm)
    lib.TessBaseAPISetImage(handle, img.tobytes(), w, h, 1, w)
    lib.TessBaseAPISetSourceResolution(handle, ppi)
    if lib.TessBaseAPIRecognize(handle, None) != 0:
        lib.TessBaseAPIClear(handle)
        raise TessLibError(f"libtesseract failed to recognise a {w}x{h} image")
    ptr = lib.TessBaseAPIGetTsvText(handle, 0)
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace") if ptr else ""
    finally:
        if ptr:
            lib.TessDeleteText(ptr)
        lib.TessBaseAPIClear(handle)
