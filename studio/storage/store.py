"""``Store``: the history as one object, composed of one ``Database``, the data directory and the
repositories that share them. It holds no query of its own: each public method is a repository's."""

from __future__ import annotations

from pathlib import Path

from studio.domain.errors import StoreError
from studio.storage.database import Database
from studio.storage.exchange_repo import ExchangeRepository
from studio.storage.gallery_repo import GalleryRepository
from studio.storage.generation_repo import GenerationRepository
from studio.storage.notice_repo import NoticeRepository
from studio.storage.organise_repo import OrganiseRepository
from studio.storage.run_repo import RunRepository
from studio.storage.template_repo import TemplateRepository
from studio.storage.trash_repo import TrashRepository

DIRS = ("images", "thumbs", "turns", "quarantine", "backups")


class Store:
    """The history. Thread-safe: every method uses its own short session from a shared pool."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.db_path = self.data_dir / "studio.db"
        try:
            for name in DIRS:
                (self.data_dir / name).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"The studio cannot create its data directory {self.data_dir} ({exc.strerror})."
            ) from exc
        self.db = Database.open(self.db_path)
        self.generations = GenerationRepository(self.db, self.data_dir)
        self.gallery = GalleryRepository(self.db, self.data_dir)
        self.organise = OrganiseRepository(self.db)
        self.trash_bin = TrashRepository(self.db, self.data_dir)
        self.runs = RunRepository(self.db, self.gallery.records)
        self.templates = TemplateRepository(self.db)
        self.notices = NoticeRepository(self.db)
        self.exchange = ExchangeRepository(self.db)
        # Before the repositories existed every caller used these names on Store; they stay, as the
        # repositories' own bound methods (same signatures, checked by mypy).
        g = self.generations
        self.create_pending = g.create_pending
        self.mark_running = g.mark_running
        self.save_success = g.save_success
        self.save_failure = g.save_failure
        self.set_status = g.set_status
        self.interrupt_orphans = g.interrupt_orphans
        self.interrupt_owned = g.interrupt_owned
        self.orphans = g.orphans
        self.adopt_orphans = g.adopt_orphans
        self.get = g.get
        self.model_content = g.model_content
        self.preview = g.preview
        self.active = g.active
        q = self.gallery
        self.page = q.page
        self.count = q.count
        self.records = q.records
        self.facets = q.facets
        self.totals = q.totals
        self.children = q.children
        self.ancestors = q.ancestors
        o = self.organise
        self.set_favourite = o.set_favourite
        self.set_rating = o.set_rating
        self.add_tags = o.add_tags
        self.remove_tag = o.remove_tag
        self.tags = o.tags
        self.create_collection = o.create_collection
        self.rename_collection = o.rename_collection
        self.delete_collection = o.delete_collection
        self.add_to_collection = o.add_to_collection
        self.remove_from_collection = o.remove_from_collection
        self.collections = o.collections
        self.trash = self.trash_bin.trash
        self.restore = self.trash_bin.restore
        self.empty_trash = self.trash_bin.empty_trash

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    def close(self) -> None:
        self.db.close()
