import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nq57sync import Channel, DataError, Status
from nq57sync.codes import channel_from_name, status_from_name
from nq57sync.model import VN_TZ
from nq57sync.package import dossier_from_package, dossier_to_package

RECORD = {
    "MaHoSo": "H31.57-251103-00012", "MaHoSoKhac": "", "MaTTHC": "1.001757",
    "TenTTHC": "Đăng ký khai sinh", "MaLinhVuc": "HT", "MaDinhDanh": "H31.57",
    "DonViXuLy": "UBND phường Hồng Bàng", "KenhThucHien": "2", "TrangThaiHoSo": "10",
    "NgayTiepNhan": "20251103081500", "NgayHenTra": "20251105170000",
    "NgayKetThucXuLy": "20251104100000", "NgayTra": "20251104150000", "NgayTuChoi": "",
}


def test_package_record_maps_onto_the_canonical_model():
    d = dossier_from_package(RECORD)
    assert d.code == "H31.57-251103-00012" and d.alt_code is None
    assert d.channel is Channel.ONLINE and d.status is Status.RETURNED
    assert d.received_at == dt.datetime(2025, 11, 3, 8, 15, tzinfo=VN_TZ)
    assert d.rejected_at is None
    assert d.status_raw == "10" and d.raw == {}  # every field is in a column
    assert dossier_from_package({**RECORD, "NguoiNop": "x"}).raw == {"NguoiNop": "x"}
    assert dossier_from_package(dossier_to_package(d)).canonical_values() == d.canonical_values()


def test_vietnamese_names_match_case_and_space_insensitively():
    assert status_from_name("  đã TRẢ   kết quả ") is Status.RETURNED
    assert channel_from_name("trực tuyến") is Channel.ONLINE
    with pytest.raises(DataError):
        status_from_name("xong rồi")


@pytest.mark.parametrize("field,value", [("KenhThucHien", "9"), ("TrangThaiHoSo", "x"),
                                         ("NgayTiepNhan", "2025-11-03"), ("MaHoSo", "")])
def test_bad_fields_name_the_field_and_the_dossier(field, value):
    with pytest.raises(DataError) as info:
        dossier_from_package({**RECORD, field: value})
    assert field in str(info.value) or "MaHoSo" in str(info.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(sorted(RECORD)), json_values))
def test_mutated_records_raise_only_data_error(mutation):
    with contextlib.suppress(DataError):
        dossier_from_package({**RECORD, **mutation})


@given(json_values)
def test_garbage_raises_only_data_error(garbage):
    with contextlib.suppress(DataError):
        dossier_from_package(garbage)
