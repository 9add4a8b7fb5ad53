"""Which source files a sync copies: image names by default (every file with --all-files), or
--include / --exclude globs, as rclone's filters read them."""
from __future__ import annotations

import dataclasses
import fnmatch

from imgval.image_names import is_image_name


@dataclasses.dataclass
class Selection:
    """Which source files take part: image extensions by default (every file with
    ``all_files``), or the --include globs; minus the --exclude ones.

    A glob with "/" matches the relative path, otherwise the file name; one ending in "/"
    names a folder, which takes everything under it (anchored at the root when it starts
    with "/", else at any depth), as in rclone's filters."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_case: bool = False
    all_files: bool = False

    def __call__(self, path: str) -> bool:
        if self.include:
            selected = any(self._glob(path, p) for p in self.include)
        elif self.all_files:
            selected = True
        else:
            selected = is_image_name(path.rsplit("/", 1)[-1])
        return selected and not any(self._glob(path, p) for p in self.exclude)

    def _glob(self, path: str, pattern: str) -> bool:
        if self.ignore_case:
            path, pattern = path.casefold(), pattern.casefold()
        if pattern.endswith("/"):
            folder = pattern.strip("/")
            dirs = path.split("/")[:-1]
            depth = folder.count("/") + 1
            starts = [0] if pattern.startswith("/") else range(len(dirs) - depth + 1)
            return any(fnmatch.fnmatchcase("/".join(dirs[i:i + depth]), folder) for i in starts)
        return fnmatch.fnmatchcase(path if "/" in pattern else path.rsplit("/", 1)[-1], pattern.lstrip("/"))
