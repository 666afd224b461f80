"""Reads every message of Bazaar's event topics from the first offset to the current end and
decodes each one by its fingerprint, from the .avsc files alone.

    python consume.py --brokers 127.0.0.1:9092 --schemas schemas/avro [--topic sales.events.v1 ...]

Checks what an integration relies on: the CloudEvents headers are there, ce_type and
ce_dataschema agree with the schema the fingerprint names, ce_tenant matches the
payload's tenant_id. Duplicates (at-least-once delivery) are counted by ce_id. Messages
published before 2026-12-03 carry an earlier fingerprint: they are decoded with the
schema ce_dataschema names and counted apart (--by-fingerprint-only refuses them). Exits
1 if any message fails, or if there is nothing to read.
"""

import argparse
import collections
import re
import sys
import uuid

from confluent_kafka import Consumer, TopicPartition

from bazaar_events import Catalogue, UnknownSchema

REQUIRED = ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_dataschema", "ce_tenant")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument("--schemas", default="schemas/avro")
    parser.add_argument("--topic", action="append",
                        help="default: every <domain>.events.v<N> topic on the broker")
    parser.add_argument("--by-fingerprint-only", action="store_true",
                        help="fail on messages with the earlier fingerprints")
    args = parser.parse_args()

    catalogue = Catalogue(args.schemas)
    # A group of its own that commits nothing: a one-off read, not a subscription.
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"bazaar-example-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    metadata = consumer.list_topics(timeout=10)
    bazaar_topic = re.compile(r"^[a-z]+\.events\.v[0-9]+$")
    topics = args.topic or sorted(t for t in metadata.topics if bazaar_topic.match(t))
    ends, start = {}, []
    for topic in topics:
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                ends[(topic, partition)] = high
                start.append(TopicPartition(topic, partition, low))
    consumer.assign(start)

    decoded, failed, legacy = collections.Counter(), [], 0
    seen, duplicates = set(), 0
    remaining = dict(ends)
    while remaining:
        message = consumer.poll(10)
        if message is None:
            break
        if message.error():
            failed.append(f"{message.topic()}: {message.error()}")
            continue
        where = (message.topic(), message.partition())
        if message.offset() + 1 >= remaining.get(where, 0):
            remaining.pop(where, None)
        label = f"{message.topic()}[{message.partition()}]@{message.offset()}"
        try:
            headers = {k: v.decode() for k, v in (message.headers() or [])}
            missing = [h for h in REQUIRED if h not in headers]
            if missing:
                raise ValueError(f"headers missing: {missing}")
            try:
                name, record = catalogue.decode(message.value())
            except UnknownSchema:
                if args.by_fingerprint_only:
                    raise
                name, record = catalogue.decode_as(headers["ce_dataschema"], message.value())
                legacy += 1
            if name != headers["ce_dataschema"] or not name.startswith(headers["ce_type"] + ".v"):
                raise ValueError(f"fingerprint names {name}, headers say {headers['ce_dataschema']}")
            if str(record.get("tenant_id", headers["ce_tenant"])) != headers["ce_tenant"]:
                raise ValueError("payload tenant_id differs from ce_tenant")
        except Exception as error:  # every failure is reported, none stops the read
            failed.append(f"{label}: {type(error).__name__}: {error}")
            continue
        if headers["ce_id"] in seen:
            duplicates += 1
        seen.add(headers["ce_id"])
        decoded[message.topic()] += 1
    consumer.close()

    for topic in topics:
        print(f"{topic}: {decoded[topic]} decoded")
    total = sum(decoded.values())
    print(f"{total} messages decoded ({total - legacy} by fingerprint, {legacy} written "
          f"before the standard fingerprints by ce_dataschema), {len(failed)} failed, "
          f"{duplicates} duplicates by ce_id, {len(remaining)} partitions not read to the end")
    for failure in failed[:20]:
        print(f"  {failure}", file=sys.stderr)
    if failed or remaining or total == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
