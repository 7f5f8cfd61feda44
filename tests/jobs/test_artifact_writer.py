"""ArtifactWriter: names are checked, files land in the attempt's directory and are recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.jobs.artifacts import ArtifactWriter


def test_bytes_are_saved_and_recorded_with_their_media_type(tmp_path: Path) -> None:
    writer = ArtifactWriter(tmp_path, "job1", 2)
    record = writer.save_bytes("plot.png", b"\x89PNG-bytes", "image/png")
    assert (tmp_path / "job1" / "attempt-2" / "plot.png").read_bytes() == b"\x89PNG-bytes"
    assert (record.name, record.media_type, record.size_bytes, record.path) == (
        "plot.png", "image/png", 10, "job1/attempt-2/plot.png")
    assert writer.files == [record]
    assert not list((tmp_path / "job1" / "attempt-2").glob("*.tmp"))


@pytest.mark.parametrize("name", ["../escape.png", ".hidden", "plot.png"])
def test_bad_or_repeated_names_are_refused(tmp_path: Path, name: str) -> None:
    writer = ArtifactWriter(tmp_path, "job1", 1)
    writer.save_bytes("plot.png", b"x", "image/png")
    with pytest.raises(ValueError, match="invalid or repeated artifact name"):
        writer.save_bytes(name, b"y", "image/png")
    assert len(writer.files) == 1
