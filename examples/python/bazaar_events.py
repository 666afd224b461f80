"""Decoding Bazaar's events with nothing but schemas/avro/*.avsc and a standard Avro library.

A message value is Avro single-object encoding: the two bytes C3 01, the 8-byte
CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form (little-endian),
then the Avro binary datum. The fingerprint is the Avro specification's, so fastavro
(like Java's SchemaNormalization) computes it from the .avsc file alone.
"""

import json
import pathlib

from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"


class UnknownSchema(Exception):
    """The message names a fingerprint no .avsc file has."""


class Catalogue:
    """Every schema of a directory of .avsc files, by fingerprint."""

    def __init__(self, directory):
        self.by_fingerprint, self.by_name = {}, {}
        for path in sorted(pathlib.Path(directory).glob("*.avsc")):
            schema = parse_schema(json.loads(path.read_text()))
            canonical = to_parsing_canonical_form(schema)
            key = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
            name = path.name[: -len(".avsc")]
            self.by_fingerprint[key] = (name, schema)
            self.by_name[name] = schema

    def fingerprints(self):
        """(file name without .avsc, fingerprint in hex) for every schema."""
        return sorted((name, key.hex()) for key, (name, _) in self.by_fingerprint.items())

    def decode(self, value):
        """(schema name such as sales.invoice.issued.v1, record as a dict)."""
        if len(value) < 10 or value[:2] != MAGIC:
            raise ValueError("not Avro single-object encoding")
        try:
            name, schema = self.by_fingerprint[value[2:10]]
        except KeyError:
            raise UnknownSchema(value[2:10].hex()) from None
        return name, _read(name, schema, value[10:])

    def decode_as(self, name, value):
        """The record of a message written with the schema `name` (a ce_dataschema), whatever
        its fingerprint: for messages published before the standard fingerprints."""
        if len(value) < 10 or value[:2] != MAGIC:
            raise ValueError("not Avro single-object encoding")
        if name not in self.by_name:
            raise UnknownSchema(name)
        return name, _read(name, self.by_name[name], value[10:])


def _read(name, schema, data):
    datum = _Reader(data)
    record = schemaless_reader(datum, schema)
    if datum.remaining():
        raise ValueError(f"{name}: {datum.remaining()} bytes after the datum")
    return record


class _Reader:
    """A file-like view of bytes that says how much the decoder left."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def read(self, n=-1):
        end = len(self.data) if n < 0 else self.at + n
        chunk = self.data[self.at : end]
        self.at += len(chunk)
        return chunk

    def remaining(self):
        return len(self.data) - self.at
