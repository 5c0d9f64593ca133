"""AVIF, GIF, HEIC and multi-page/float TIFF: files written by other libraries, probe == decode."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from imagestag_plugins.filters.decode import Decode

from imagestag_core import Image, PixelFormat
from imagestag_core.errors import CodecError, DecodeError

RNG = np.random.default_rng(5)


def _tiff_pages(*pages: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for page in pages:
            writer.write(page)
    return buffer.getvalue()


PAGES = [np.full((10 + i, 20 + i), 40 * i, np.uint8) for i in range(3)]


def test_a_multi_page_tiff_gives_its_first_page_by_default():
    image = Image(_tiff_pages(*PAGES))
    assert image.size == (20, 10)
    assert np.array_equal(image.get_pixels(), PAGES[0])


@pytest.mark.parametrize("page", [0, 1, 2])
def test_image_page_selects_a_tiff_page(page, tmp_path):
    path = tmp_path / "pages.tif"
    path.write_bytes(_tiff_pages(*PAGES))
    image = Image(path, page=page)
    assert image.size == (20 + page, 10 + page)
    assert np.array_equal(image.get_pixels(), PAGES[page])


def test_decode_page_selects_a_tiff_page_in_a_spec():
    from imagestag_core.pipeline import FilterPipeline

    pipeline = FilterPipeline.parse("decode page=2")
    out = pipeline(Image(_tiff_pages(*PAGES)))
    assert out.size == (22, 12)
    assert np.array_equal(out.get_pixels(), PAGES[2])
    assert Decode(page=1, reduce=2).apply(Image(_tiff_pages(*PAGES))).size == (11, 6)


def test_a_page_past_the_end_names_the_page_count():
    with pytest.raises(DecodeError, match="page=3 is past the end: the TIFF has 3 pages"):
        Image(_tiff_pages(*PAGES), page=3)


def test_page_zero_of_a_single_page_format_is_the_file_and_others_are_refused():
    data = Image(RNG.integers(0, 256, (8, 9, 3), dtype=np.uint8)).encode("png")
    assert Image(data, page=0).size == (9, 8)
    with pytest.raises(CodecError, match="png codec has no select_page"):
        Image(data, page=1)
    with pytest.raises(CodecError, match="page=-1"):
        Image(data, page=-1)


def test_a_float32_rgb_tiff_is_refused_by_the_header_probe():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, RNG.random((5, 6, 3)).astype(np.float32), photometric="rgb")
    with pytest.raises(DecodeError, match="float TIFF has no imagestag pixel format"):
        Image(buffer.getvalue())  # the constructor probes; nothing is decoded


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_gray_tiff_decodes_as_gray_float32(dtype):
    pixels = RNG.random((5, 6)).astype(dtype)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels)
    image = Image(buffer.getvalue())
    assert (image.pixel_format, image.dtype) == (PixelFormat.GRAY, np.float32)
    assert np.array_equal(image.get_pixels(), pixels.astype(np.float32))


def _blocked(module: str, code: str) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, timeout=60, check=False)


def test_without_tifffile_a_float64_tiff_names_the_extra(tmp_path):
    path = tmp_path / "f64.tif"
    tifffile.imwrite(path, RNG.random((5, 6)))
    done = _blocked("tifffile", f"from imagestag_core import Image; Image({str(path)!r})")
    assert "a 64-bit float TIFF needs the optional extra: pip install 'imagestag[tiff]'" in (
        done.stderr.strip().splitlines()[-1])


# -- probe == decode for files other libraries wrote -------------------------------------

SMALL = RNG.integers(0, 256, (41, 63, 3), dtype=np.uint8)


def _pil(fmt: str, mode: str, **options: object) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(SMALL).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def _cv2(ext: str, pixels: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(ext, pixels)
    assert ok
    return buffer.tobytes()


def _tifffile(pixels: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, **options)
    return buffer.getvalue()


def _heif(mode: str) -> bytes:
    import pillow_heif
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    pillow_heif.from_pillow(PILImage.fromarray(SMALL).convert(mode)).save(buffer)
    return buffer.getvalue()


FOREIGN = {
    **{f"pil-{f.lower()}-{m}": (lambda f=f, m=m: _pil(f, m))
       for f in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", "AVIF")
       for m in ("RGB", "L", "RGBA") if not (f in ("JPEG", "BMP") and m == "RGBA")},
    "pil-gif-transparent": lambda: _pil("GIF", "P", transparency=0),
    **{f"cv2-{ext[1:]}-{n}": (lambda ext=ext, p=p: _cv2(ext, p))
       for ext in (".png", ".jpg", ".webp", ".bmp", ".tiff", ".avif")
       for n, p in (("bgr", SMALL), ("gray", SMALL[:, :, 0].copy()),
                    ("bgra", np.dstack([SMALL, SMALL[:, :, 0]])))},
    "tifffile-rgb": lambda: _tifffile(SMALL, photometric="rgb"),
    "tifffile-gray16": lambda: _tifffile(SMALL[:, :, 0].astype(np.uint16) * 257),
    "tifffile-float32": lambda: _tifffile(SMALL[:, :, 0].astype(np.float32)),
    "tifffile-float64-deflate": lambda: _tifffile(SMALL[:, :, 0] / 3.0, compression="zlib"),
    "tifffile-pages": lambda: _tiff_pages(SMALL[:, :, 0].copy(), SMALL),
    "pillow-heif-rgb": lambda: _heif("RGB"),
    "pillow-heif-rgba": lambda: _heif("RGBA"),
}


@pytest.mark.parametrize("name", FOREIGN)
def test_probe_agrees_with_decode_for_files_other_libraries_wrote(name):
    image = Image(FOREIGN[name]())
    announced = (image.size, image.pixel_format, image.dtype)
    pixels = image.get_pixels()  # the core raises if decode disagrees; check it here too
    assert ((pixels.shape[1], pixels.shape[0]), image.pixel_format, pixels.dtype) == announced
    assert image.encoded_format in name.replace("jpg", "jpeg").replace("pillow-heif", "heif")


def test_gif_frames_are_a_sequence_and_the_image_is_the_first():
    from imagestag_plugins.codecs.gif import GifCodec
    from PIL import Image as PILImage

    frames = [PILImage.fromarray(np.full((9, 11, 3), 60 * i, np.uint8)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=40)
    data = buffer.getvalue()
    decoded = [pixels[0, 0, 0] for pixels, _ in GifCodec().frames(data)]
    assert decoded == [0, 60, 120, 180]
    assert Image(data).get_pixels()[0, 0, 0] == 0


def test_without_pillow_heif_a_heic_input_is_one_line_naming_the_extra(tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(_heif("RGB"))
    done = _blocked("pillow_heif", "from imagestag_plugins.app.main import main; "
                                   f"raise SystemExit(main(['run', 'grayscale', {str(path)!r},"
                                   f" '-o', {str(tmp_path / 'out')!r}]))")
    assert done.returncode != 0
    assert "HEIC needs the optional extra: pip install 'imagestag[heif]'" in done.stderr
    listing = _blocked("pillow_heif", "from imagestag_plugins.app.main import main; "
                                      "main(['plugins'])")
    heif_line = next(line for line in listing.stdout.splitlines() if ".heic" in line)
    assert "not installed: pip install 'imagestag[heif]'" in heif_line


def _animated_gif(path, count: int, *, local_palettes: bool = False):
    from PIL import Image as PILImage

    rng = np.random.default_rng(count)
    frames = [PILImage.fromarray(rng.integers(0, 256, (36, 52, 3), np.uint8)) for _ in range(count)]
    if local_palettes:
        frames = [f.quantize(colors=16 + i) for i, f in enumerate(frames)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return path


@pytest.mark.parametrize(("count", "local"), [(1, False), (5, False), (4, True)])
def test_gif_frame_count_is_read_from_the_blocks_and_agrees_with_pillow(tmp_path, count, local):
    from imagestag_plugins.codecs.gif import GifCodec
    from PIL import Image as PILImage

    path = _animated_gif(tmp_path / "a.gif", count, local_palettes=local)
    with PILImage.open(path) as pil:
        expected = pil.n_frames
    data = path.read_bytes()
    assert GifCodec().frame_count(data) == expected == len(list(GifCodec().frames(data)))


def test_run_reads_an_animated_gif_like_a_video_into_a_frames_folder(tmp_path):
    from imagestag_plugins.app.main import main
    from imagestag_plugins.codecs.gif import GifCodec

    gif = _animated_gif(tmp_path / "anim.gif", 5)
    assert main(["run", "grayscale", str(gif), "-o", str(tmp_path / "frames")]) == 0
    written = sorted((tmp_path / "frames").iterdir())
    assert len(written) == 5
    for (pixels, fmt), out in zip(GifCodec().frames(gif.read_bytes()), written, strict=True):
        expected = Image(pixels, fmt).get_pixels(PixelFormat.GRAY)
        assert np.array_equal(Image(out).get_pixels(PixelFormat.GRAY), expected), out.name


def test_run_treats_a_single_frame_gif_as_an_image(tmp_path):
    from imagestag_plugins.app.main import main

    gif = _animated_gif(tmp_path / "still.gif", 1)
    assert main(["run", "grayscale", str(gif), "-o", str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["still.png"]


@pytest.mark.parametrize(("shape", "photometric"), [((97, 61), "minisblack"),
                                                    ((61, 97, 3), "rgb")])
def test_a_tiled_tiff_opencv_refuses_is_read_through_tifffile(shape, photometric):
    # uncompressed 16x16 tiles: OpenCV's libtiff path reports a wrong tile byte count
    pixels = np.random.default_rng(0).integers(0, 256, shape, np.uint8)
    out = io.BytesIO()
    tifffile.imwrite(out, pixels, tile=(16, 16), photometric=photometric)
    image = Image(out.getvalue())
    got = image.get_pixels("rgb" if len(shape) == 3 else None)
    assert (image.width, image.height) == (shape[1], shape[0])
    assert np.array_equal(got, pixels)


@pytest.mark.parametrize("writer", ["pillow", "tifffile"])
def test_an_rgba_tiff_with_straight_alpha_keeps_its_colours(writer):
    # OpenCV's libtiff RGBA path premultiplies unassociated alpha into the colours
    from PIL import Image as PILImage

    pixels = np.random.default_rng(1).integers(0, 256, (61, 97, 4), np.uint8)
    out = io.BytesIO()
    if writer == "pillow":
        PILImage.fromarray(pixels, "RGBA").save(out, "TIFF")
    else:
        tifffile.imwrite(out, pixels, photometric="rgb", extrasamples=["unassalpha"])
    image = Image(out.getvalue())
    assert image.pixel_format is PixelFormat.BGRA
    assert np.array_equal(image.get_pixels("rgba"), pixels)
