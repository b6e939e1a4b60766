#!/usr/bin/python3
"""Reads the plist file named by argv[1] with Python's plistlib, an independent parser, and prints
it as JSON, so macos_portable_test can check what launchd_plist.cpp writes."""
import json
import plistlib
import sys

with open(sys.argv[1], "rb") as plist_file:
    print(json.dumps(plistlib.load(plist_file), sort_keys=True))
