#!/usr/bin/env python3
"""Score images for blur one at a time, with more control: `python process_blur.py -i DIR`."""
from imgval.cli.scripts import process_blur_main

if __name__ == "__main__":
    process_blur_main()
