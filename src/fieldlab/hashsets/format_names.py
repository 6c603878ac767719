"""The names of the hash-set formats, apart from their parsers: the command line's help lists them without
importing every parser (``fieldlab --help`` must start in a blink)."""

FORMATS = ("vics", "csv", "md5sum", "sha1sum", "nsrl-rds", "nsrl-txt", "encase", "hashkeeper", "tsk-kdb", "pdq")
