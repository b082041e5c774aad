"""Every text of the interface exists in Simplified Chinese, and the catalog compiles."""

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "marketplace/translations/zh/LC_MESSAGES/messages.po"
# N_: service messages (factories.errors.N_), said in the reader's language by the pages.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "N_": None,
}


def extracted_messages() -> set[str]:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS
        )
        if message
    }


def load_catalog() -> Catalog:
    with open(CATALOG, "rb") as f:
        return read_po(f)


def translated(message) -> bool:  # type: ignore[no-untyped-def]
    if message is None or message.fuzzy:
        return False
    return bool(message.string) if isinstance(message.string, str) else all(message.string)


def test_every_interface_text_has_a_chinese_translation():
    catalog = load_catalog()
    missing = sorted(m for m in extracted_messages() if not translated(catalog.get(m)))
    assert missing == [], f"{len(missing)} texts lack a zh translation: {missing[:20]}"


def test_the_chinese_catalog_has_no_errors():
    catalog = load_catalog()
    problems = [(message.id, errors) for message, errors in catalog.check() if errors]
    assert problems == []
    write_mo(io.BytesIO(), catalog)
