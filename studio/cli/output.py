"""Everything the `studio` command prints. The ``--json`` shapes here are a public contract: add keys,
never rename them (tests/service/test_cli_contract.py pins them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from studio.domain.errors import StudioError
from studio.domain.people import LOCAL_EMAIL, ActivityRecord, Person
from studio.domain.requests import SUCCEEDED
from studio.services.archive import CollectReport, GenerationRecord, PackReport, SharedLink
from studio.services.batch import BatchFile, BatchResult
from studio.services.copying import CopyReport
from studio.services.doctor import Report
from studio.services.exchange import ExportReport, ImportReport


def record_json(record: GenerationRecord) -> dict[str, Any]:
    """A generation's public ``--json`` object: the record's own keys plus who made it (``author``: an
    email, "local" without sign-in, null for generations older than team accounts) and ``private``."""
    data = record.to_json()
    data.setdefault("author", getattr(record, "author", None))
    data.setdefault("private", bool(getattr(record, "private", False)))
    return data


def print_record(record: GenerationRecord, *, as_json: bool, out: IO[str] | None = None) -> None:
    """One generation on stdout: the public ``--json`` shape, or a line for people."""
    if as_json:
        print(json.dumps(record_json(record), ensure_ascii=False), file=out, flush=True)
        return
    line = f"#{record.id} {record.status:<11} {record.model}  {record.prompt[:60]!r}"
    author = getattr(record, "author", None)
    if author and author != LOCAL_EMAIL:  # a team studio names who made it; one person's needs no name
        line += f"  by {author}"
    if getattr(record, "private", False):
        line += "  (private)"
    for image in record.images:
        line += f"\n    {image.locator or image.path} ({image.width}x{image.height} {image.mime_type})"
    if record.error_message and record.status != SUCCEEDED:
        line += f"\n    {record.error_message}"
    print(line, file=out, flush=True)


def warn(message: str) -> None:
    """A sentence on stderr (stdout keeps one JSON object per generation)."""
    print(f"studio: {message}", file=sys.stderr, flush=True)


# -- batch ------------------------------------------------------------------------------------------


def print_refused_rows(path: Path, batch: BatchFile) -> None:
    """Each refused row, its line and why."""
    for line, sentence in batch.refused:
        warn(f"{path.name}, line {line}: {sentence}")
    if batch.refused:
        lines = ", ".join(str(line) for line, _ in batch.refused)
        rows = "1 row" if len(batch.refused) == 1 else f"{len(batch.refused)} rows"
        warn(f"{rows} of {path.name} will not run (line {lines}); running the other {len(batch.rows)}.")


def print_resumed(run_id: int, skipped: int, cells: int) -> None:
    warn(f"resuming run {run_id}: {skipped} of {cells} cells already done, not paid again.")


def print_batch_result(result: BatchResult) -> None:
    n = result.refused
    refused = f"; {n} of the file's rows {'was' if n == 1 else 'were'} refused" if n else ""
    warn(f"{result.succeeded} of {result.cells} cells produced an image (run {result.run_id}){refused}.")


# -- doctor -----------------------------------------------------------------------------------------


def print_doctor_report(report: Report, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    print(f"Data directory: {report.data_dir}")
    print(f"Database integrity: {report.integrity}")
    for p in report.problems:
        state = "fixed" if p.fixed else ("to do" if not report.repair else "remains")
        print(f"- [{state}] {p.kind}: {p.detail} → {p.action}")
    if report.backup:
        print(f"Backup written first: {report.backup}")
    if report.advice:
        print(report.advice)
    if report.ok:
        print("Healthy." if not report.problems else f"Repaired {report.repaired} problem(s).")
    elif not report.repair:
        print(
            f"{len(report.problems)} problem(s) found; run `studio doctor --repair` to fix what can be fixed."
        )
    else:
        print(f"{sum(not p.fixed for p in report.problems)} problem(s) remain.")


def print_doctor_failure(exc: StudioError, *, as_json: bool) -> None:
    """The doctor could not even look: still one JSON object with ``--json``."""
    if as_json:
        failure: dict[str, Any] = {
            "ok": False,
            "integrity": "unknown",
            "problems": [{"kind": exc.kind, "detail": exc.message, "action": "none"}],
            "repaired": 0,
            "backup": None,
        }
        print(json.dumps(failure))
    else:
        print(f"studio doctor: {exc}", file=sys.stderr)


# -- export and import ------------------------------------------------------------------------------


def print_export_report(report: ExportReport) -> None:
    print(
        f"Exported {report.generations} generations and {report.images} images to {report.path} "
        f"({report.bytes / 2**20:.1f} MB)."
    )


def print_pack_report(report: PackReport) -> None:
    print(f"Wrote the review pack of “{report.collection}” to {report.path} ({_size(report.bytes)}).")


def print_import_report(report: ImportReport) -> None:
    print(
        f"Imported {report.generations_added} generations ({report.generations_skipped} already here); "
        f"{report.images_added} new images, {report.images_present} already stored."
    )


# -- copy-to ----------------------------------------------------------------------------------------


def copy_progress() -> Callable[[str, int, int], None]:
    """A progress callback for one copy: a line on stderr per tenth of each stage (files, then each table)."""
    shown: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if done >= total or step > shown.get(stage, 0):
            shown[stage] = step
            warn(f"copying {stage}: {done}/{total}")

    return report


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def print_copy_report(report: CopyReport, *, as_json: bool) -> None:
    for failure in report.failures:
        warn(failure)
    if report.failures:
        n = len(report.failures)
        warn(
            f"{n} source file{'s' if n > 1 else ''} failed {'their' if n > 1 else 'its'} check; nothing "
            "was written to the target's history. Restore those files (`studio doctor` shows what else is "
            "wrong), then copy again."
        )
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    if report.failures:
        return
    if report.already_there:
        print(
            f"Nothing to copy: {report.target} already holds everything ({report.verified} files verified)."
        )
        return
    rows, updated = sum(report.rows.values()), sum(report.updated.values())
    changed = f", brought {updated} up to date" if updated else ""
    print(
        f"Copied {rows} rows{changed} and {report.files_copied} files ({_size(report.bytes)}; "
        f"{report.files_present} already there) to {report.target}; {report.verified} files verified."
    )


# -- users ------------------------------------------------------------------------------------------


def _budget(usd: float | None) -> str:
    return "no cap" if usd is None else f"${usd:,.2f} a month"


def person_json(person: Person, spent_usd: float | None = None) -> dict[str, Any]:
    """``studio users list --json``: one object per member (add keys, never rename them)."""
    data: dict[str, Any] = {
        "email": person.email,
        "role": person.role,
        "budget_usd": person.budget_usd,
        "disabled": person.disabled,
        "joined": person.joined,
        "created_at": person.created_at,
    }
    if spent_usd is not None:
        data["spent_usd"] = round(spent_usd, 4)
    return data


def print_person_change(verb: str, person: Person) -> None:
    state = ", disabled" if person.disabled else ""
    budget = "no budget cap" if person.budget_usd is None else f"budget {_budget(person.budget_usd)}"
    print(f"{verb} {person.email}: {person.role}, {budget}{state}.", flush=True)


def print_people(
    people: list[Person], *, as_json: bool, team_mode: bool, spent: dict[str, float] | None = None
) -> None:
    """The members, by email: one JSON array, or a table for people."""
    if as_json:
        rows = [
            person_json(p, (spent or {}).get(p.email, 0.0) if spent is not None else None) for p in people
        ]
        print(json.dumps(rows, ensure_ascii=False), flush=True)
        return
    if not people:
        print("No members yet. Make the first admin: studio users add you@example.com --role admin")
    else:
        width = max(len(p.email) for p in people)
        for p in people:
            state = "disabled" if p.disabled else "enabled"
            if spent is None:
                money = _budget(p.budget_usd)
            elif p.budget_usd is None:
                money = f"${spent.get(p.email, 0.0):,.2f} this month, no cap"
            else:
                money = f"${spent.get(p.email, 0.0):,.2f} of ${p.budget_usd:,.2f} this month"
            print(f"{p.email:<{width}}  {p.role:<8}  {state:<8}  {money}")
    if not team_mode:
        warn(
            "sign-in is off (STUDIO_LOGIN=none): these people are only used once STUDIO_LOGIN is oidc or proxy."
        )


def print_activity(lines: list[ActivityRecord], *, as_json: bool) -> None:
    """``studio users log``: the audit log, newest first."""
    if as_json:
        rows = [
            {
                "id": a.id,
                "at": a.at,
                "actor": a.actor,
                "action": a.action,
                "subject": a.subject,
                "detail": a.detail,
            }
            for a in lines
        ]
        print(json.dumps(rows, ensure_ascii=False), flush=True)
        return
    if not lines:
        print("Nothing in the audit log for that.")
    for a in lines:
        detail = ", ".join(f"{k} {_change(v)}" for k, v in sorted(a.detail.items()))
        when = a.at[:19].replace("T", " ")
        print(f"{when}  {a.actor}  {a.action}  {a.subject}" + (f"  ({detail})" if detail else ""))


def _change(value: Any) -> str:
    """``[old, new]`` as "old → new"; anything else as it is."""
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0]} → {value[1]}"
    return str(value)


# -- collect ----------------------------------------------------------------------------------------


def _generations(n: int) -> str:
    return f"{n} generation{'' if n == 1 else 's'}"


def collect_json(report: CollectReport) -> dict[str, Any]:
    """``studio collect --json`` (add keys, never rename them)."""
    return {
        "collection_id": report.collection_id,
        "collection": report.collection,
        "created": report.created,
        "ids": list(report.ids),
        "added": 0 if report.removed else report.changed,
        "removed": report.changed if report.removed else 0,
        "unchanged": report.unchanged,
        "items": report.items,
    }


def print_collect_report(report: CollectReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(collect_json(report), ensure_ascii=False), flush=True)
        return
    name = f"“{report.collection}”"
    if report.removed:
        line = f"Removed {_generations(report.changed)} from {name}"
        if report.unchanged:
            line += f" ({report.unchanged} {'was' if report.unchanged == 1 else 'were'} not in it)"
    else:
        made = (
            f"Made the collection {name} (#{report.collection_id}) and added " if report.created else "Added "
        )
        line = f"{made}{_generations(report.changed)}" + ("" if report.created else f" to {name}")
        if report.unchanged:
            line += f" ({report.unchanged} {'was' if report.unchanged == 1 else 'were'} already there)"
    print(f"{line}; it holds {_generations(report.items)}.", flush=True)


# -- share ------------------------------------------------------------------------------------------


def link_json(link: SharedLink) -> dict[str, Any]:
    """``studio share --json`` (add keys, never rename them): the URL holds the token, so it is printed
    here and nowhere else."""
    return {
        "url": link.url,
        "expires": link.expires,
        "collection_id": link.collection_id,
        "collection": link.collection,
        "feedback": link.feedback,
        "prompts": link.include_prompts,
    }


def _when(iso: str) -> str:
    """ "2026-12-14 23:11 UTC" from UTC ISO text."""
    return iso[:16].replace("T", " ") + " UTC"


def print_shared_link(link: SharedLink, *, days: int, as_json: bool) -> None:
    if not link.items:
        warn(
            f"“{link.collection}” holds no generations yet: the link shows an empty page until you add some "
            f"(studio collect {link.collection_id} ID...)."
        )
    if as_json:
        print(json.dumps(link_json(link), ensure_ascii=False), flush=True)
        return
    prompts = " with their prompts" if link.include_prompts else ""
    sentence = f"Anyone with this link can see and download the images of “{link.collection}”{prompts} without signing in"
    if link.feedback:
        sentence += ", and approve or comment on them under a name they type"
    span = "1 day" if days == 1 else f"{days} days"
    print(link.url)
    print(
        f"{sentence}, until {_when(link.expires)} ({span}). Stop it sooner: studio share --revoke URL",
        flush=True,
    )


def print_revoked(*, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"revoked": True}), flush=True)
    else:
        print("Revoked: the link no longer opens anything.", flush=True)
