"""Frames built once for many sockets are the frames the websockets library itself writes."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from api.direct_frames import text_frame


@pytest.mark.parametrize("size", [0, 1, 3, 125, 126, 127, 65535, 65536, 200_000])
def test_a_text_frame_equals_the_websockets_librarys_unmasked_frame(size: int):
    text = "ア" + "x" * (size - 3) if size >= 3 else "x" * size  # exactly `size` bytes of UTF-8
    assert len(text.encode()) == size
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert text_frame(text) == expected
