"""``Store``: the history as one object, composed of one ``Database``, the data directory and the
repositories that share them. It holds no query of its own: each public method is a repository's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.domain.errors import StoreError
from studio.domain.records import GenerationRecord
from studio.domain.settings import Settings
from studio.storage.activity_repo import ActivityRepository
from studio.storage.blob_files import StoredFiles
from studio.storage.database import Database, sqlite_file
from studio.storage.draft_repo import DraftRepository
from studio.storage.exchange_repo import ExchangeRepository
from studio.storage.gallery_repo import GalleryRepository
from studio.storage.generation_repo import GenerationRepository
from studio.storage.link_repo import LinkRepository
from studio.storage.notice_repo import NoticeRepository
from studio.storage.organise_repo import OrganiseRepository
from studio.storage.people_repo import PeopleRepository
from studio.storage.review_repo import ReviewRepository
from studio.storage.run_repo import RunRepository
from studio.storage.template_repo import TemplateRepository
from studio.storage.trash_repo import TrashRepository


class HistoryReads:
    """The reads a conversation needs (``domain.conversation.History``), from the repositories that hold them."""

    def __init__(self, generations: GenerationRepository, gallery: GalleryRepository) -> None:
        self._generations, self._gallery = generations, gallery

    def get(self, gen_id: int) -> GenerationRecord | None:
        return self._generations.get(gen_id)

    def children(self, gen_id: int) -> list[GenerationRecord]:
        return self._gallery.children(gen_id)

    def model_content(self, gen_id: int) -> dict[str, Any] | None:
        return self._generations.model_content(gen_id)


DIRS = ("images", "thumbs", "turns", "quarantine", "backups")


class Store:
    """The history. Thread-safe: every method uses its own short session from a shared pool."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        storage_url: str | None = None,
        s3_endpoint_url: str | None = None,
    ) -> None:
        """``data_dir`` holds local caches and the crash journal (and, by default, the SQLite file and the
        images); ``database_url`` and ``storage_url`` move the history and the images elsewhere (team mode)."""
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.db_path = self.data_dir / "studio.db"
        if database_url and database_url.startswith("sqlite"):  # a SQLite file named by URL: the same engine
            self.db_path, database_url = sqlite_file(database_url), None
        self.database_url, self.storage_url, self.s3_endpoint_url = database_url, storage_url, s3_endpoint_url
        try:
            for name in DIRS:
                (self.data_dir / name).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"The studio cannot create its data directory {self.data_dir} ({exc.strerror})."
            ) from exc
        #: Where the files are (``STUDIO_STORAGE_URL``: a folder, default the data directory, or a bucket).
        self.files = StoredFiles.open(storage_url, self.data_dir, s3_endpoint_url)
        self.db = Database.open(self.db_path, database_url)
        self.generations = GenerationRepository(self.db, self.data_dir, self.files)
        self.gallery = GalleryRepository(self.db, self.data_dir, self.files)
        self.organise = OrganiseRepository(self.db)
        self.trash_bin = TrashRepository(self.db, self.data_dir, self.files)
        self.runs = RunRepository(self.db, self.gallery.records)
        self.templates = TemplateRepository(self.db)
        self.notices = NoticeRepository(self.db)
        self.exchange = ExchangeRepository(self.db)
        self.drafts = DraftRepository(self.db, self.data_dir, self.files)
        self.history = HistoryReads(self.generations, self.gallery)
        self.people = PeopleRepository(self.db)  # team members (revision 0003)
        self.activity = ActivityRepository(self.db)  # the audit log
        self.review = ReviewRepository(self.db)  # decisions, comments, read marks (revision 0004)
        self.links = LinkRepository(self.db)  # client links (only their tokens' hashes)

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        """The history the settings name (``STUDIO_DATABASE_URL``, ``STUDIO_STORAGE_URL``, ...)."""
        return cls(
            settings.data_dir,
            database_url=settings.database_url.get() if settings.database_url else None,
            storage_url=settings.storage_url,
            s3_endpoint_url=settings.s3_endpoint_url,
        )

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    def close(self) -> None:
        self.db.close()
