"""Phone and tablet extractions: Android and iOS file systems, backups and report packages as exhibits."""
