"""The event log's fast paths give exactly what the slow ones did: murmur2, packed headers,
Records and Positions built without the dataclass ``__init__``, the schema version check."""

from __future__ import annotations

import dataclasses
import pickle
import random
import sqlite3
from pathlib import Path

import pytest
from kafka.partitioner.default import murmur2 as kafka_murmur2

from services.eventlog import FatalError, Message, NewTopic, Position, Record, base, open_log
from services.eventlog.base import (
    murmur2,
    new_position,
    new_record,
    pack_headers,
    partition_for_key,
    unpack_headers,
)


def test_murmur2_is_kafkas_with_and_without_the_c_hash() -> None:
    rng = random.Random(5)
    for _ in range(5_000):
        data = rng.randbytes(rng.randint(0, 64))
        expected = kafka_murmur2(data)
        assert murmur2(data) == expected
        assert base._py_murmur2(data) == expected
        assert murmur2(bytearray(data)) == expected  # not bytes: the pure-Python path
        assert partition_for_key(data, 6) == (expected & 0x7FFFFFFF) % 6


HEADERS = [
    (),
    (("content-type", b"application/cloudevents+json; charset=utf-8"), ("ce_id", b"x")),
    (("", b""), ("é名\U0001f600", b"\x00\xff"), ("\udc80 lone surrogate", bytes(range(256)))),
    (("big", b"v" * 127), ("bigger", b"v" * 128), ("huge", b"w" * 70_000), ("ce_id", b"")),
]


@pytest.mark.parametrize("headers", HEADERS)
def test_packed_headers_round_trip(headers: tuple[tuple[str, bytes], ...]) -> None:
    packed = pack_headers(headers)
    assert unpack_headers(packed) == headers
    assert pack_headers(headers) == packed  # a cached name packs the same


@pytest.mark.parametrize("damaged", [b"\x05ab", b"\x01a\x05xy", b"\x80", b"\x01a"])
def test_damaged_packed_headers_are_an_error(damaged: bytes) -> None:
    with pytest.raises(ValueError, match="damaged headers"):
        unpack_headers(damaged)


def test_a_fast_record_is_an_ordinary_record() -> None:
    headers = HEADERS[2]
    slow = Record("t", 1, 7, 1_700_000_000_000, b"k", b"v", headers)
    fast = new_record("t", 1, 7, 1_700_000_000_000, b"k", b"v", pack_headers(headers))
    assert type(fast) is Record
    assert fast.header("é名\U0001f600") == b"\x00\xff"
    assert fast.header("missing") is None
    assert fast.headers == headers
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert dataclasses.replace(fast, offset=8) == Record(
        "t", 1, 8, slow.timestamp_ms, b"k", b"v", headers
    )
    assert dataclasses.asdict(fast)["headers"] == headers
    assert pickle.loads(pickle.dumps(fast)) == slow
    for name in ("headers", "offset"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(fast, name, ())
    undecoded = new_record("t", 1, 7, 0, None, b"", pack_headers(headers))
    assert undecoded == dataclasses.replace(slow, timestamp_ms=0, key=None, value=b"")
    assert new_record("t", 0, 0, 0, None, b"", b"").headers == ()
    assert Record("t", 0, 0, 0, None, b"").headers == ()


def test_a_fast_position_is_an_ordinary_position() -> None:
    fast = new_position("t", 2, 9)
    assert type(fast) is Position
    assert fast == Position("t", 2, 9)
    assert hash(fast) == hash(Position("t", 2, 9))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.offset = 1  # type: ignore[misc]


def test_a_log_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with open_log(f"sqlite:///{path}") as log:
        log.create_topics([NewTopic("t", 2)])
        log.append([Message("t", b"v", key=b"k", headers=(("h", b"1"),))])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET v = '1' WHERE k = 'schema_version'")
    conn.close()
    with pytest.raises(FatalError, match="schema version 1"):
        open_log(f"sqlite:///{path}")
