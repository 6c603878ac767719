"""Container formats, one family a module; ``registry`` names them all and says how each is opened."""
