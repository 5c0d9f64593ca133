"""The pyav video back-end: H.264 yuv420p out, every frame at its own timestamp, audio copied.

Clips are made here with PyAV and every output is checked with PyAV (what
ffprobe would report): codec, pixel format, frame count, frame timestamps,
duration, rotation and the audio packets byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from imagestag_plugins.app.main import main
from imagestag_plugins.app.video import choose_backends

from imagestag_core.plugins import list_video_backends

SIZE = (322, 242)


def make_clip(path: Path, *, frames: int = 20, size: tuple[int, int] = SIZE, rate: int = 25,
              pts: list[int] | None = None, time_base: Fraction | None = None,
              audio: str | None = "aac", rotation: int = 0) -> Path:
    """A clip with H.264 video (``pts`` in ``time_base`` for VFR) and ``audio`` (or none)."""
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=rate)
    video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
    if time_base is not None:
        video.codec_context.time_base = time_base
        video.time_base = time_base
    if rotation:
        video.set_display_rotation(rotation)
    sound = None
    if audio is not None:
        sound = out.add_stream(audio, rate=48000)
        sound.layout = "stereo"
    stamps = pts if pts is not None else list(range(frames))
    rng = np.random.default_rng(0)
    for i, stamp in enumerate(stamps):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        pixels[:, : (i * 7) % size[0]] = 255
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = stamp
        if time_base is not None:
            frame.time_base = time_base
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    if sound is not None:
        seconds = len(stamps) / rate
        samples = int(48000 * seconds)
        tone = np.sin(2 * np.pi * 440 * np.arange(samples) / 48000).astype(np.float32)
        fmt = next(f.name for f in sound.codec_context.codec.audio_formats
                   if f.name in ("fltp", "flt"))
        step = sound.codec_context.frame_size or 960
        for start in range(0, samples - step + 1, step):
            chunk = np.stack([tone[start:start + step]] * 2)
            if not fmt.endswith("p"):
                chunk = chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt,
                                               layout="stereo")
            frame.sample_rate, frame.pts = 48000, start
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    out.close()
    return path


def probe(path: Path) -> dict[str, object]:
    """What ffprobe would say, through PyAV: codec, format, frame times, audio packets."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info: dict[str, object] = {
            "codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "duration": container.duration}
        frames = list(container.decode(stream))
        info["times"] = [f.pts * f.time_base for f in frames]
        info["rotation"] = frames[0].rotation if frames else 0
    with av.open(str(path)) as container:
        info["audio"] = [(s.codec_context.name, s.codec_context.sample_rate)
                         for s in container.streams.audio]
        info["audio_packets"] = [(p.pts * p.time_base, bytes(p))
                                 for p in container.demux(*container.streams.audio)
                                 if p.size]
    return info


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("audio", ["aac", "libopus"])
def test_mp4_in_gives_h264_yuv420p_with_the_same_frames_times_and_audio_packets(
        capsys, tmp_path, audio):
    if audio not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {audio} encoder")
    clip = make_clip(tmp_path / "clip.mp4", audio=audio)
    out = tmp_path / "out.mp4"
    code, stdout, err = run(capsys, "run", "resize 160x120 | falsecolor inferno | encode jpeg",
                            str(clip), "-o", str(out))
    assert code == 0, err
    source, result = probe(clip), probe(out)
    assert (result["codec"], result["pix_fmt"], result["size"]) == ("h264", "yuv420p",
                                                                      (160, 120))
    assert len(result["times"]) == len(source["times"]) == 20  # type: ignore[arg-type]
    assert result["times"] == source["times"]
    assert result["duration"] == pytest.approx(source["duration"], rel=0.05)
    assert result["audio"] == source["audio"] and result["audio"]
    assert result["audio_packets"] == source["audio_packets"]
    assert "frames in 20, out 20, dropped 0" in stdout


@pytest.mark.timeout(120)
def test_variable_frame_rate_timestamps_come_through_unchanged(capsys, tmp_path):
    stamps = [0, 40, 50, 130, 140, 300, 310, 320, 500, 700]  # milliseconds, irregular
    clip = make_clip(tmp_path / "vfr.mp4", pts=stamps, time_base=Fraction(1, 1000),
                     audio=None)
    source = probe(clip)
    assert [float(t) for t in source["times"]] == [s / 1000 for s in stamps]  # type: ignore
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "run", "grayscale", str(clip), "-o", str(out))
    assert code == 0, err
    result = probe(out)
    assert result["times"] == source["times"]
    assert (result["codec"], result["pix_fmt"]) == ("h264", "yuv420p")


@pytest.mark.timeout(120)
def test_rotation_metadata_is_kept(capsys, tmp_path):
    clip = make_clip(tmp_path / "rot.mp4", audio=None, rotation=90, frames=5)
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "run", "resize 160x120", str(clip), "-o", str(out))
    assert code == 0, err
    assert probe(clip)["rotation"] == probe(out)["rotation"] == 90


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("codec", "suffix", "name"), [("libvpx-vp9", ".webm", "vp9"),
                                                       ("libx264", ".mkv", "h264")])
def test_video_codec_and_crf_pick_the_encoder(capsys, tmp_path, codec, suffix, name):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec}")
    audio = "libopus" if "libopus" in av.codecs_available else None
    clip = make_clip(tmp_path / "clip.mkv", frames=6, audio=audio)
    out = tmp_path / f"out{suffix}"
    code, _, err = run(capsys, "run", "resize 64x48", str(clip), "-o", str(out),
                       "--video-codec", codec, "--crf", "30")
    assert code == 0, err
    result, source = probe(out), probe(clip)
    assert result["codec"] == name and len(result["times"]) == 6  # type: ignore[arg-type]
    assert result["audio_packets"] == source["audio_packets"]


@pytest.mark.timeout(120)
def test_bitrate_sets_the_encoder_rate(capsys, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=10, audio=None)
    sizes = []
    for rate in ("50k", "2M"):
        out = tmp_path / f"out{rate}.mp4"
        code, _, err = run(capsys, "run", "grayscale", str(clip), "-o", str(out),
                           "--bitrate", rate)
        assert code == 0, err
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1]


def test_unknown_encoder_backend_and_odd_output_size_are_one_line_errors(capsys, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, audio=None)
    cases = [(["--video-codec", "no-such-encoder"], "no video encoder 'no-such-encoder'"),
             (["--video-backend", "pyavv"], "did you mean 'pyav'"),
             (["--crf", "20", "--video-backend", "opencv"], "no --crf or --bitrate")]
    for extra, message in cases:
        code, _, err = run(capsys, "run", "grayscale", str(clip), "-o",
                           str(tmp_path / "o.mp4"), *extra)
        assert code == 1 and message in err and len(err.splitlines()) == 1, err
    code, _, err = run(capsys, "run", "resize 161x121", str(clip), "-o", str(tmp_path / "o.mp4"))
    assert code == 1 and "even width and height" in err and len(err.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary left behind


def test_aac_audio_into_webm_is_refused_rather_than_dropped(capsys, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    code, _, err = run(capsys, "run", "grayscale", str(clip), "-o", str(tmp_path / "o.webm"))
    assert code == 1 and "cannot hold the source's 'aac' audio" in err, err


def test_backends_are_found_through_the_registry_pyav_first_cameras_to_opencv() -> None:
    names = [e.name for e in list_video_backends()]
    assert names == ["opencv", "pyav"]
    assert [b.name for b in choose_backends("clip.mp4")] == ["pyav", "pyav"]
    assert [b.name for b in choose_backends(0)] == ["opencv", "opencv"]
    assert [b.name for b in choose_backends(0, "pyav")] == ["opencv", "pyav"]
    assert [b.name for b in choose_backends("clip.mp4", "opencv")] == ["opencv", "opencv"]


@pytest.mark.timeout(180)
def test_console_script_writes_h264_with_the_audio(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    out = tmp_path / "out.mp4"
    script = Path(sysconfig.get_path("scripts")) / "imagestag"
    command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                       "imagestag_plugins.app.main"]
    proc = subprocess.run([*command, "run", "resize 1280x720 mode=fit | falsecolor inferno | "
                           "encode jpeg", str(clip), "-o", str(out)], capture_output=True,
                          text=True, timeout=150, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    source, result = probe(clip), probe(out)
    assert (result["codec"], result["pix_fmt"]) == ("h264", "yuv420p")
    assert result["times"] == source["times"]
    assert result["audio_packets"] == source["audio_packets"] and result["audio_packets"]
