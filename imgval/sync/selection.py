"""Which source files a sync copies: image names by default, or --include / --exclude globs."""
from __future__ import annotations

import dataclasses
import fnmatch

from imgval.image_names import is_image_name


@dataclasses.dataclass
class Selection:
    """Which source files take part: image extensions by default, or --include globs."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        if self.include:
            selected = any(_glob(path, name, p) for p in self.include)
        else:
            selected = is_image_name(name)
        return selected and not any(_glob(path, name, p) for p in self.exclude)


def _glob(path: str, name: str, pattern: str) -> bool:
    # a pattern with a "/" is matched against the relative path, otherwise the file name
    return fnmatch.fnmatchcase(path if "/" in pattern else name, pattern)
