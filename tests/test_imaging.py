"""Image normalisation: every input kind becomes uint8 RGB (+ alpha), limits, hashes, decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inpaint_anything.errors import ImageTooLargeError, InvalidInputError
from inpaint_anything.imaging import check_size, content_hash, decode_image, to_rgb_uint8


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)


def _check(out, shape):
    image, alpha = out
    assert image.dtype == np.uint8 and image.shape == (*shape, 3) and image.flags.c_contiguous
    return image, alpha


def test_rgb_array_is_copied(rgb):
    image, alpha = _check(to_rgb_uint8(rgb), rgb.shape[:2])
    np.testing.assert_array_equal(image, rgb)
    assert alpha is None and not np.shares_memory(image, rgb)


def test_grayscale_arrays(rgb):
    gray = rgb[:, :, 0]
    for arr in (gray, gray[:, :, None]):
        image, alpha = _check(to_rgb_uint8(arr), gray.shape)
        assert alpha is None
        for c in range(3):
            np.testing.assert_array_equal(image[:, :, c], gray)


def test_alpha_is_split_off(rgb):
    alpha_in = np.arange(rgb.shape[0] * rgb.shape[1], dtype=np.uint8).reshape(rgb.shape[:2])
    image, alpha = _check(to_rgb_uint8(np.dstack([rgb, alpha_in])), rgb.shape[:2])
    np.testing.assert_array_equal(image, rgb)
    np.testing.assert_array_equal(alpha, alpha_in)
    la = np.dstack([rgb[:, :, 0], alpha_in])
    image, alpha = _check(to_rgb_uint8(la), rgb.shape[:2])
    np.testing.assert_array_equal(image[:, :, 2], rgb[:, :, 0])
    np.testing.assert_array_equal(alpha, alpha_in)


def test_16bit_is_scaled_not_clipped():
    arr = np.array([[0, 257, 32768, 65535]], np.uint16)
    image, _ = to_rgb_uint8(arr)
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]
    big_endian = arr.astype(">u2")
    np.testing.assert_array_equal(to_rgb_uint8(big_endian)[0], image)
    rgb16 = np.dstack([arr, arr // 2, arr]).astype(np.uint16)
    assert to_rgb_uint8(rgb16)[0][0, 3].tolist() == [255, 127, 255]
    # other integer types: by value range
    assert to_rgb_uint8(np.array([[0, 200]], np.int32))[0][0, :, 0].tolist() == [0, 200]
    assert to_rgb_uint8(np.array([[0, 65535]], np.int64))[0][0, :, 0].tolist() == [0, 255]


def test_float_and_bool():
    floats = np.array([[0.0, 0.5, 1.0]], np.float32)
    assert to_rgb_uint8(floats)[0][0, :, 1].tolist() == [0, 128, 255]
    assert to_rgb_uint8(np.array([[0.0, 128.0, 255.0]]))[0][0, :, 0].tolist() == [0, 128, 255]
    assert to_rgb_uint8(np.array([[True, False]]))[0][0, :, 0].tolist() == [255, 0]


def test_pil_modes(rgb, tmp_path):
    pil = Image.fromarray(rgb)
    np.testing.assert_array_equal(to_rgb_uint8(pil)[0], rgb)
    image, alpha = to_rgb_uint8(pil.convert("RGBA"))
    assert (alpha == 255).all()
    gray = pil.convert("L")
    np.testing.assert_array_equal(to_rgb_uint8(gray)[0][:, :, 1], np.asarray(gray))
    assert to_rgb_uint8(pil.convert("LA"))[1] is not None
    assert set(np.unique(to_rgb_uint8(pil.convert("1"))[0])) <= {0, 255}
    assert to_rgb_uint8(pil.convert("CMYK"))[0].shape == rgb.shape
    # palette image with a transparent index
    pal = pil.convert("P", palette=Image.ADAPTIVE, colors=8)
    pal.info["transparency"] = 0
    image, alpha = to_rgb_uint8(pal)
    assert alpha is not None and (alpha[np.asarray(pal) == 0] == 0).all()
    assert to_rgb_uint8(pil.convert("P", palette=Image.ADAPTIVE, colors=8))[1] is None
    # 16-bit grayscale PNG (Pillow opens it as mode "I" or "I;16")
    path = tmp_path / "g16.png"
    Image.fromarray(np.array([[0, 1000, 65535]], np.uint16)).save(path)
    with Image.open(path) as im:
        assert to_rgb_uint8(im)[0][0, :, 0].tolist() == [0, 4, 255]
    float_image = Image.fromarray(np.array([[0.0, 1.0]], np.float32), mode="F")
    assert to_rgb_uint8(float_image)[0][0, :, 0].tolist() == [0, 255]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros(10, np.uint8), "dimension"),
        (np.zeros((2, 2, 2, 2), np.uint8), "dimension"),
        (np.zeros((4, 4, 5), np.uint8), "5 channels"),
        (np.array([[-1, 3]]), "negative"),
        (np.array([[0, 70000]]), "up to 70000"),
        (np.array([[np.nan]]), "NaN"),
        (np.array([["a"]]), "not supported"),
        ("picture.png", "got str"),
        ({"image": 1}, "got dict"),
        (None, "got NoneType"),
    ],
)
def test_invalid_inputs(value, message):
    with pytest.raises(InvalidInputError, match=message):
        to_rgb_uint8(value)


def test_check_size():
    check_size(100, 100, 10_000)
    check_size(100, 100, None)
    with pytest.raises(ImageTooLargeError, match=r"6000x4000 pixels \(24.0 MP\).*16,000,000") as info:
        check_size(4000, 6000, 16_000_000)
    assert info.value.status_code == 413
    with pytest.raises(InvalidInputError, match="empty"):
        check_size(0, 10, 100)


def test_content_hash(rgb):
    key = content_hash(rgb)
    assert key == content_hash(rgb.copy()) and len(key) == 32
    changed = rgb.copy()
    changed[0, 0, 0] ^= 1
    assert content_hash(changed) != key
    assert content_hash(rgb.reshape(17, 12, 3)) != key  # same bytes, other shape
    assert content_hash(np.asfortranarray(rgb)) == key


def _encode(arr, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_decode_image(rgb):
    image, alpha = decode_image(_encode(rgb))
    np.testing.assert_array_equal(image, rgb)
    assert alpha is None
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])
    assert (decode_image(bytearray(_encode(rgba)))[1] == 9).all()
    jpeg, _ = decode_image(_encode(rgb, "JPEG", quality=95))
    assert jpeg.shape == rgb.shape


def test_decode_applies_exif_orientation():
    arr = np.zeros((10, 20, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", exif=exif.tobytes())
    assert decode_image(buf.getvalue())[0].shape == (20, 10, 3)


def test_decode_errors(rgb):
    data = _encode(rgb)
    with pytest.raises(InvalidInputError, match="not an image format"):
        decode_image(b"hello, this is not an image")
    with pytest.raises(InvalidInputError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match="empty"):
        decode_image(b"")
    with pytest.raises(InvalidInputError, match="bytes"):
        decode_image("file.png")
    with pytest.raises(ImageTooLargeError):
        decode_image(data, max_pixels=100)
