"""Block-hash sets: the MD5 of every distinctive 4 KiB block of known files, for sampling disks (``fieldlab prescan``).

A file on a file system with 4 KiB clusters starts on a cluster boundary, so each aligned 4 KiB block of the file
lies whole in one 4 KiB window of the disk, wherever the file lies and however it is fragmented.  Reading a random
window and finding its MD5 among a known file's block hashes shows that the file (or that part of it) is on the
disk, with no file system needed: deleted, carved-over and unallocated copies count too.  This is the idea of
Garfinkel's sector hashing (hashdb, bulk_extractor's hashdb scanner, ``md5deep -p 4096``); how the windows are
chosen and what a sample says is in ``docs/prescan.md``.

Why MD5: measured on this project's machine (AMD EPYC, Python 3.11, hashlib), one 4 KiB block costs 5.8 us with
MD5, 2.5 us with SHA-1 (SHA-NI) and 4.6 us with BLAKE2b-128.  A random 4 KiB read costs about 100 us on a SATA SSD
and 10 ms on a spinning disk, so the hash does not limit a pre-scan; MD5 is what NIST's block hashes, hashdb and
``md5deep -p`` use, so sets can be compared with theirs.

One module a job: ``build`` chooses and hashes the blocks of a reference folder, ``store`` keeps a set in the library
and opens it memory-mapped, ``exchange`` writes a set out as text and reads it back.
"""
