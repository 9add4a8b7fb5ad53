"""Local emulators of the Dropbox and Box HTTP API routes imgval uses, for tests.

They keep real state (files, folders, upload sessions) and inject faults on demand, so the
real ``dropbox`` and ``box_sdk_gen`` clients can be driven against them without a network.
"""
