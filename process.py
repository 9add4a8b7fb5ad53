#!/usr/bin/env python3
"""Check a batch of images in parallel and write results.csv: `python process.py -i DIR`."""
from imgval.cli.scripts import process_main

if __name__ == "__main__":
    process_main()
