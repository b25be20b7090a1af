"""The shape of a synthetic province (bench/province.py): its unit tree, officers and counters.

Pure and deterministic for a seed: no database here. The tree follows Hanoi since 1 July 2025
(docs/domain.md): a city, about 30 departments and 126 communes and wards, each with its
offices (phòng) and a one-stop office (bộ phận một cửa) whose counters carry the devices.
At scale 1.0: 3,351 units, about 150,000 officers, 3,000 counters (126 wards × 20 + 30
departments × 16). A smaller scale keeps each ward and department their full size (a ward of
about 700 officers, so a unit of about 500 exists at every scale) and has fewer of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đào", "Đinh", "Lương", "Trịnh", "Mai", "Tạ")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thu", "Hồng", "Quang", "Thanh", "Ngọc", "Xuân", "Hữu",
          "Kim", "Thế", "Anh", "Bảo", "Diệu", "Mạnh", "Phương")
GIVEN = ("An", "Anh", "Ánh", "Bình", "Chi", "Cường", "Dũng", "Duy", "Đạt", "Điệp", "Giang",
         "Hà", "Hải", "Hạnh", "Hiền", "Hiếu", "Hoa", "Hòa", "Hùng", "Hương", "Hường", "Khánh",
         "Lan", "Linh", "Long", "Mai", "Minh", "My", "Nam", "Nga", "Ngọc", "Nhung", "Oanh",
         "Phong", "Phúc", "Phương", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Thắng", "Thủy",
         "Trang", "Trung", "Tuấn", "Tú", "Uyên", "Vân", "Việt", "Xuân", "Yến", "Ơn", "Ưng")
DEPARTMENTS = ("Sở Tư pháp", "Sở Tài chính", "Sở Xây dựng", "Sở Nội vụ", "Sở Y tế",
               "Sở Giáo dục và Đào tạo", "Sở Công Thương", "Sở Nông nghiệp và Môi trường",
               "Sở Văn hóa và Thể thao", "Sở Du lịch", "Sở Khoa học và Công nghệ",
               "Sở Quy hoạch - Kiến trúc", "Sở Dân tộc và Tôn giáo", "Thanh tra Thành phố",
               "Văn phòng UBND Thành phố")
OFFICES = ("Phòng Tổ chức cán bộ", "Phòng Kế hoạch - Tài chính", "Phòng Pháp chế",
           "Phòng Hành chính - Tổng hợp", "Phòng Kinh tế", "Phòng Văn hóa - Xã hội",
           "Phòng Quản lý đô thị", "Phòng Thanh tra", "Phòng Đất đai", "Phòng Hộ tịch",
           "Phòng Đầu tư", "Phòng Giáo dục", "Phòng Y tế", "Phòng Lao động",
           "Phòng Môi trường", "Phòng Giao thông", "Phòng Xây dựng", "Phòng Thống kê",
           "Phòng Dân vận", "Phòng Thi đua", "Phòng Công nghệ thông tin", "Phòng Quốc phòng",
           "Phòng Tôn giáo", "Phòng Nông nghiệp", "Phòng Thương mại")
PLACES = ("Ba Đình", "Hoàn Kiếm", "Tây Hồ", "Long Biên", "Cầu Giấy", "Đống Đa", "Hai Bà Trưng",
          "Hoàng Mai", "Thanh Xuân", "Sóc Sơn", "Đông Anh", "Gia Lâm", "Nam Từ Liêm", "Thanh Trì",
          "Bắc Từ Liêm", "Mê Linh", "Hà Đông", "Sơn Tây", "Ba Vì", "Phúc Thọ", "Đan Phượng",
          "Hoài Đức", "Quốc Oai", "Thạch Thất", "Chương Mỹ", "Thanh Oai", "Thường Tín",
          "Phú Xuyên", "Ứng Hòa", "Mỹ Đức", "Ô Chợ Dừa", "Văn Miếu", "Láng", "Kim Liên")

WARDS, DEPARTMENT_COUNT = 126, 30
WARD_COUNTERS, DEPARTMENT_COUNTERS = 20, 16
WARD_OFFICES, DEPARTMENT_OFFICES = 19, 25  # besides the one-stop office: 3,351 units in all
SPARES = 4  # one-stop officers beyond two per counter: leave, training, rotation


@dataclass(frozen=True)
class Shape:
    """How big each part is: the issue's province by default; tests take a tiny one."""
    wards: int = WARDS
    departments: int = DEPARTMENT_COUNT
    ward_size: tuple[int, int] = (350, 1080)  # officers, drawn per ward (the first: 500)
    first_ward: int = 500
    department_size: tuple[int, int] = (1200, 2800)
    ward_counters: int = WARD_COUNTERS
    department_counters: int = DEPARTMENT_COUNTERS
    ward_offices: int = WARD_OFFICES
    department_offices: int = DEPARTMENT_OFFICES


TINY = Shape(wards=1, departments=1, ward_size=(60, 60), first_ward=60,
             department_size=(40, 40), ward_counters=3, department_counters=2, ward_offices=3,
             department_offices=2)


@dataclass
class Unit:
    id: str
    name: str
    parent_id: str | None
    kind: str
    head_id: str | None = None
    outstanding: int = 0


@dataclass
class Officer:
    id: str
    name: str
    title: str
    unit_id: str
    leader_id: str | None
    post_group: str | None = None
    counter: bool = False  # staffs a counter: rated by citizens
    skill: float = 0.0     # how satisfied citizens tend to be with them, 0–1


@dataclass
class Counter:
    id: str
    label: str
    unit_id: str
    pool: list[str] = field(default_factory=list)  # the one-stop officers who staff it


@dataclass
class Province:
    units: list[Unit]
    officers: list[Officer]
    counters: list[Counter]
    root: str
    # Sample people for the landing pages: (role, login, officer or None, unit)
    accounts: list[tuple[str, str, str | None, str]]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def plan(scale: float, seed: int = 13, shape: Shape = Shape()) -> Province:
    """The province at `scale` (1.0: the issue's 150,000 officers and 3,000 counters)."""
    rng = random.Random(seed)
    wards = max(1, round(shape.wards * scale))
    departments = max(1, round(shape.departments * scale))
    units: list[Unit] = []
    officers: list[Officer] = []
    counters: list[Counter] = []
    serial = iter(range(1, 10**7))

    def person(unit: str, title: str, leader: str | None, **extra) -> Officer:
        officer = Officer(f"CB{next(serial):06d}", _name(rng), title, unit, leader, **extra)
        officers.append(officer)
        return officer

    root = Unit("tp", "UBND Thành phố", None, "city")
    units.append(root)
    chairman = person("tp", "Chủ tịch UBND Thành phố", None)
    root.head_id = chairman.id
    for k in range(4):
        person("tp", "Phó Chủ tịch UBND Thành phố", chairman.id)

    def top_unit(uid: str, name: str, kind: str, size: int, offices: int, n_counters: int,
                 head_title: str) -> None:
        unit = Unit(uid, name, "tp", kind, outstanding=int(rng.random() < 0.1))
        units.append(unit)
        head = person(uid, head_title, None)
        unit.head_id = head.id
        deputies = [person(uid, "Phó " + head_title.split(" ", 1)[1] if " " in head_title
                           else head_title, head.id) for _ in range(2)]
        # The one-stop office: two officers per counter and a few spares, its head leading.
        one_stop = Unit(f"{uid}-1c", f"Bộ phận Một cửa {name}", uid, "office")
        units.append(one_stop)
        lead = person(one_stop.id, "Trưởng bộ phận Một cửa", deputies[0].id)
        one_stop.head_id = lead.id
        pool = [person(one_stop.id, "Chuyên viên Một cửa", lead.id, post_group="Một cửa",
                       counter=True, skill=rng.betavariate(8, 2)).id
                for _ in range(2 * n_counters + SPARES)]
        for c in range(n_counters):
            counters.append(Counter(f"{uid}-q{c + 1:02d}", f"Quầy {c + 1}", one_stop.id, pool))
        left = size - 3 - len(pool) - 1
        # Offices of uneven size (a few large, many small), at least 4 people each.
        weights = [rng.uniform(0.4, 2.2) for _ in range(offices)]
        total = sum(weights)
        for k in range(offices):
            office = Unit(f"{uid}-p{k + 1:02d}", f"{OFFICES[k % len(OFFICES)]}"
                          f"{'' if k < len(OFFICES) else f' {k // len(OFFICES) + 1}'} – {name}",
                          uid, "office")
            units.append(office)
            members = max(4, round(left * weights[k] / total))
            boss = person(office.id, "Trưởng phòng", deputies[k % 2].id)
            office.head_id = boss.id
            for _ in range(members - 1):
                person(office.id, rng.choice(("Chuyên viên", "Chuyên viên chính", "Cán sự",
                                              "Phó Trưởng phòng")), boss.id)

    for d in range(departments):
        name = DEPARTMENTS[d % len(DEPARTMENTS)] + ("" if d < len(DEPARTMENTS)
                                                   else f" (khối {d // len(DEPARTMENTS) + 1})")
        top_unit(f"so{d + 1:02d}", name, "department", rng.randint(*shape.department_size),
                 shape.department_offices, shape.department_counters, "Giám đốc Sở")
    for w in range(wards):
        kind = "ward" if w % 5 < 2 else "commune"
        place = PLACES[w % len(PLACES)] + ("" if w < len(PLACES) else f" {w // len(PLACES) + 1}")
        # About 714 officers on average: a few about 500, some above a thousand.
        size = (shape.first_ward if w == 0 else rng.randint(*shape.ward_size))
        top_unit(f"{'p' if kind == 'ward' else 'x'}{w + 1:03d}",
                 f"UBND {'phường' if kind == 'ward' else 'xã'} {place}", kind, size,
                 shape.ward_offices, shape.ward_counters, "Chủ tịch UBND")
    first_ward = next(u for u in units if u.kind in ("ward", "commune"))
    first_dept = next(u for u in units if u.kind == "department")
    office = next(u for u in units if u.parent_id == first_ward.id and u.id.endswith("-p01"))
    accounts = [("administrator", "quantri.tp", None, root.id),
                ("head", "giamdoc.so01", first_dept.head_id, first_dept.id),
                ("head", "chutich.w001", first_ward.head_id, first_ward.id),
                ("leader", "truongphong.w001", office.head_id, office.id)]
    return Province(units, officers, counters, root.id, accounts)
