"""Uploaded files (QA reports, dispute evidence), kept on disk under the instance folder.

Only the bytes' own signature decides the type (PDF, PNG, JPEG, plain text or CSV);
the name the browser sent is kept for display only. Files are stored under a random
key with no extension, outside the static folder, and served as attachments. A file
belongs to the transaction that recorded it: if that transaction rolls back (a later
file of the same milestone refused, a conflict), the file is deleted with it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import event
from sqlmodel import Session, col, select
from werkzeug.utils import secure_filename

from factories.errors import N_, Message
from marketplace.accounts.service import Principal
from marketplace.orders.errors import OrderError
from marketplace.orders.models import Dispute, Document, Milestone
from marketplace.orders.settings import MAX_DOCUMENT_BYTES

_WRITTEN_KEY = "factoryweb.documents.written"
MAX_DOCUMENTS = 10
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
    "text/csv": ".csv",
}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def read_upload(
    stream: IO[bytes], filename: str, field: str, limit: int = MAX_DOCUMENT_BYTES
) -> Upload:
    """Read at most `limit` bytes; a bigger file is refused, naming the field."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 2**10} KB"
        raise OrderError(field, N_("a document may have at most %(size)s", size=size))
    if not data:
        raise OrderError(field, N_("the file is empty"))
    return Upload(filename=filename or "document", data=data)


def upload_problems(uploads: Sequence[Upload], field: str) -> list[tuple[str, Message]]:
    """What is wrong with the uploads, every file at once: too many, or a file whose
    content (not its name) is none of the accepted types."""
    problems: list[tuple[str, Message]] = []
    if len(uploads) > MAX_DOCUMENTS:
        problems.append((field, N_("at most %(maximum)s files", maximum=MAX_DOCUMENTS)))
    for i, upload in enumerate(uploads):
        if sniff(upload.data, upload.filename) is None:
            problems.append((f"{field}[{i}]", NOT_ACCEPTED))
    return problems


NOT_ACCEPTED = N_("only PDF, PNG, JPEG, plain text and CSV files are accepted")


def sniff(data: bytes, filename: str) -> str | None:
    """The document's type from its first bytes, or None if it is not one we accept."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return "text/csv" if filename.lower().endswith(".csv") else "text/plain"


def store(
    session: Session,
    folder: Path,
    upload: Upload,
    field: str,
    *,
    order_id: int,
    organization_id: int,
    user_id: int | None,
    milestone_id: int | None = None,
    dispute_id: int | None = None,
) -> Document:
    """Write the file and return its (unsaved) Document row; the file goes away again if
    `session` rolls back."""
    content_type = sniff(upload.data, upload.filename)
    if content_type is None:
        raise OrderError(field, NOT_ACCEPTED)
    name = secure_filename(upload.filename)[:200] or f"document{ALLOWED_TYPES[content_type]}"
    key = secrets.token_hex(16)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / key
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    session.info.setdefault(_WRITTEN_KEY, []).append(path)
    with os.fdopen(descriptor, "wb") as out:
        out.write(upload.data)
    return Document(
        order_id=order_id,
        organization_id=organization_id,
        milestone_id=milestone_id,
        dispute_id=dispute_id,
        filename=name,
        content_type=content_type,
        size_bytes=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        storage_key=key,
        created_by_id=user_id,
    )


def attach(
    session: Session,
    principal: Principal,
    upload_folder: Path,
    uploads: Sequence[Upload],
    field: str,
    *,
    milestone: Milestone | None = None,
    dispute: Dispute | None = None,
) -> None:
    """Store the files on disk and record them for the milestone or the dispute."""
    owner = milestone or dispute
    assert owner is not None
    for i, upload in enumerate(uploads):
        session.add(
            store(
                session,
                upload_folder,
                upload,
                f"{field}[{i}]",
                order_id=owner.order_id,
                organization_id=principal.organization_id,
                user_id=principal.user_id,
                milestone_id=milestone.id if milestone else None,
                dispute_id=dispute.id if dispute else None,
            )
        )


def documents_of(session: Session, order_id: int) -> list[Document]:
    return list(
        session.exec(
            select(Document).where(col(Document.order_id) == order_id).order_by(col(Document.id))
        ).all()
    )


def download_name(document: Document) -> str:
    """`document-12.pdf`: the file name a download gets, whatever was uploaded."""
    return f"document-{document.id}{ALLOWED_TYPES.get(document.content_type, '')}"


def path_of(folder: Path, document: Document) -> Path:
    if not document.storage_key.isalnum():
        raise OrderError("document", "bad storage key")
    return folder / document.storage_key


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(_WRITTEN_KEY, None)


@event.listens_for(Session, "after_rollback")
def _remove_written_files(session: Session) -> None:
    for path in session.info.pop(_WRITTEN_KEY, []):
        path.unlink(missing_ok=True)
