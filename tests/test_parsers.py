"""Parsers given random and mutated answers raise the project's own error, nothing else."""

import contextlib
import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim import AS_OF

from nq57sync import DataError, Period
from nq57sync.exports import read_table, rows_to_dossiers
from nq57sync.simulators import Province
from nq57sync.simulators.dvcqg import MONTHLY_FIELDS, index_scores, package_record
from nq57sync.simulators.motcua import STAT_FIELDS, igate_record
from nq57sync_dvcqg.gateway import parse_dossier_page, parse_index, parse_monthly
from nq57sync_motcua.api import parse_dossier, parse_public_page, parse_spring_page, parse_statistics

PERIOD = Period.parse("2025-11")
PROVINCE = Province.generate(3, as_of=AS_OF, agencies=3, per_day=(1, 2))
ONESTOP = sorted(PROVINCE.onestop.values(), key=lambda d: d.local_code)[:3]
PORTAL = sorted(PROVINCE.portal.values(), key=lambda d: d.code)[:3]

GOOD = {
    "dvcqg_page": {"TOTAL": "3", "ROW": [package_record(d) for d in PORTAL]},
    "dvcqg_monthly": [{"MA_COQUAN": "001", "TEN_COQUAN": "UBND", "NAM": "2025", "THANG": "11",
                       **{w: "3" for w in MONTHLY_FIELDS.values()}}],
    "dvcqg_index": index_scores(PROVINCE, 2025, 11),
    "igate_page": {"content": [igate_record(d) for d in ONESTOP], "totalElements": 3,
                   "totalPages": 1, "number": 0, "size": 20, "last": True},
    "igate_statistics": [{"agency": {"id": "a", "code": "001", "name": "UBND"},
                          **dict.fromkeys(STAT_FIELDS.values(), 2)}],
}

PARSERS = {
    "dvcqg_page": parse_dossier_page,
    "dvcqg_monthly": parse_monthly,
    "dvcqg_index": parse_index,
    "igate_page": lambda a: [parse_dossier(i) for i in parse_spring_page(a, "trang")[0]],
    "igate_statistics": lambda a: parse_statistics(a, PERIOD),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_good_answers_parse(name):
    assert PARSERS[name](copy.deepcopy(GOOD[name]))


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
@given(garbage=json_values)
def test_random_answers_raise_only_data_error(name, garbage):
    with contextlib.suppress(DataError):
        PARSERS[name](garbage)


def _paths(value, prefix=()):
    """Every place in a JSON value that a mutation can hit."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150)
@given(data=st.data())
def test_mutated_answers_raise_only_data_error(name, data):
    answer = copy.deepcopy(GOOD[name])
    paths = [p for p in _paths(answer) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = answer
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(json_values)
            elif isinstance(parent, dict):
                parent.pop(path[-1], None)
        except (KeyError, IndexError, TypeError):
            continue
    with contextlib.suppress(DataError):
        PARSERS[name](answer)


@settings(max_examples=80)
@given(st.text(max_size=400))
def test_public_page_garbage_raises_only_data_error(text):
    with contextlib.suppress(DataError):
        parse_public_page(text, PERIOD)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
       suffix=st.sampled_from([".xls", ".xlsx", ".csv"]))
def test_export_garbage_raises_only_data_error(tmp_path_factory, content, suffix):
    path = tmp_path_factory.mktemp("garbage") / f"export{suffix}"
    path.write_bytes(content)
    try:
        header, rows = read_table(path)
        rows_to_dossiers(header, rows, path.name)
    except DataError:
        pass


def test_good_answers_are_json_round_trippable():
    for answer in GOOD.values():
        assert json.loads(json.dumps(answer)) == answer


mappings = st.dictionaries(st.text(max_size=6), json_values, max_size=6)
specs = st.recursive(st.just(True), lambda inner: st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4), max_leaves=8)


@given(record=mappings, mapped=st.dictionaries(st.text(max_size=6), specs, max_size=6))
def test_raw_keeps_exactly_what_no_column_holds(record, mapped):
    """`wire.unmapped`: a field named flat is dropped, one named nested keeps its other fields,
    every field not named is kept as it came, and no empty object is left behind."""
    from nq57sync.wire import unmapped

    rest = unmapped(record, mapped)
    for key, value in record.items():
        inner = mapped.get(key)
        if inner is None:
            assert rest[key] == value
        elif inner is True or not isinstance(value, dict):
            assert key not in rest
        elif key in rest:
            assert rest[key] == unmapped(value, inner) and rest[key]
        else:
            assert unmapped(value, inner) == {}
    assert set(rest) <= set(record)


def test_stored_records_keep_only_what_no_column_holds():
    """A national package record is all columns; an iGate record keeps its ids and names."""
    assert all(d.raw == {} for d in parse_dossier_page(GOOD["dvcqg_page"])[1])
    for dossier, item in zip(PARSERS["igate_page"](GOOD["igate_page"]), ONESTOP, strict=True):
        record = igate_record(item)
        assert dossier.raw == {"id": record["id"], "agency": {"id": record["agency"]["id"]},
                               "applyMethod": {"name": record["applyMethod"]["name"]},
                               "dossierStatus": {"name": record["dossierStatus"]["name"]},
                               "appliedDate": record["appliedDate"],
                               "procedure": {"id": record["procedure"]["id"]}}
