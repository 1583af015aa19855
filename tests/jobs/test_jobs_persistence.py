"""Checkpoints and results: compatible with the official SDK both ways, byte for byte."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import os
import pathlib
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import braket.jobs as official_jobs
import pytest
from braket.jobs_data import PersistedJobDataFormat as OfficialFormat

import braket_async.jobs as our_jobs
from braket_async.jobs import PersistedJobDataFormat


@dataclasses.dataclass(frozen=True)
class Side:
    """One SDK's persistence functions and its format enum."""

    name: str
    module: ModuleType
    formats: type[enum.Enum]

    def fmt(self, name: str | None) -> Any:
        """The member named ``name``; a lowercase name (``"pickle"``) is passed as a string."""
        if name is None or name.islower():
            return name
        return self.formats[name]

    def __str__(self) -> str:
        return self.name


OURS = Side("ours", our_jobs, PersistedJobDataFormat)
OFFICIAL = Side("official", official_jobs, OfficialFormat)
SIDES = [OURS, OFFICIAL]
# "pickle" is a string both SDKs accept; despite its name it stores JSON.
FORMATS = ["PLAINTEXT", "PICKLED_V4", "pickle"]

PLAIN_DATA: dict[str, Any] = {
    "energy": -1.25,
    "params": [0.1, 0.2, 3],
    "label": 'é ✓ "quoted" \\ back',
    "nested": {"a": [1, None, True, False], "b": {}},
    "big": 10**20,
    "nan": float("nan"),
    "inf": float("-inf"),
}
# Pickled values need not be JSON: complex numbers, tuples, bytes, and one long enough that
# its base64 spans several 76-character lines.
PICKLED_DATA: dict[str, Any] = {
    "complex": 1 + 2j,
    "tuple": (1, "two", 3.0),
    "bytes": b"\x00\xff" * 10,
    "long": list(range(500)),
    "frozen": frozenset({1, 2}),
}
SAMPLES = {"PLAINTEXT": PLAIN_DATA, "PICKLED_V4": PICKLED_DATA, "pickle": PLAIN_DATA}


def same(a: Any, b: Any) -> bool:
    # repr compares NaN, and also value types (1 vs 1.0), which == would not.
    return repr(a) == repr(b)


def checkpoint_file(root: Path, suffix: str) -> Path:
    return root / "checkpoints" / (f"my-job_{suffix}.json" if suffix else "my-job.json")


@pytest.mark.parametrize("suffix", ["", "epoch-3"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("writer", "reader"), [(w, r) for w in SIDES for r in SIDES], ids=str)
def test_checkpoint_round_trip(
    job_env: Path, writer: Side, reader: Side, fmt: str, suffix: str
) -> None:
    data = SAMPLES[fmt]
    writer.module.save_job_checkpoint(data, suffix, writer.fmt(fmt))

    assert checkpoint_file(job_env, suffix).is_file()
    loaded = reader.module.load_job_checkpoint("my-job", suffix, allow_pickle=True)
    assert same(loaded, data)
    assert same(
        reader.module.load_job_checkpoint(checkpoint_file_suffix=suffix, allow_pickle=True), data
    )


@pytest.mark.parametrize("suffix", ["", "epoch-3"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_checkpoint_bytes_match_official(job_env: Path, fmt: str, suffix: str) -> None:
    path = checkpoint_file(job_env, suffix)
    OFFICIAL.module.save_job_checkpoint(SAMPLES[fmt], suffix, OFFICIAL.fmt(fmt))
    official_bytes = path.read_bytes()
    path.unlink()

    OURS.module.save_job_checkpoint(SAMPLES[fmt], suffix, OURS.fmt(fmt))

    assert path.read_bytes() == official_bytes
    if fmt == "PICKLED_V4":
        assert b"\\n" in official_bytes  # the MIME line breaks really were compared


def test_checkpoint_overwrites_and_leaves_no_temporary_file(job_env: Path) -> None:
    our_jobs.save_job_checkpoint({"step": 1})
    our_jobs.save_job_checkpoint({"step": 2})

    assert our_jobs.load_job_checkpoint() == {"step": 2}
    assert [p.name for p in (job_env / "checkpoints").iterdir()] == ["my-job.json"]


def test_failed_save_leaves_no_temporary_file(job_env: Path) -> None:
    # A directory where the checkpoint file should go makes the final rename fail.
    (job_env / "checkpoints" / "my-job.json").mkdir()

    with pytest.raises(OSError):  # noqa: PT011 - the platform picks the subclass
        our_jobs.save_job_checkpoint({"step": 1})

    assert [p.name for p in (job_env / "checkpoints").iterdir()] == ["my-job.json"]


def test_files_get_the_same_mode_as_official(job_env: Path) -> None:
    official_jobs.save_job_checkpoint({"a": 1}, "official")
    our_jobs.save_job_checkpoint({"a": 1}, "ours")

    def mode(suffix: str) -> int:
        return checkpoint_file(job_env, suffix).stat().st_mode

    assert mode("ours") == mode("official")


@pytest.mark.parametrize("side", SIDES, ids=str)
@pytest.mark.parametrize("empty", [{}, None])
def test_empty_checkpoint_is_refused(job_env: Path, side: Side, empty: Any) -> None:
    with pytest.raises(ValueError, match="empty"):
        side.module.save_job_checkpoint(empty)
    assert list((job_env / "checkpoints").iterdir()) == []


def test_missing_checkpoint_raises_file_not_found(job_env: Path) -> None:
    with pytest.raises(FileNotFoundError):
        our_jobs.load_job_checkpoint("other-job")


def test_checkpoint_of_another_job_is_loaded_by_name(
    job_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMZN_BRAKET_JOB_NAME", "previous-job")
    official_jobs.save_job_checkpoint({"theta": [0.5]}, "last")
    monkeypatch.setenv("AMZN_BRAKET_JOB_NAME", "my-job")

    assert our_jobs.load_job_checkpoint("previous-job", "last") == {"theta": [0.5]}


def test_checkpoint_dir_is_created(job_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = job_env / "new" / "dir"
    monkeypatch.setenv("AMZN_BRAKET_CHECKPOINT_DIR", str(target))

    our_jobs.save_job_checkpoint({"a": 1})

    assert (target / "my-job.json").is_file()


BAD_NAME_PARTS = ["../escape", "a/b", "..", "a\\b", "nul\0", "/abs"]


@pytest.mark.parametrize("suffix", BAD_NAME_PARTS)
def test_suffix_cannot_leave_the_checkpoint_dir(job_env: Path, suffix: str) -> None:
    with pytest.raises(ValueError, match="checkpoint_file_suffix"):
        our_jobs.save_job_checkpoint({"a": 1}, suffix)
    with pytest.raises(ValueError, match="checkpoint_file_suffix"):
        our_jobs.load_job_checkpoint("my-job", suffix)
    assert sorted(p.name for p in job_env.rglob("*") if p.is_file()) == []


@pytest.mark.parametrize("job_name", BAD_NAME_PARTS)
def test_job_name_cannot_leave_the_checkpoint_dir(
    job_env: Path, monkeypatch: pytest.MonkeyPatch, job_name: str
) -> None:
    monkeypatch.setenv("AMZN_BRAKET_JOB_NAME", job_name.replace("\0", ""))
    if "\0" not in job_name:
        with pytest.raises(ValueError, match="job name"):
            our_jobs.save_job_checkpoint({"a": 1})
    with pytest.raises(ValueError, match="job name"):
        our_jobs.load_job_checkpoint(job_name)
    assert [p for p in job_env.parent.rglob("*") if p.is_file()] == []


# --- results -----------------------------------------------------------------------------

# Each step saves (data, format name or None); "TypeError" expects both SDKs to refuse.
RESULT_SEQUENCES: dict[str, list[tuple[Any, str | None]]] = {
    "plain-merge": [({"a": 1, "b": [1.5]}, None), ({"c": "x", "a": 2}, "PLAINTEXT")],
    "non-dict": [(3.5, None), ({"extra": True}, None), ([1, 2], None)],
    "pickled-stays-pickled": [
        ({"a": 1 + 1j}, "PICKLED_V4"),
        ({"b": (1, 2)}, None),
        ({"a": "again"}, "PICKLED_V4"),
    ],
    "plaintext-then-pickled": [({"a": 1, "s": "t"}, None), ({"b": b"raw"}, "PICKLED_V4")],
    "pickled-then-plaintext": [({"a": 1}, "PICKLED_V4"), ({"b": 2}, "PLAINTEXT")],
    "long-pickled": [(list(range(300)), "PICKLED_V4")],
    "pickle-new": [({"a": 1, "b": [1.5]}, "pickle"), ({"c": "x"}, "pickle")],
    "pickle-then-default": [({"a": 1}, "pickle"), ({"b": 2}, None)],
    "pickle-then-pickled": [({"a": 1}, "pickle"), ({"b": 1 + 1j}, "PICKLED_V4")],
    "plaintext-then-pickle": [({"a": 1}, None), ({"b": {"c": [2]}}, "pickle")],
    # Over pickled results, "pickle" keeps them pickled: the one case where it pickles.
    "pickled-then-pickle": [({"a": 1 + 1j}, "PICKLED_V4"), ({"b": (1, 2)}, "pickle")],
}


def run_sequence(
    side: Side, steps: list[tuple[Any, str | None]], results: Path
) -> list[bytes | type[Exception]]:
    outcomes: list[bytes | type[Exception]] = []
    for data, fmt in steps:
        try:
            side.module.save_job_result(data, side.fmt(fmt))
        except TypeError as exc:
            outcomes.append(type(exc))
        outcomes.append((results / "results.json").read_bytes())
    return outcomes


@pytest.mark.parametrize("name", RESULT_SEQUENCES)
def test_results_bytes_match_official_step_by_step(
    job_env: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    outcomes = {}
    for side in SIDES:
        results = job_env / f"results-{side}"
        results.mkdir()
        monkeypatch.setenv("AMZN_BRAKET_JOB_RESULTS_DIR", str(results))
        outcomes[side.name] = run_sequence(side, RESULT_SEQUENCES[name], results)

    assert outcomes["ours"] == outcomes["official"]


@pytest.mark.parametrize("name", RESULT_SEQUENCES)
@pytest.mark.parametrize(("writer", "reader"), [(OURS, OFFICIAL), (OFFICIAL, OURS)], ids=str)
def test_results_written_by_one_are_read_by_the_other(
    job_env: Path, writer: Side, reader: Side, name: str
) -> None:
    run_sequence(writer, RESULT_SEQUENCES[name], job_env / "results")
    expected = writer.module.load_job_result(allow_pickle=True)

    assert same(reader.module.load_job_result(allow_pickle=True), expected)


def test_results_merge_and_wrap(job_env: Path) -> None:
    our_jobs.save_job_result(7)
    our_jobs.save_job_result({"b": 2, "result": 8})
    our_jobs.save_job_result({"c": 3})

    assert list(our_jobs.load_job_result().items()) == [("result", 8), ("b", 2), ("c", 3)]


def test_mixing_formats_keeps_the_saved_results(job_env: Path) -> None:
    our_jobs.save_job_result({"a": 1}, PersistedJobDataFormat.PICKLED_V4)
    before = (job_env / "results" / "results.json").read_bytes()

    with pytest.raises(TypeError, match="pickled_v4"):
        our_jobs.save_job_result({"b": 2}, PersistedJobDataFormat.PLAINTEXT)

    assert (job_env / "results" / "results.json").read_bytes() == before


def test_load_result_without_file_is_empty(job_env: Path) -> None:
    assert our_jobs.load_job_result() == {}
    assert our_jobs.load_job_result(job_env / "nowhere" / "results.json") == {}


def test_load_result_outside_a_job_by_path(tmp_path: Path, job_env: Path) -> None:
    # How job handles read a finished job's output: a path, not the environment.
    official_jobs.save_job_result({"energy": -2.0})
    copied = tmp_path / "outputs" / "my-job" / "results.json"
    copied.parent.mkdir(parents=True)
    copied.write_bytes((job_env / "results" / "results.json").read_bytes())
    os.environ.pop("AMZN_BRAKET_JOB_RESULTS_DIR")

    assert our_jobs.load_job_result(copied) == {"energy": -2.0}
    assert our_jobs.load_job_result(str(copied)) == {"energy": -2.0}


def test_results_default_to_working_directory_outside_a_job(tmp_path: Path) -> None:
    our_jobs.save_job_result({"a": 1})

    assert official_jobs.load_job_result(tmp_path / "results.json") == {"a": 1}
    assert our_jobs.load_job_result() == {"a": 1}


# --- pickle safety -------------------------------------------------------------------------

SPRUNG: list[str] = []


def _spring(tag: str) -> str:
    SPRUNG.append(tag)
    return tag


class Trap:
    """Unpickling this calls _spring: the tests see whether anything was unpickled."""

    def __reduce__(self) -> tuple[Callable[[str], str], tuple[str]]:
        return _spring, ("sprung",)


@pytest.fixture
def sprung() -> list[str]:
    SPRUNG.clear()
    return SPRUNG


@pytest.mark.parametrize("writer", SIDES, ids=str)
def test_pickled_checkpoint_needs_allow_pickle(
    job_env: Path, sprung: list[str], writer: Side
) -> None:
    writer.module.save_job_checkpoint({"trap": Trap()}, "", writer.fmt("PICKLED_V4"))

    with pytest.raises(RuntimeError, match="allow_pickle=True"):
        our_jobs.load_job_checkpoint()
    assert sprung == []

    assert our_jobs.load_job_checkpoint(allow_pickle=True) == {"trap": "sprung"}
    assert sprung == ["sprung"]


@pytest.mark.parametrize("writer", SIDES, ids=str)
def test_pickled_result_needs_allow_pickle(job_env: Path, sprung: list[str], writer: Side) -> None:
    writer.module.save_job_result({"trap": Trap()}, writer.fmt("PICKLED_V4"))

    with pytest.raises(RuntimeError, match="allow_pickle=True"):
        our_jobs.load_job_result()
    with pytest.raises(RuntimeError, match="allow_pickle=True"):
        our_jobs.load_job_result(job_env / "results" / "results.json")
    assert sprung == []

    assert our_jobs.load_job_result(allow_pickle=True) == {"trap": "sprung"}
    assert sprung == ["sprung"]


def test_merging_into_pickled_results_unpickles_nothing(job_env: Path, sprung: list[str]) -> None:
    our_jobs.save_job_result({"trap": Trap()}, PersistedJobDataFormat.PICKLED_V4)
    our_jobs.save_job_result({"more": 1})

    assert sprung == []
    assert our_jobs.load_job_result(allow_pickle=True) == {"trap": "sprung", "more": 1}


# --- formats and malformed files -------------------------------------------------------------


def test_format_enum_matches_official() -> None:
    assert {m.name: m.value for m in PersistedJobDataFormat} == {
        m.name: m.value for m in OfficialFormat
    }
    assert PersistedJobDataFormat.PICKLED_V4 == "pickled_v4"


@pytest.mark.parametrize("fmt", [OfficialFormat.PICKLED_V4, "pickled_v4"])
def test_official_enum_and_strings_are_accepted(job_env: Path, fmt: Any) -> None:
    our_jobs.save_job_checkpoint({"a": 1}, data_format=fmt)

    with pytest.raises(RuntimeError):
        our_jobs.load_job_checkpoint()


def test_unknown_format_is_refused(job_env: Path) -> None:
    with pytest.raises(ValueError, match="unknown persisted data format"):
        our_jobs.save_job_checkpoint({"a": 1}, data_format="pickled_v5")
    with pytest.raises(ValueError, match="unknown persisted data format"):
        our_jobs.save_job_result({"a": 1}, data_format="json")
    assert [p for p in job_env.rglob("*") if p.is_file()] == []


HEADER = {"name": "braket.jobs_data.persisted_job_data", "version": "1"}
INVALID = "not a valid job data file|cannot be decoded|not base64 strings|not a base64 string"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps(
            {
                "braketSchemaHeader": {"name": "other", "version": "1"},
                "dataDictionary": {},
                "dataFormat": "plaintext",
            }
        ),
        json.dumps({"braketSchemaHeader": HEADER, "dataFormat": "plaintext"}),
        json.dumps({"braketSchemaHeader": HEADER, "dataDictionary": [], "dataFormat": "plaintext"}),
        json.dumps({"braketSchemaHeader": HEADER, "dataDictionary": {}}),
        json.dumps({"braketSchemaHeader": HEADER, "dataDictionary": {}, "dataFormat": "xml"}),
        json.dumps(
            {
                "braketSchemaHeader": HEADER,
                "dataDictionary": {"a": "!!"},
                "dataFormat": "pickled_v4",
            }
        ),
        json.dumps(
            {"braketSchemaHeader": HEADER, "dataDictionary": {"a": 1}, "dataFormat": "pickled_v4"}
        ),
        json.dumps(
            {
                "braketSchemaHeader": HEADER,
                "dataDictionary": {"a": "AAAA\n"},
                "dataFormat": "pickled_v4",
            }
        ),
    ],
    ids=[
        "text",
        "array",
        "header",
        "no-data",
        "data-array",
        "no-format",
        "format",
        "base64",
        "not-string",
        "not-pickle",
    ],
)
def test_malformed_files_raise_value_error(
    job_env: Path, content: str, request: pytest.FixtureRequest
) -> None:
    (job_env / "checkpoints" / "my-job.json").write_text(content)
    (job_env / "results" / "results.json").write_text(content)

    with pytest.raises(ValueError, match=INVALID):
        our_jobs.load_job_checkpoint(allow_pickle=True)
    with pytest.raises(ValueError, match=INVALID):
        our_jobs.load_job_result(allow_pickle=True)
    if request.node.callspec.id in ("base64", "not-pickle"):
        # Merging never decodes saved pickles, so their content is not checked.
        our_jobs.save_job_result({"b": 2}, PersistedJobDataFormat.PICKLED_V4)
    else:
        with pytest.raises(ValueError, match=INVALID):
            our_jobs.save_job_result({"b": 2}, PersistedJobDataFormat.PICKLED_V4)


def test_header_is_optional_on_read(job_env: Path) -> None:
    (job_env / "results" / "results.json").write_text(
        '{"dataDictionary": {"a": 1}, "dataFormat": "plaintext"}'
    )

    assert our_jobs.load_job_result() == {"a": 1} == official_jobs.load_job_result()


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


def test_plaintext_extras_are_encoded_like_official(
    job_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Types pydantic (and so the official SDK) turns into JSON on the way out.
    data = {
        "set": {3},
        "frozenset": frozenset({"x"}),
        "datetime": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
        "date": datetime.date(2024, 5, 1),
        "time": datetime.time(1, 2, 3),
        "delta": datetime.timedelta(minutes=1, microseconds=5),
        "int-decimal": decimal.Decimal("12"),
        "decimal": decimal.Decimal("1.25"),
        "path": pathlib.Path("/a/b"),
        "uuid": uuid.UUID(int=7),
        "bytes": b"abc",
        "enum": Color.RED,
        "dataclass": Point(1, [2]),
        "tuple": (1, 2),
        7: "int key",
    }
    our_jobs.save_job_result(data)
    ours = (job_env / "results" / "results.json").read_bytes()
    monkeypatch.setenv("AMZN_BRAKET_JOB_RESULTS_DIR", str(job_env / "checkpoints"))
    official_jobs.save_job_result(data)

    assert ours == (job_env / "checkpoints" / "results.json").read_bytes()


def test_value_without_json_form_is_a_type_error(job_env: Path) -> None:
    our_jobs.save_job_result({"a": 1})
    before = (job_env / "results" / "results.json").read_bytes()

    with pytest.raises(TypeError, match="PICKLED_V4"):
        our_jobs.save_job_result({"b": object()})
    with pytest.raises(TypeError, match="PICKLED_V4"):
        our_jobs.save_job_checkpoint({"b": 1 + 1j})

    assert (job_env / "results" / "results.json").read_bytes() == before
    assert list((job_env / "results").iterdir()) == [job_env / "results" / "results.json"]
    assert list((job_env / "checkpoints").iterdir()) == []


def test_checkpoint_data_must_be_a_mapping(job_env: Path) -> None:
    with pytest.raises(TypeError, match="dict"):
        our_jobs.save_job_checkpoint([("a", 1)])  # type: ignore[arg-type]


def test_pickled_values_are_protocol_4(job_env: Path) -> None:
    our_jobs.save_job_checkpoint({"a": [1, 2]}, data_format="pickled_v4")
    document = json.loads((job_env / "checkpoints" / "my-job.json").read_text())
    raw = __import__("base64").decodebytes(document["dataDictionary"]["a"].encode())

    assert raw[:2] == b"\x80\x04"
    assert pickle.loads(raw) == [1, 2]


# --- data_format="pickle" -------------------------------------------------------------------


def document_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.mark.parametrize("side", SIDES, ids=str)
def test_pickle_stores_json_under_that_name(job_env: Path, side: Side) -> None:
    side.module.save_job_checkpoint({"theta": [0.5, 1]}, "p", "pickle")
    side.module.save_job_result({"energy": -1.5}, "pickle")

    for path in (checkpoint_file(job_env, "p"), job_env / "results" / "results.json"):
        document = document_of(path)
        assert document["dataFormat"] == "pickle"
        assert not any(isinstance(v, str) for v in document["dataDictionary"].values())
    assert document_of(checkpoint_file(job_env, "p"))["dataDictionary"] == {"theta": [0.5, 1]}


@pytest.mark.parametrize("reader", SIDES, ids=str)
@pytest.mark.parametrize("writer", SIDES, ids=str)
def test_pickle_files_load_without_allow_pickle(
    job_env: Path, sprung: list[str], writer: Side, reader: Side
) -> None:
    writer.module.save_job_checkpoint(PLAIN_DATA, "", "pickle")
    writer.module.save_job_result(PLAIN_DATA, "pickle")

    # Nothing in them is pickled, so neither SDK asks for allow_pickle.
    assert same(reader.module.load_job_checkpoint(), PLAIN_DATA)
    assert same(reader.module.load_job_result(), PLAIN_DATA)
    assert sprung == []


@pytest.mark.parametrize("side", SIDES, ids=str)
def test_pickle_is_not_pickled_v4(job_env: Path, side: Side) -> None:
    # A pickled_v4 document whose values are pickles still needs allow_pickle; "pickle"
    # documents are JSON, so a base64 string in one is just a string.
    pickled = our_jobs.PersistedJobDataFormat.PICKLED_V4
    our_jobs.save_job_checkpoint({"trap": Trap()}, "v4", pickled)
    encoded = document_of(checkpoint_file(job_env, "v4"))["dataDictionary"]
    document = {"braketSchemaHeader": HEADER, "dataDictionary": encoded, "dataFormat": "pickle"}
    checkpoint_file(job_env, "").write_text(json.dumps(document))

    assert side.module.load_job_checkpoint() == encoded
    with pytest.raises(RuntimeError, match="allow_pickle=True"):
        side.module.load_job_checkpoint(checkpoint_file_suffix="v4")


@pytest.mark.parametrize("side", SIDES, ids=str)
def test_pickle_value_without_json_form_is_a_type_error(job_env: Path, side: Side) -> None:
    side.module.save_job_result({"a": 1}, "pickle")
    before = (job_env / "results" / "results.json").read_bytes()

    with pytest.raises(TypeError):
        side.module.save_job_result({"b": 1 + 1j}, "pickle")
    with pytest.raises(TypeError):
        side.module.save_job_checkpoint({"b": 1 + 1j}, "", "pickle")

    if side is OURS:
        # The official SDK opens the file before encoding, and leaves it empty.
        assert (job_env / "results" / "results.json").read_bytes() == before
        assert list((job_env / "checkpoints").iterdir()) == []


@pytest.mark.parametrize("fmt", ["PICKLE", "pickled", " pickle"])
def test_only_the_exact_name_pickle_is_accepted(job_env: Path, fmt: str) -> None:
    # The official SDK stores JSON under any name; ours refuses names it does not know.
    with pytest.raises(ValueError, match="unknown persisted data format"):
        our_jobs.save_job_checkpoint({"a": 1}, data_format=fmt)
    assert [p for p in job_env.rglob("*") if p.is_file()] == []
