import hashlib
import io

import pytest
from PIL import Image

from services.gateway.frames import (
    CHECKS,
    MAX_FRAME_BYTES,
    DuplicateFilter,
    FrameRejected,
    check_session_id,
    frame_record,
    needs_reencode,
    pass_through,
    reencode,
)


def image_bytes(fmt: str, size=(1280, 800), noise: bool = False) -> bytes:
    if noise:
        import numpy as np

        img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype="uint8"))
    else:
        img = Image.new("RGB", size, (240, 240, 240))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_accepted_formats_become_jpeg(fmt, ctype):
    frame = reencode(image_bytes(fmt), ctype)
    assert frame.mime_type == "image/jpeg"
    assert (frame.width, frame.height) == (1280, 800)
    assert Image.open(io.BytesIO(frame.image)).format == "JPEG"
    assert len(frame.sha256) == 64


def test_noisy_large_frame_is_shrunk_to_budget():
    frame = reencode(image_bytes("PNG", size=(3000, 2000), noise=True), "image/png")
    assert len(frame.image) <= MAX_FRAME_BYTES
    assert frame.width < 3000


@pytest.mark.parametrize(
    "body,ctype,status,code",
    [
        (b"", "image/jpeg", 400, "empty_body"),
        (b"not an image at all", "image/jpeg", 400, "undecodable_image"),
        (image_bytes("PNG"), "image/jpeg", 415, "content_type_mismatch"),
        (image_bytes("PNG"), "image/gif", 415, "unsupported_media_type"),
        (image_bytes("PNG"), "", 415, "unsupported_media_type"),
        (image_bytes("PNG", size=(32, 32)), "image/png", 400, "image_too_small"),
        (image_bytes("PNG", size=(5000, 100)), "image/png", 413, "image_too_large"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(body, ctype, status, code):
    with pytest.raises(FrameRejected) as info:
        reencode(body, ctype)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message


def test_truncated_jpeg_is_rejected():
    data = image_bytes("JPEG")
    with pytest.raises(FrameRejected) as info:
        reencode(data[: len(data) // 3], "image/jpeg")
    assert info.value.code == "undecodable_image"


@pytest.mark.parametrize("sid", ["", "a" * 65, "has space", "semi;colon", "../etc"])
def test_bad_session_ids(sid):
    with pytest.raises(FrameRejected):
        check_session_id(sid)


def test_duplicate_filter_is_per_session_and_bounded():
    dup = DuplicateFilter(per_session=2, max_sessions=2)
    dup.remember("s1", "a")
    assert dup.seen("s1", "a") and not dup.seen("s2", "a")
    dup.remember("s1", "b")
    dup.remember("s1", "c")
    assert not dup.seen("s1", "a")  # only the last two are remembered
    dup.remember("s2", "x")
    dup.remember("s3", "y")  # evicts the least recently used session
    assert not dup.seen("s1", "c") and dup.seen("s3", "y")


# ---------------------------------------------------------------- JPEG pass-through (no decode, no re-encode)

def jpeg_with_exif(size=(1280, 800)) -> bytes:
    img = Image.new("RGB", size, (240, 240, 240))
    img.paste((200, 30, 30), (100, 100, 400, 300))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x010E] = "GPS 51.5N 0.1W"  # ImageDescription: stands in for any personal metadata
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80, exif=exif, comment=b"a private comment")
    return buf.getvalue()


def test_jpeg_passes_through_with_its_pixels_and_without_metadata():
    data = jpeg_with_exif()
    frame = pass_through(data, "image/jpeg")
    assert b"CameraMaker" in data and b"private comment" in data
    assert b"CameraMaker" not in frame.image and b"Exif" not in frame.image and b"private comment" not in frame.image
    assert (frame.width, frame.height, frame.mime_type) == (1280, 800, "image/jpeg")
    assert len(frame.image) < len(data)
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(frame.image))
    assert after.getexif() == {} and after.tobytes() == before.tobytes()  # the same pixels: not re-encoded
    assert frame.sha256 == hashlib.sha256(frame.image).hexdigest()


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("cut", [0.33, 0.9, 0.999])
def test_truncated_jpeg_is_refused_without_a_decode(check, cut):
    data = image_bytes("JPEG", noise=True)
    with pytest.raises(FrameRejected) as info:
        pass_through(data[: int(len(data) * cut)], "image/jpeg", check)
    assert (info.value.status, info.value.code) == (400, "undecodable_image")


def with_sof_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"\xff\xc0")
    return data[:at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[at + 9:]


@pytest.mark.parametrize(
    "body,status,code",
    [
        (image_bytes("PNG"), 415, "content_type_mismatch"),
        (image_bytes("WEBP"), 415, "content_type_mismatch"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", 400, "undecodable_image"),  # a header cut short
        (b"GIF89a" + b"\x00" * 100, 400, "undecodable_image"),
        (with_sof_size(image_bytes("JPEG"), 60_000, 60_000), 413, "image_too_large"),  # a bomb, from its header
        (with_sof_size(image_bytes("JPEG"), 5000, 100), 413, "image_too_large"),
        (image_bytes("JPEG", size=(32, 32)), 400, "image_too_small"),
    ],
)
def test_bad_jpegs_are_refused_from_their_structure(body, status, code):
    for check in CHECKS:
        with pytest.raises(FrameRejected) as info:
            pass_through(body, "image/jpeg", check)
        assert (info.value.status, info.value.code) == (status, code)


def test_decode_check_refuses_corrupt_coded_data_that_the_structure_check_lets_through():
    data = bytearray(image_bytes("JPEG", noise=True))
    sos = data.index(b"\xff\xda")
    for i in range(sos + 200, len(data) - 200, 7):  # garble the coded data, keep the markers around it
        data[i] = 0xFF
    assert pass_through(bytes(data), "image/jpeg", "structure").width == 1280
    with pytest.raises(FrameRejected) as info:
        pass_through(bytes(data), "image/jpeg", "decode")
    assert info.value.code == "undecodable_image"


def test_only_jpegs_within_the_budget_skip_the_reencode():
    assert not needs_reencode(image_bytes("JPEG"), "image/jpeg; charset=x")
    assert needs_reencode(image_bytes("PNG"), "image/png") and needs_reencode(image_bytes("WEBP"), "image/webp")
    assert needs_reencode(b"\xff\xd8" + b"\x00" * MAX_FRAME_BYTES, "image/jpeg")


def test_mangled_jpegs_are_refused_with_a_reason_never_an_unexpected_error():
    import random

    base = image_bytes("JPEG", size=(200, 120))
    rng = random.Random(1)
    outcomes = set()
    for _ in range(3000):  # flipped bytes, cut-out runs, truncations; anything else would be a 500
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            if len(data) < 2:
                break
            at = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[at] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[at:at + rng.randint(1, 50)]
            else:
                data = data[:max(1, at)]
        try:
            pass_through(bytes(data), "image/jpeg")
            outcomes.add("passed")
        except FrameRejected as rej:
            outcomes.add(rej.status)
    assert outcomes <= {"passed", 400, 413, 415} and 400 in outcomes


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 180_000, MAX_FRAME_BYTES])
def test_a_frame_record_is_the_frame_with_its_image_whatever_the_image_length(size: int) -> None:
    """The gateway appends the image to the serialized Frame instead of copying it into the message: every reader
    (the summarizer parses with the generated code) gets exactly the Frame with that image set, at lengths whose
    length prefix takes 1, 2, 3 bytes."""
    import os

    from interarec.v1 import frames_pb2, trace_pb2

    image = os.urandom(size)
    fields = dict(session_id="s1", tenant="acme", frame_seq=7, capture_unix_ms=1790000000000, page_url="http://x/p",
                  mime_type="image/jpeg", width=1280, height=800, sha256=hashlib.sha256(image).hexdigest(),
                  trace=trace_pb2.Trace(capture_unix_ms=1790000000000))
    parsed = frames_pb2.Frame()
    parsed.ParseFromString(frame_record(frames_pb2.Frame(**fields), image))
    assert parsed == frames_pb2.Frame(**fields, image=image)
