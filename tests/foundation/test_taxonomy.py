from factories.taxonomy import (
    CERTIFICATIONS,
    MATERIALS,
    PROCESSES,
    TOLERANCE_CLASSES,
    Din8580Group,
    materials_for,
    specializations_of,
    tolerance_rank,
)

REQUIRED_PROCESSES = {
    "milling_3axis",
    "milling_5axis",
    "turning",
    "edm",
    "grinding",
    "laser_cutting",
    "plasma_cutting",
    "waterjet_cutting",
    "bending",
    "stamping",
    "deep_drawing",
    "welding_mig",
    "welding_tig",
    "injection_molding",
    "die_casting",
    "sand_casting",
    "forging",
    "extrusion",
    "fdm",
    "sla",
    "sls",
    "mjf",
    "dmls",
    "anodizing",
    "powder_coating",
    "plating",
    "heat_treatment",
    "assembly",
    "pcb_assembly",
}


def test_at_least_twenty_five_processes_including_the_core_set():
    assert len(PROCESSES) >= 25
    assert set(PROCESSES) >= REQUIRED_PROCESSES


def test_every_process_has_a_din8580_group_and_both_labels():
    for code, process in PROCESSES.items():
        assert process.code == code
        assert isinstance(process.group, Din8580Group)
        assert process.en.strip() and process.zh.strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in process.zh), code
        assert set(process.generalizes) <= set(PROCESSES), code


def test_all_six_din8580_groups_are_covered_and_labelled():
    assert {p.group for p in PROCESSES.values()} == set(Din8580Group)
    for group in Din8580Group:
        assert group.iri.startswith("https://")
        assert group.labels["en"] and group.labels["zh"]


def test_five_axis_milling_can_do_three_axis_work():
    assert specializations_of("milling_3axis") == {"milling_3axis", "milling_5axis"}
    assert "milling_5axis" in specializations_of("milling")


def test_materials_and_certifications():
    assert {"aluminium", "steel", "stainless_steel", "titanium", "abs", "pa12"} <= set(MATERIALS)
    assert set(CERTIFICATIONS) == {"ISO9001", "ISO14001", "IATF16949", "AS9100", "ISO13485"}
    assert all(m.kind in {"metal", "polymer", "composite"} for m in materials_for("laser_cutting"))
    assert {m.kind for m in materials_for("injection_molding")} == {"polymer"}


def test_tolerance_classes_are_ordered_finest_first():
    assert (
        tolerance_rank("ISO 2768-f") < tolerance_rank("ISO 2768-m") < tolerance_rank("ISO 2768-c")
    )
    assert len(TOLERANCE_CLASSES) == 4
