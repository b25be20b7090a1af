"""Sample organisation for the demo: two wards' one-stop sections, their counters and devices.

Names are invented; places are real Hanoi wards (since 1 July 2025). Seeding is idempotent so
the demo can be started again on the same database.

Each ward has a chairman (Chủ tịch UBND phường), the head of the ward unit, and a vice-chairman
who heads its one-stop section (Trưởng Bộ phận Một cửa) and directly leads the four counter
officers. The section unit itself names no head, so the grades of its officers are decided by
the ward chairman (`organisation.responsible_head` walks up to the ward); the vice-chairman,
with no leader of record, is reviewed by the chairman too (`organisation.direct_leader`).
The city unit's head, the city chairman (Chủ tịch UBND Thành phố), reviews and decides the
ward chairmen's months the same way; without one they would wait for nobody and look late
every month. His own month is decided above the city, outside the deployment.
"""

from __future__ import annotations

from collector.db.store import Store, write_transaction
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.org.registry import register_device
from collector.roster.shifts import assign, open_assignment

# (unit id, name, parent, kind, head)
UNITS = [
    ("hn", "UBND Thành phố Hà Nội", None, "city", "HN-0001"),
    ("hk", "UBND phường Hoàn Kiếm", "hn", "ward", "HK-0100"),
    ("hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm", "hk", "office", None),
    ("bd", "UBND phường Ba Đình", "hn", "ward", "BD-0100"),
    ("bd-1c", "Bộ phận Một cửa phường Ba Đình", "bd", "office", None),
]

SECTION_LEAD_TITLE = "Phó Chủ tịch UBND phường, Trưởng Bộ phận Một cửa"

# (officer id, name, title, unit, direct leader); leaders before those they lead.
OFFICERS = [
    ("HN-0001", "Phan Quang Huy", "Chủ tịch UBND Thành phố", "hn", None),
    ("HK-0100", "Ngô Thanh Sơn", "Chủ tịch UBND phường", "hk", None),
    ("HK-0101", "Đặng Thị Mai Lan", SECTION_LEAD_TITLE, "hk", None),
    ("HK-0001", "Nguyễn Thị Thu Hường", "Chuyên viên", "hk-1c", "HK-0101"),
    ("HK-0002", "Trần Văn Đức", "Chuyên viên", "hk-1c", "HK-0101"),
    ("HK-0003", "Lê Hoàng Yến", "Cán sự", "hk-1c", "HK-0101"),
    ("HK-0004", "Phạm Quốc Việt", "Chuyên viên", "hk-1c", "HK-0101"),
    ("BD-0100", "Lương Văn Khánh", "Chủ tịch UBND phường", "bd", None),
    ("BD-0101", "Trịnh Thu Trang", SECTION_LEAD_TITLE, "bd", None),
    ("BD-0001", "Đỗ Minh Châu", "Chuyên viên chính", "bd-1c", "BD-0101"),
    ("BD-0002", "Vũ Thị Ánh Tuyết", "Chuyên viên", "bd-1c", "BD-0101"),
    ("BD-0003", "Hoàng Đức Thắng", "Cán sự", "bd-1c", "BD-0101"),
    ("BD-0004", "Bùi Thị Lệ Thủy", "Chuyên viên", "bd-1c", "BD-0101"),
]

# (counter id, label, unit, device id)
COUNTERS = [  # interleaved so that any number of devices covers both wards
    ("hk-q1", "Quầy 1", "hk-1c", "kiosk-hk-01"),
    ("bd-q1", "Quầy 1", "bd-1c", "kiosk-bd-01"),
    ("hk-q2", "Quầy 2", "hk-1c", "kiosk-hk-02"),
    ("bd-q2", "Quầy 2", "bd-1c", "kiosk-bd-02"),
    ("hk-q3", "Quầy 3", "hk-1c", "kiosk-hk-03"),
    ("bd-q3", "Quầy 3", "bd-1c", "kiosk-bd-03"),
    ("hk-q4", "Quầy 4", "hk-1c", "kiosk-hk-04"),
    ("bd-q4", "Quầy 4", "bd-1c", "kiosk-bd-04"),
]

MAX_DEVICES = len(COUNTERS)


def seed_demo(store: Store, devices: int) -> list[str]:
    """Seed units, officers and `devices` counters with a device each; return the device ids.

    Each device's counter is staffed by one officer, except the last when there are more than
    two, whose counter is closed so the demo shows that screen too.
    """
    if not 1 <= devices <= MAX_DEVICES:
        raise ValueError(f"the demo has 1 to {MAX_DEVICES} devices")
    db = store.db
    with write_transaction(db):  # readers never see a unit whose head is missing for a moment
        # Units first without heads: a head is an officer, and an officer needs their unit.
        for unit_id, name, parent, kind, _ in UNITS:
            upsert_unit(db, unit_id, name, parent, kind=kind)
        for officer_id, name, title, unit_id, leader in OFFICERS:
            upsert_officer(db, officer_id, name, title, unit_id, leader_id=leader)
        for unit_id, name, parent, kind, head in UNITS:
            upsert_unit(db, unit_id, name, parent, kind=kind, head_id=head)
    staffed = {section: [o[0] for o in OFFICERS if o[3] == section]
               for section in ("hk-1c", "bd-1c")}
    device_ids = []
    for index, (counter_id, label, unit_id, device_id) in enumerate(COUNTERS[:devices]):
        upsert_counter(db, counter_id, label, unit_id)
        register_device(db, device_id, counter_id)
        closed = devices > 2 and index == devices - 1
        officer = None if closed else staffed[unit_id].pop(0)
        current = open_assignment(db, device_id)
        if current is None or current["officer_id"] != officer:
            assign(db, device_id, officer)
        device_ids.append(device_id)
    return device_ids
