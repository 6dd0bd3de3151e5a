import io

import pytest
from PIL import Image

from services.gateway.frames import MAX_FRAME_BYTES, DuplicateFilter, FrameRejected, check_session_id, reencode


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
