"""Shrink-on-load: the first filter's decode hint, the codec's reductions, the same result."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from imagestag_plugins.app.samples import photo_like_array

from imagestag_core import Filter, FilterPipeline, Image, ImagestagError
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import ImageError


def _jpeg(width: int, height: int, seed: int = 0) -> bytes:
    bgr = cv2.cvtColor(photo_like_array(width, height, seed), cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return _jpeg(1603, 1201)  # odd sizes: the reduced decode rounds up


def _psnr(a: Image, b: Image) -> float:
    return float(cv2.PSNR(np.ascontiguousarray(a.get_pixels("rgb")),
                          np.ascontiguousarray(b.get_pixels("rgb"))))


@pytest.mark.parametrize(("spec", "factor"), [
    ("resize 380x280", 4),
    ("resize 380x280 mode=fit", 4),
    ("resize 380x280 mode=fill", 4),
    ("resize 380x280 mode=pad", 4),
    ("resize 380x", 4),
    ("resize x280", 4),
    ("resize 0.2", 4),
    ("resize 0.1", 8),
    ("resize 0.45", 2),
    ("resize 190x140 mode=fit interpolation=area", 8),
])
def test_every_resize_mode_decodes_reduced_with_the_full_decodes_size(jpeg, spec, factor):
    pipeline = FilterPipeline.parse(spec)
    prepared = pipeline.prepare_source(Image(jpeg))
    assert prepared.decode_reduction == factor
    assert prepared.source_size == (1603, 1201)
    assert prepared.size == (-(-1603 // factor), -(-1201 // factor))
    reduced = pipeline.apply(Image(jpeg))
    full_source = Image(jpeg)
    full_source.get_pixels()  # decoded: prepare_source leaves it at full size
    full = pipeline.apply(full_source)
    assert reduced.size == full.size
    assert _psnr(reduced, full) > 30


@pytest.mark.parametrize("spec", ["resize 900x700", "resize 1603x1201 mode=fit",
                                  "resize 2000x", "resize 0.6", "resize 3.0"])
def test_no_reduction_when_the_reduced_decode_would_be_smaller_than_the_target(jpeg, spec):
    pipeline = FilterPipeline.parse(spec)
    image = Image(jpeg)
    assert pipeline.prepare_source(image) is image


def test_a_reduced_image_reaching_the_target_exactly_is_not_returned_as_the_result():
    data = _jpeg(800, 600)
    result = FilterPipeline.parse("resize 200x150 | resize 0.5").apply(Image(data))
    assert result.size == (100, 75)


def test_prepare_source_leaves_pixels_decoded_images_and_codecs_without_reductions_alone():
    pipeline = FilterPipeline.parse("resize 0.1")
    pixels = Image(photo_like_array(400, 300))
    assert pipeline.prepare_source(pixels) is pixels
    png = Image(cv2.imencode(".png", photo_like_array(400, 300))[1].tobytes())
    assert png.encoded_format == "png"
    assert pipeline.prepare_source(png) is png
    decoded = Image(_jpeg(400, 300))
    decoded.get_pixels()
    assert pipeline.prepare_source(decoded) is decoded
    assert FilterPipeline([]).prepare_source(png) is png


def test_prepare_source_is_idempotent(jpeg):
    pipeline = FilterPipeline.parse("resize 0.2")
    once = pipeline.prepare_source(Image(jpeg))
    assert pipeline.prepare_source(once) is once


def test_a_filter_that_gives_no_hint_keeps_the_full_decode(jpeg):
    pipeline = FilterPipeline.parse("grayscale | resize 0.1")
    image = Image(jpeg)
    assert pipeline.prepare_source(image) is image


class _Hinting(Filter):
    name = "hinting"
    answer: int = 4

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int:
        return self.answer

    def apply(self, image: Image) -> Image:
        return image.derive(np.ascontiguousarray(image.get_pixels()))


def test_any_filter_may_ask_for_a_reduction_and_sees_the_codecs_factors(jpeg):
    seen: list[tuple[ImageInfo, tuple[int, ...]]] = []

    class Recording(_Hinting):
        name = "recording"

        def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int:
            seen.append((info, reductions))
            return 2

    out = FilterPipeline([Recording()]).apply(Image(jpeg))
    assert out.size == (802, 601)
    assert seen[0][1] == (2, 4, 8)
    assert (seen[0][0].width, seen[0][0].height) == (1603, 1201)


def test_a_hint_the_codec_cannot_do_names_the_filter(jpeg):
    with pytest.raises(ImagestagError, match=r"_Hinting.decode_hint\(\) returned 3"):
        FilterPipeline([_Hinting(answer=3)]).prepare_source(Image(jpeg))


def test_a_bad_hint_passed_on_by_decode_names_the_filter_that_gave_it(jpeg):
    pipeline = FilterPipeline(["decode", _Hinting(answer=3)])
    with pytest.raises(ImagestagError, match=r"^_Hinting.decode_hint\(\) returned 3"):
        pipeline.prepare_source(Image(jpeg))


def test_a_reduced_image_pickles_as_the_reduced_lazy_image(jpeg):
    prepared = FilterPipeline.parse("resize 0.2").prepare_source(Image(jpeg))
    clone = pickle.loads(pickle.dumps(prepared))
    assert not clone.is_decoded
    assert (clone.size, clone.source_size, clone.decode_reduction) == (
        prepared.size, prepared.source_size, 4)
    assert clone.get_pixels().shape[:2] == (301, 401)


def test_a_reduced_image_exposes_no_full_size_bytes(jpeg):
    prepared = Image(jpeg).with_decode_reduction(2)
    assert prepared.encoded is None and prepared.codec is None
    assert prepared.encoded_format is None
    encoded = prepared.encode("jpeg")
    assert Image(encoded).size == (802, 601)


def test_with_decode_reduction_refuses_what_the_codec_cannot_do(jpeg):
    with pytest.raises(ImageError, match="cannot decode at 1/3"):
        Image(jpeg).with_decode_reduction(3)
    with pytest.raises(ImageError, match="not decoded"):
        Image(photo_like_array(64, 48)).with_decode_reduction(2)
    image = Image(jpeg)
    assert image.with_decode_reduction(1) is image


def test_a_third_party_codec_without_the_attribute_offers_no_reduction():
    from imagestag_plugins.codecs.opencv_codecs import BmpCodec

    inner = BmpCodec()

    class LegacyCodec:
        """A codec written before decode_reductions existed."""

        name, extensions, mime_type = "legacy", (".bmp",), "image/bmp"
        sniff, probe, encode = inner.sniff, inner.probe, inner.encode

        def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, object]:
            assert reduce == 1, "never asked for a reduction it did not offer"
            return inner.decode(data)

    legacy = LegacyCodec()
    assert not hasattr(legacy, "decode_reductions")
    data = cv2.imencode(".bmp", photo_like_array(200, 100))[1].tobytes()
    image = Image.from_encoded(data, legacy)
    assert FilterPipeline.parse("resize 0.1").prepare_source(image) is image
    assert FilterPipeline.parse("resize 0.1").apply(image).size == (20, 10)
