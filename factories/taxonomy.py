"""The marketplace's controlled vocabularies: processes, materials, certifications.

Process codes are the `capabilityId` of the factory profile and the `resource` of a
matching problem, so a capacity bucket, a capability and an order line all speak the
same code. Every process belongs to one DIN 8580 main group; the group IRIs follow the
DIN 8580 ontology design pattern referenced by Catena-X `semanticReferences`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Din8580Group(StrEnum):
    """The six main groups of DIN 8580 manufacturing processes."""

    PRIMARY_SHAPING = "1"  # Urformen
    FORMING = "2"  # Umformen
    CUTTING = "3"  # Trennen
    JOINING = "4"  # Fügen
    COATING = "5"  # Beschichten
    CHANGING_MATERIAL_PROPERTIES = "6"  # Stoffeigenschaft ändern

    @property
    def iri(self) -> str:
        return f"https://w3id.org/din8580/MainGroup{self.value}"

    @property
    def labels(self) -> dict[str, str]:
        return DIN8580_LABELS[self]


DIN8580_LABELS: dict[Din8580Group, dict[str, str]] = {
    Din8580Group.PRIMARY_SHAPING: {"en": "Primary shaping", "zh": "原型制造", "de": "Urformen"},
    Din8580Group.FORMING: {"en": "Forming", "zh": "成形", "de": "Umformen"},
    Din8580Group.CUTTING: {"en": "Cutting", "zh": "切削与分离", "de": "Trennen"},
    Din8580Group.JOINING: {"en": "Joining", "zh": "连接", "de": "Fügen"},
    Din8580Group.COATING: {"en": "Coating", "zh": "涂覆", "de": "Beschichten"},
    Din8580Group.CHANGING_MATERIAL_PROPERTIES: {
        "en": "Changing material properties",
        "zh": "改变材料性能",
        "de": "Stoffeigenschaft ändern",
    },
}


@dataclass(frozen=True)
class Process:
    code: str
    group: Din8580Group
    en: str
    zh: str
    generalizes: tuple[str, ...] = ()
    # Which material families the process applies to; empty means any.
    material_kinds: frozenset[str] = field(default_factory=frozenset)

    def label(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


METALS = frozenset({"metal"})
POLYMERS = frozenset({"polymer"})
METALS_AND_POLYMERS = frozenset({"metal", "polymer"})

_G = Din8580Group
PROCESSES: dict[str, Process] = {
    p.code: p
    for p in [
        # Trennen: machining and thermal/abrasive cutting
        Process("milling", _G.CUTTING, "CNC milling", "数控铣削", (), METALS_AND_POLYMERS),
        Process(
            "milling_3axis",
            _G.CUTTING,
            "CNC milling, 3-axis",
            "三轴数控铣削",
            ("milling",),
            METALS_AND_POLYMERS,
        ),
        Process(
            "milling_5axis",
            _G.CUTTING,
            "CNC milling, 5-axis",
            "五轴数控铣削",
            ("milling", "milling_3axis"),
            METALS_AND_POLYMERS,
        ),
        Process("turning", _G.CUTTING, "CNC turning", "数控车削", (), METALS_AND_POLYMERS),
        Process("edm", _G.CUTTING, "Electrical discharge machining", "电火花加工", (), METALS),
        Process("grinding", _G.CUTTING, "Grinding", "磨削", (), METALS),
        Process("laser_cutting", _G.CUTTING, "Laser cutting", "激光切割", (), METALS_AND_POLYMERS),
        Process("plasma_cutting", _G.CUTTING, "Plasma cutting", "等离子切割", (), METALS),
        Process("waterjet_cutting", _G.CUTTING, "Waterjet cutting", "水刀切割"),
        # Umformen: sheet and bulk forming
        Process("bending", _G.FORMING, "Sheet metal bending", "钣金折弯", (), METALS),
        Process("stamping", _G.FORMING, "Stamping", "冲压", (), METALS),
        Process("deep_drawing", _G.FORMING, "Deep drawing", "深拉伸", (), METALS),
        Process("forging", _G.FORMING, "Forging", "锻造", (), METALS),
        Process("extrusion", _G.FORMING, "Extrusion", "挤压", (), METALS_AND_POLYMERS),
        # Urformen: casting, molding, additive manufacturing
        Process(
            "injection_molding", _G.PRIMARY_SHAPING, "Injection molding", "注塑成型", (), POLYMERS
        ),
        Process("die_casting", _G.PRIMARY_SHAPING, "Die casting", "压铸", (), METALS),
        Process("sand_casting", _G.PRIMARY_SHAPING, "Sand casting", "砂型铸造", (), METALS),
        Process("fdm", _G.PRIMARY_SHAPING, "3D printing, FDM", "熔融沉积成型 (FDM)", (), POLYMERS),
        Process("sla", _G.PRIMARY_SHAPING, "3D printing, SLA", "光固化成型 (SLA)", (), POLYMERS),
        Process(
            "sls", _G.PRIMARY_SHAPING, "3D printing, SLS", "选择性激光烧结 (SLS)", (), POLYMERS
        ),
        Process(
            "mjf",
            _G.PRIMARY_SHAPING,
            "3D printing, Multi Jet Fusion",
            "多射流熔融 (MJF)",
            (),
            POLYMERS,
        ),
        Process(
            "dmls",
            _G.PRIMARY_SHAPING,
            "3D printing, metal (DMLS)",
            "金属激光烧结 (DMLS)",
            (),
            METALS,
        ),
        # Fügen
        Process(
            "welding_mig", _G.JOINING, "MIG/MAG welding", "熔化极气体保护焊 (MIG/MAG)", (), METALS
        ),
        Process("welding_tig", _G.JOINING, "TIG welding", "钨极氩弧焊 (TIG)", (), METALS),
        Process("assembly", _G.JOINING, "Mechanical assembly", "机械装配"),
        Process("pcb_assembly", _G.JOINING, "PCB assembly (SMT/THT)", "电路板组装 (SMT/THT)"),
        # Beschichten
        Process("anodizing", _G.COATING, "Anodizing", "阳极氧化", (), METALS),
        Process("powder_coating", _G.COATING, "Powder coating", "粉末喷涂", (), METALS),
        Process("plating", _G.COATING, "Electroplating", "电镀", (), METALS),
        # Stoffeigenschaft ändern
        Process(
            "heat_treatment",
            _G.CHANGING_MATERIAL_PROPERTIES,
            "Heat treatment",
            "热处理",
            (),
            METALS,
        ),
    ]
}


@dataclass(frozen=True)
class Material:
    code: str
    kind: str  # "metal", "polymer", "composite", "other"
    en: str
    zh: str

    def label(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


MATERIALS: dict[str, Material] = {
    m.code: m
    for m in [
        Material("aluminium", "metal", "Aluminium", "铝合金"),
        Material("steel", "metal", "Carbon steel", "碳钢"),
        Material("stainless_steel", "metal", "Stainless steel", "不锈钢"),
        Material("tool_steel", "metal", "Tool steel", "工具钢"),
        Material("titanium", "metal", "Titanium", "钛合金"),
        Material("brass", "metal", "Brass", "黄铜"),
        Material("copper", "metal", "Copper", "铜"),
        Material("cast_iron", "metal", "Cast iron", "铸铁"),
        Material("magnesium", "metal", "Magnesium", "镁合金"),
        Material("zinc", "metal", "Zinc", "锌合金"),
        Material("abs", "polymer", "ABS", "ABS 塑料"),
        Material("pa12", "polymer", "Polyamide (PA12)", "尼龙 (PA12)"),
        Material("pc", "polymer", "Polycarbonate", "聚碳酸酯"),
        Material("pom", "polymer", "POM (acetal)", "聚甲醛 (POM)"),
        Material("pp", "polymer", "Polypropylene", "聚丙烯"),
        Material("peek", "polymer", "PEEK", "聚醚醚酮 (PEEK)"),
        Material("pla", "polymer", "PLA", "聚乳酸 (PLA)"),
        Material("photopolymer_resin", "polymer", "Photopolymer resin", "光敏树脂"),
        Material("cfrp", "composite", "Carbon fibre composite", "碳纤维复合材料"),
        Material("fr4", "composite", "FR-4 laminate", "FR-4 覆铜板"),
    ]
}


@dataclass(frozen=True)
class CertificationType:
    code: str
    en: str
    zh: str


CERTIFICATIONS: dict[str, CertificationType] = {
    c.code: c
    for c in [
        CertificationType("ISO9001", "ISO 9001 quality management", "ISO 9001 质量管理体系"),
        CertificationType(
            "ISO14001", "ISO 14001 environmental management", "ISO 14001 环境管理体系"
        ),
        CertificationType(
            "IATF16949", "IATF 16949 automotive quality", "IATF 16949 汽车质量管理体系"
        ),
        CertificationType("AS9100", "AS9100 aerospace quality", "AS9100 航空航天质量管理体系"),
        CertificationType(
            "ISO13485", "ISO 13485 medical devices", "ISO 13485 医疗器械质量管理体系"
        ),
    ]
}

# ISO 2768-1 general tolerance classes, finest first.
TOLERANCE_CLASSES: tuple[str, ...] = ("ISO 2768-f", "ISO 2768-m", "ISO 2768-c", "ISO 2768-v")


def tolerance_rank(tolerance_class: str) -> int:
    """0 for the finest class; a shop holding rank r can make parts asking rank >= r."""
    return TOLERANCE_CLASSES.index(tolerance_class)


def materials_for(process_code: str) -> list[Material]:
    kinds = PROCESSES[process_code].material_kinds
    return [m for m in MATERIALS.values() if not kinds or m.kind in kinds]


def specializations_of(process_code: str) -> set[str]:
    """Codes that can do the work of `process_code`: itself and every code generalizing to it."""
    return {
        code
        for code, p in PROCESSES.items()
        if code == process_code or process_code in p.generalizes
    }
