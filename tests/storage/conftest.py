import pytest

from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)
from tests.emulators.fixtures import unique_dropbox_root

MIB = 1024 * 1024
BACKENDS = ["local", "s3", "dropbox", "box"]


@pytest.fixture(params=BACKENDS)
def storage(request, tmp_path):
    from imgval.storage import open_storage

    kind = request.param
    if kind == "local":
        (tmp_path / "root").mkdir()
        return open_storage(str(tmp_path / "root"))
    if kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return open_storage(f"s3://{bucket}/some prefix/x", chunk_size=5 * MIB)
    if kind == "dropbox":
        emulator = request.getfixturevalue("dropbox_emulator")
        root = unique_dropbox_root()
        emulator.folders[root.lower()] = root
        return open_storage(f"dropbox:{root}", chunk_size=MIB)
    if kind == "box":
        box = request.getfixturevalue("box_emulator")
        folder_id = box.make_folder("0", "test root")
        # a low threshold so chunked upload sessions are used for the large payload
        return open_storage(f"box:{folder_id}", chunked_threshold=2 * box.part_size)
    raise AssertionError(kind)


@pytest.fixture
def large_payload(storage):
    """Content spanning three chunks of the storage's transfer size."""
    import os

    chunk = getattr(storage, "chunk_size", MIB)
    return os.urandom(2 * chunk + 12345)
