"""Model files: the catalogue (:mod:`.catalogue`), verified downloads (:mod:`.download`) and the
models folder scan (:mod:`.files`). Importing this package is cheap (no torch, no network)."""
