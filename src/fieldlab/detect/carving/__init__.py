"""How each carved format finds its own end in raw bytes; ``fieldlab.detect.carve`` drives them.

One module per format family, each with a ``walk(window, offset, limit)`` that
follows the format's structure (marker segments, chunks, blocks, IFDs, boxes)
from a header to the end the structure itself gives.  Walkers never search for
the next header to guess an end: a file followed by another is still cut at its
own last byte, and a file whose structure breaks is cut where it broke.
"""
