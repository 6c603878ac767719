"""Generated HEIC files whose thumbnail and EXIF thumbnail show other pictures than the picture itself.

That is what an editor that leaves the previews alone produces; libheif's
encoder only scales the picture for a thumbnail, so the file is assembled
through pillow-heif's encoder context: the picture as a grid (the way phones
store it), its thumbnail encoded from another picture's pixels.
"""

from __future__ import annotations

import io

from PIL import Image
from pillow_heif.constants import HeifCompressionFormat
from pillow_heif.misc import MODE_INFO, CtxEncode, _add_planes

from tests.detect.test_exif_thumbnail import with_exif_thumbnail

TILE = 256


def heic(main: Image.Image, thumbnail_of: Image.Image | None = None, thumbnail_side: int = 160,
         exif: bytes | None = None) -> bytes:
    """``main`` as a HEIC grid picture, with a thumbnail of ``thumbnail_of`` (longer side ``thumbnail_side``) and
    an Exif item holding ``exif`` (``Exif\\0\\0`` and a TIFF structure), when given."""
    encoder = CtxEncode(HeifCompressionFormat.HEVC, quality=85)
    context, size = encoder.ctx_write, main.size
    columns, rows = -(-size[0] // TILE), -(-size[1] // TILE)
    grid = context.create_grid(size[0], size[1], columns, rows, True, -1, -1, -1, -1, 1)
    encoder._add_grid_tiles(grid, size, "RGB", main.convert("RGB").tobytes(), tile_size=TILE)
    grid.set_primary(context)
    if exif is not None:
        grid.set_exif(context, exif)
    if thumbnail_of is not None:
        pixels = context.create_image(thumbnail_of.size, MODE_INFO["RGB"][2], MODE_INFO["RGB"][3], 0)
        _add_planes(pixels, thumbnail_of.size, "RGB", thumbnail_of.convert("RGB").tobytes(), 0, 8)
        grid.encode_thumbnail(context, thumbnail_side, 1, pixels)
    encoder._grid_images.append(grid)
    out = io.BytesIO()
    encoder.save(out)
    return out.getvalue()


def exif_block(thumbnail: bytes) -> bytes:
    """An EXIF block (``Exif\\0\\0`` and TIFF) whose IFD1 holds ``thumbnail``, as in a JPEG's APP1 segment."""
    app1 = with_exif_thumbnail(b"\xff\xd8\xff\xd9", thumbnail)
    length = int.from_bytes(app1[4:6], "big")
    return app1[6:4 + length]
