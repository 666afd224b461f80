"""Prints every schema's file and fingerprint, as `bazaar schemas list` does, computed by
fastavro: CI compares the two, so Bazaar's fingerprints are the specification's."""

import sys

from bazaar_events import Catalogue

for name, key in Catalogue(sys.argv[1] if len(sys.argv) > 1 else "schemas/avro").fingerprints():
    print(f"{name}.avsc {key}")
